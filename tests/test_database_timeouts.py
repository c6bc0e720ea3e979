"""Nothing waits on the database without a bound (dissent/database.py).

A frozen or unreachable PostgreSQL must fail a request within seconds, so the user gets
the "try again shortly" page and the server's threads stay free; migrations, which may
rightly run long, are not cut.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from dissent import database
from dissent.database import Watchdog, make_engine
from dissent.migrate import upgrade
from tests.helpers.stores import POSTGRES_URL, postgres_database

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="needs DISSENT_TEST_DATABASE_URL (PostgreSQL; .ci/run sets it)"
)


class Socketish:
    """Stands in for a driver connection: the watchdog needs only its descriptor."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()


def test_the_watchdog_ends_a_call_that_overruns_and_spares_one_that_returns():
    watchdog = Watchdog()
    stuck, peer = socket.socketpair()
    quick, quick_peer = socket.socketpair()
    with stuck, peer, quick, quick_peer:
        with watchdog.deadline(Socketish(quick), 0.2):
            quick_peer.sendall(b"answer")
            assert quick.recv(6) == b"answer"

        started = time.monotonic()
        with watchdog.deadline(Socketish(stuck), 0.2):
            received = stuck.recv(1)  # nobody ever answers: only the watchdog ends this
        waited = time.monotonic() - started

        assert received == b""  # the socket was shut down under the blocked call
        assert 0.15 < waited < 5
        assert watchdog.fired == 1
        quick_peer.sendall(b"still open")
        assert quick.recv(10) == b"still open"


def test_a_server_that_accepts_but_never_answers_fails_the_connection_in_seconds(monkeypatch):
    monkeypatch.setattr(database, "PG_CONNECT_TIMEOUT_S", 2)  # libpq's smallest
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel completes the handshake; nothing ever answers
        port = silent.getsockname()[1]
        engine = make_engine(f"postgresql+psycopg://dissent@127.0.0.1:{port}/dissent")
        started = time.monotonic()
        with pytest.raises(OperationalError):
            engine.connect()
        waited = time.monotonic() - started
        engine.dispose()

    assert waited < database.PG_CONNECT_TIMEOUT_S * 3 + 2  # libpq retries per address


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database of its own."""
    with postgres_database() as url:
        yield url


@needs_postgres
def test_every_postgresql_connection_carries_the_server_side_timeouts(pg_url):
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        shown = {
            name: conn.execute(text(f"SHOW {name}")).scalar()
            for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
        }
    engine.dispose()

    assert shown == {
        "statement_timeout": "8s",
        "lock_timeout": "5s",
        "idle_in_transaction_session_timeout": "1min",
    }


@needs_postgres
def test_a_statement_past_its_deadline_fails_fast_and_the_next_one_works(pg_url, monkeypatch):
    monkeypatch.setattr(database, "PG_CALL_DEADLINE_S", 0.5)
    engine = make_engine(pg_url)
    fired = database.WATCHDOG.fired

    started = time.monotonic()
    with pytest.raises(OperationalError), engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(10)"))
    waited = time.monotonic() - started

    assert waited < 5
    assert database.WATCHDOG.fired == fired + 1
    with engine.connect() as conn:  # the pool replaced the connection
        assert conn.execute(text("SELECT 42")).scalar() == 42
    engine.dispose()


@needs_postgres
def test_a_frozen_database_backend_fails_the_request_instead_of_hanging_it(pg_url, monkeypatch):
    monkeypatch.setattr(database, "PG_CALL_DEADLINE_S", 1.0)
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        try:
            os.kill(pid, signal.SIGSTOP)  # the server process stops; its kernel still talks
        except (PermissionError, ProcessLookupError):
            pytest.skip("the PostgreSQL server is not a process this test may stop")
        try:
            started = time.monotonic()
            with pytest.raises(OperationalError):
                conn.execute(text("SELECT 1"))
            waited = time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
    engine.dispose()

    assert waited < 5


@needs_postgres
def test_a_migration_is_not_cut_by_the_deadline(pg_url, monkeypatch):
    # Every statement of a request must return within the deadline; a schema upgrade
    # runs on a connection marked to run for as long as it needs.
    monkeypatch.setattr(database, "PG_CALL_DEADLINE_S", 0.2)
    engine = make_engine(pg_url)

    upgrade(engine)
    with engine.connect().execution_options(**{database.NO_DEADLINE: True}) as conn:
        conn.execute(text("SELECT pg_sleep(0.6)"))
    with pytest.raises(OperationalError), engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(0.6)"))

    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
    engine.dispose()


def test_the_operations_guide_states_the_timeouts_the_code_has():
    guide = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text()
    guide = " ".join(guide.split())
    idle = database.PG_IDLE_IN_TRANSACTION_TIMEOUT_MS // 1000

    for stated in (
        f"`connect_timeout` {database.PG_CONNECT_TIMEOUT_S} s",
        f"`statement_timeout` {database.PG_STATEMENT_TIMEOUT_MS // 1000} s",
        f"`lock_timeout` {database.PG_LOCK_TIMEOUT_MS // 1000} s",
        f"`idle_in_transaction_session_timeout` {idle} s",
        f"after {database.PG_CALL_DEADLINE_S:.0f} s",
        f"({database.PG_PING_DEADLINE_S:.0f} s for the ping",
        f"at most {database.POOL_TIMEOUT_S} s for a pooled connection",
        f"SQLite waits at most {database.SQLITE_BUSY_TIMEOUT_MS // 1000} s",
    ):
        assert stated in guide, stated


@needs_postgres
def test_a_connection_thrown_away_leaves_no_deadline_to_shut_another_socket(pg_url):
    # A commit's deadline runs until the connection goes back to the pool. One thrown
    # away instead (invalidated after an error) must take its deadline with it: its
    # descriptor number is soon another socket's, which the deadline would then cut.
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        dbapi = conn.connection.dbapi_connection
        conn.commit()
        assert database.WATCHDOG.is_armed(dbapi)  # until it is back in the pool

        conn.invalidate()

    assert not database.WATCHDOG.is_armed(dbapi)
    engine.dispose()
