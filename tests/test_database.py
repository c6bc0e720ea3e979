"""make_engine: SQLite files private to their owner, durable, with foreign keys enforced."""

from __future__ import annotations

import os
import stat

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from dissent.database import SQLITE_BUSY_TIMEOUT_MS, make_engine

# These make their own SQLite files whatever the test database is.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    yield engine
    engine.dispose()


def pragma(engine, name: str):
    with engine.connect() as conn:
        return conn.execute(text(f"PRAGMA {name}")).scalar()


def test_a_new_database_file_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "new.sqlite3"

    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_an_existing_database_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'kept.sqlite3'}"
    first = make_engine(url)
    with first.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (42)"))
    first.dispose()

    again = make_engine(url)
    with again.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 42
    again.dispose()


def test_every_connection_is_set_up_for_durability_and_privacy(engine):
    assert pragma(engine, "journal_mode") == "wal"
    assert pragma(engine, "secure_delete") == 1
    assert pragma(engine, "foreign_keys") == 1
    assert pragma(engine, "busy_timeout") == SQLITE_BUSY_TIMEOUT_MS == 5000
    assert pragma(engine, "synchronous") == 2  # FULL


def test_a_row_pointing_at_a_missing_parent_is_refused(engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id))"))

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO child VALUES (7)"))


def test_deleting_a_parent_cascades_where_the_schema_says_so(engine):
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        conn.execute(
            text("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE)")
        )
        conn.execute(text("INSERT INTO parent VALUES (1)"))
        conn.execute(text("INSERT INTO child VALUES (1)"))

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM parent"))

    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM child")).scalar() == 0


def test_an_in_memory_database_creates_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    engine = make_engine("sqlite:///:memory:")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()

    assert list(tmp_path.iterdir()) == []
