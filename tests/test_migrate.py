"""Migrations: they build exactly the models' schema, run both ways, and stand alone."""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from dissent.database import make_engine
from dissent.locations import migrations_dir
from dissent.migrate import downgrade, upgrade
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


def _fill_observation(engine: Engine, *, state: str, consent: str) -> None:
    """Insert mission 1, source 1 and their observation 1 at the current revision."""
    _fill(engine, "mission", id=1, slug="eupol", name="EUPOL")
    _fill(engine, "source", id=1)
    _fill(
        engine,
        "observation",
        id=1,
        ref="AAAA-BBBB",
        mission_id=1,
        source_id=1,
        category="other",
        state=state,
        consent=consent,
    )


def test_upgrading_a_database_with_data_keeps_every_row(empty_engine):
    """A SQLite batch migration rebuilds a table; with foreign keys on, dropping the old
    table deleted every row referring to it (ON DELETE CASCADE): messages, for one."""
    upgrade(empty_engine, "0001")
    _fill_observation(empty_engine, state="received", consent="ask_first")
    _fill(empty_engine, "message", id=1, observation_id=1, sender="source", kind="message")

    upgrade(empty_engine)

    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM message")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM observation")).scalar() == 1
    assert schema_drift(empty_engine) == []


def test_random_row_ids_keep_each_conversation_in_order_both_ways(empty_engine):
    """0006: messages and files get random ids and keep their order in a position; a file
    the audit ledger names keeps its id; downgrading numbers them in that order again."""
    upgrade(empty_engine, "0005")
    _fill(empty_engine, "mission", id=1, slug="eupol", name="EUPOL")
    _fill(empty_engine, "source", id=1)
    for observation_id, ref in ((1, "AAAA-BBBB"), (2, "CCCC-DDDD")):
        _fill(
            empty_engine,
            "observation",
            id=observation_id,
            ref=ref,
            mission_id=1,
            source_id=1,
            category="other",
            state="received",
            consent="ask_first",
            submit_token_hash=bytes([observation_id]) * 32,
        )
    # Interleaved, as a sequence numbered them: 1, 3, 4 in the first thread; 2, 5 in the second.
    for message_id, observation_id in ((1, 1), (2, 2), (3, 1), (4, 1), (5, 2)):
        _fill(empty_engine, "message", id=message_id, observation_id=observation_id)
    for attachment_id in (1, 2, 3):
        _fill(
            empty_engine,
            "attachment",
            id=attachment_id,
            observation_id=1,
            blob_name=f"blob{attachment_id}",
            sender="source",
        )
    _fill(empty_engine, "audit_entry", seq=1, action="attachment_download", subject="AAAA-BBBB/2")

    upgrade(empty_engine, "0006")

    def rows(table: str) -> list[tuple[int, int, int]]:
        with empty_engine.connect() as conn:
            found = conn.execute(
                text(f"SELECT id, observation_id, position FROM {table} ORDER BY id")
            )
            return [tuple(row) for row in found]

    messages = rows("message")
    assert sorted((o, p) for _, o, p in messages) == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
    assert not {i for i, _, _ in messages} & {1, 2, 3, 4, 5}
    assert all(0 < i < 2**63 for i, _, _ in messages)
    files = rows("attachment")
    assert 2 in {i for i, _, _ in files}  # the ledger's "AAAA-BBBB/2" still names it
    assert not {i for i, _, _ in files} & {1, 3}
    assert sorted(p for _, _, p in files) == [1, 2, 3]
    with empty_engine.begin() as conn:  # a new row needs no id from a sequence
        conn.execute(
            text(
                "INSERT INTO message (id, observation_id, position, sender, kind, sent_on, body)"
                " VALUES (:id, 2, 3, 'source', 'message', :day, :body)"
            ),
            {"id": 2**63 - 1, "day": datetime.date(2026, 1, 2), "body": b"sealed"},
        )

    downgrade(empty_engine, "0005")

    with empty_engine.connect() as conn:
        ordered = conn.execute(text("SELECT id, observation_id FROM message ORDER BY id")).all()
    assert [tuple(row) for row in ordered] == [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2)]
    _fill(empty_engine, "message", observation_id=1)  # numbered by the database again
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT max(id) FROM message")).scalar() == 7


def test_official_record_columns_leave_earlier_versions_as_they_were_both_ways(empty_engine):
    """0008: a version and a response from before keep their rows, with no statement and
    no decision; downgrading drops only the new columns."""
    upgrade(empty_engine, "0007")
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
        state="escalated",
        consent="ask_first",
        submit_token_hash=b"\x01" * 32,
    )
    _fill(empty_engine, "staff_user", id=1, username="adviser", role="adviser")
    _fill(empty_engine, "escalation", id=1, mission_id=1, observation_id=1, state="responded")
    _fill(empty_engine, "escalation_version", id=1, escalation_id=1, author_id=1)
    _fill(empty_engine, "response", id=1, escalation_id=1, responder_id=1, kind="action_taken")

    upgrade(empty_engine, "0008")

    with empty_engine.connect() as conn:
        assert conn.execute(
            text("SELECT contradicts_record, record_sha256 FROM escalation_version")
        ).all() == [(None, None)]
        assert conn.execute(text("SELECT record_decision, correction_due FROM response")).all() == [
            (None, None)
        ]
        conn.execute(
            text("UPDATE response SET record_decision = 'correction_planned', correction_due = :d"),
            {"d": datetime.date(2026, 7, 1)},
        )
        conn.commit()

    downgrade(empty_engine, "0007")

    columns = {c["name"] for c in inspect(empty_engine).get_columns("response")}
    assert "record_decision" not in columns and "correction_due" not in columns
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM escalation_version")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM response")).scalar() == 1


def test_the_ladder_migration_gives_missions_the_default_limits_and_goes_back(empty_engine):
    upgrade(empty_engine, "0011")
    _fill_observation(empty_engine, state="escalated", consent="summary_allowed")
    # Sent late on the last day of January: the months end on the last of April.
    _fill(
        empty_engine,
        "escalation",
        id=1,
        mission_id=1,
        observation_id=1,
        ledger_number=1,
        state="sent",
        created_at=datetime.datetime(2026, 1, 31, 23, 30),
    )

    upgrade(empty_engine, "0012")
    with empty_engine.connect() as conn:
        limits = conn.execute(
            text("SELECT ladder_ack_days, ladder_response_months FROM mission")
        ).one()
        days = conn.execute(
            text("SELECT ladder_ack_due, ladder_response_due FROM escalation")
        ).one()
    downgrade(empty_engine, "0011")

    assert tuple(limits) == (14, 3)
    # Fixed on the escalation as the mission's limits gave them (2026-02-14, 2026-04-30).
    assert [str(day)[:10] for day in days] == ["2026-02-14", "2026-04-30"]
    assert "ladder_step" not in application_tables(empty_engine)
    columns = {c["name"] for c in inspect(empty_engine).get_columns("escalation")}
    assert "ladder_ack_due" not in columns and "ladder_response_due" not in columns
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM mission")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM escalation")).scalar() == 1
