"""The business logic. Services take the database session explicitly, own the
transaction, and raise named exceptions (see :mod:`dissent.services.errors`)."""
