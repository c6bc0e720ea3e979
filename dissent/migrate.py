"""Schema changes, only through Alembic migrations (DESIGN §5)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from .app import _package_dir


def alembic_config() -> Config:
    """Return an Alembic configuration pointing at the shipped migrations."""
    config = Config()
    config.set_main_option("script_location", _package_dir("migrations"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision``."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
