"""Schema changes, only through Alembic migrations."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from .database import NO_DEADLINE
from .locations import migrations_dir


def alembic_config() -> Config:
    """Return an Alembic configuration pointing at the shipped migrations."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


class MigrationError(RuntimeError):
    """A migration would leave the database inconsistent; nothing was changed."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision``.

    On SQLite, foreign keys are off while migrations run: a batch migration rebuilds a
    table (copy, drop, rename), and with foreign keys on, dropping the old table deletes
    every row that refers to it through ON DELETE CASCADE (all messages, once). SQLite
    ignores the setting inside a transaction, so it is switched before the migration's
    transaction begins, the references are checked before it commits, and it is
    switched back on before the connection goes back to the pool.
    """
    _migrate(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database behind ``engine`` back to ``revision``, the way
    :func:`upgrade` goes forward (foreign keys off on SQLite, references checked)."""
    _migrate(engine, lambda config: command.downgrade(config, revision))


def _migrate(engine: Engine, step: Callable[[Config], None]) -> None:
    config = alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    # A migration may rightly run long: no client deadline, no statement timeout.
    with engine.connect().execution_options(**{NO_DEADLINE: True}) as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET statement_timeout = 0")
            connection.commit()
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                step(config)
                if sqlite:
                    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if dangling:
                        raise MigrationError(
                            f"the migration would leave {len(dangling)} row(s) referring to "
                            f"rows that do not exist (first in {dangling[0][0]}); nothing "
                            "was changed"
                        )
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
