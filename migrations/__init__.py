"""Alembic migrations, installed as dissent.migrations."""
