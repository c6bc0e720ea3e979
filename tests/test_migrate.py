"""Migrations: they build exactly the models' schema, run both ways, and stand alone."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from dissent.database import make_engine
from dissent.locations import migrations_dir
from dissent.migrate import alembic_config, upgrade
from dissent.models import Base
from tests.helpers.stores import POSTGRES_URL

VERSIONS = migrations_dir() / "versions"


@pytest.fixture
def empty_engine(tmp_path) -> Iterator[Engine]:
    """An engine on a brand-new, empty database of the kind this run tests."""
    if not POSTGRES_URL:
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        yield engine
        engine.dispose()
        return
    name = f"dissent_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(POSTGRES_URL).set(database=name).render_as_string(False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def schema_drift(engine: Engine) -> list[object]:
    """Return what autogenerate would add to bring the database in line with the models."""
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database behind ``engine`` down to ``revision``."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def application_tables(engine: Engine) -> set[str]:
    """Return the tables in the database, without Alembic's bookkeeping."""
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_head_matches_the_models(empty_engine):
    """A model change without a migration fails here."""
    upgrade(empty_engine)

    assert application_tables(empty_engine) == set(Base.metadata.tables)
    assert schema_drift(empty_engine) == []


def test_downgrade_to_base_and_upgrade_again(empty_engine):
    upgrade(empty_engine)

    downgrade(empty_engine, "base")
    assert application_tables(empty_engine) == set()

    upgrade(empty_engine)
    assert application_tables(empty_engine) == set(Base.metadata.tables)
    assert schema_drift(empty_engine) == []


def test_migrations_do_not_import_application_code():
    """A migration must keep working when the models it was written against change."""
    migrations = sorted(VERSIONS.glob("*.py"))
    assert any(path.name != "__init__.py" for path in migrations)
    offenders = {
        path.name: match.group(0)
        for path in migrations
        if (match := re.search(r"\bdissent\.[\w.]*", path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def _fill(engine: Engine, table: str, **values: object) -> None:
    """Insert a row into ``table`` as it is at the current revision, with a plain value
    for every required column not given (the test does not know old schemas by heart)."""
    import datetime

    from sqlalchemy import Boolean, Date, DateTime, Integer, LargeBinary, MetaData, Table

    reflected = Table(table, MetaData(), autoload_with=engine)
    row = dict(values)
    for column in reflected.columns:
        if column.name in row or column.nullable or column.primary_key:
            continue
        kind = column.type
        row[column.name] = (
            1
            if isinstance(kind, Integer)
            else False
            if isinstance(kind, Boolean)
            else b"sealed"
            if isinstance(kind, LargeBinary)
            else datetime.datetime(2026, 1, 1)
            if isinstance(kind, DateTime)
            else datetime.date(2026, 1, 1)
            if isinstance(kind, Date)
            else "x"
        )
    with engine.begin() as conn:
        conn.execute(reflected.insert().values(**row))


def test_upgrading_a_database_with_data_keeps_every_row(empty_engine):
    """A SQLite batch migration rebuilds a table; with foreign keys on, dropping the old
    table deleted every row referring to it (ON DELETE CASCADE): messages, for one."""
    upgrade(empty_engine, "0001")
    _fill(empty_engine, "mission", id=1, slug="eupol", name="EUPOL")
    _fill(empty_engine, "source", id=1)
    _fill(
        empty_engine,
        "observation",
        id=1,
        ref="AAAA-BBBB",
        mission_id=1,
        source_id=1,
        category="other",
        state="received",
        consent="ask_first",
    )
    _fill(empty_engine, "message", id=1, observation_id=1, sender="source", kind="message")

    upgrade(empty_engine)

    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM message")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM observation")).scalar() == 1
    assert schema_drift(empty_engine) == []
