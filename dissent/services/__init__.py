"""The business logic. Services take the database session explicitly, raise named
exceptions (:mod:`dissent.services.errors`) and never commit: the view or command that
calls them commits once (``dissent.extensions.Database.unit``)."""
