"""Database engines: SQLite set up for durability and privacy, PostgreSQL with timeouts.

Nothing waits on the database without a bound. A request that cannot get its answer in
time fails with a database error, which the error pages show as "try again shortly",
instead of holding a server thread (and, once all are held, every page) indefinitely.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, make_url

# SQLite: how long a writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 5_000
# PostgreSQL, enforced by the server: a statement, a wait for a row lock, and a
# transaction left open by a client that went away.
PG_STATEMENT_TIMEOUT_MS = 8_000
PG_LOCK_TIMEOUT_MS = 5_000
PG_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000
# PostgreSQL, enforced here: establishing a connection (libpq's connect_timeout) ...
PG_CONNECT_TIMEOUT_S = 5
# ... and any one statement, commit or ping. A server that is frozen (stopped, swapping,
# its disk hung) enforces nothing itself, and its kernel still acknowledges every packet,
# so neither the timeouts above nor TCP keepalives fire: a watchdog thread ends a call
# that has not returned by its deadline by shutting the connection's socket.
PG_CALL_DEADLINE_S = 10.0
PG_PING_DEADLINE_S = 3.0
# Pooled connections: how long a request waits for a free one.
POOL_TIMEOUT_S = 5
# An execution option: statements on a connection carrying it have no client deadline
# (schema migrations, which may rightly take long).
NO_DEADLINE = "dissent_no_deadline"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers do not block the writer. secure_delete: deleted rows (sessions,
    # purged records) are overwritten rather than left in free pages.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _create_private(url: str) -> None:
    """Create a new SQLite file readable by its owner only (SQLite copies the mode to
    its -wal and -shm files)."""
    database = make_url(url).database
    if database and database != ":memory:" and not os.path.exists(database):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class Watchdog:
    """Ends database calls that overrun their deadline, from one background thread.

    ``arm`` before a call and ``disarm`` after it; a call still running at its deadline
    has its socket shut down, so the blocked thread gets a connection error at once
    (and the pool replaces the connection).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every deadline and the thread (a forked child has neither)."""
        self._wake = threading.Condition()
        self._heap: list[tuple[float, int, int]] = []  # (deadline, ticket, fd)
        self._armed: dict[int, int] = {}  # id of the DBAPI connection -> ticket
        self._tickets = itertools.count()
        self._thread: threading.Thread | None = None
        self.fired = 0

    def arm(self, dbapi_connection: Any, seconds: float) -> None:
        """Give the call about to run on ``dbapi_connection`` ``seconds`` to return."""
        fd = dbapi_connection.fileno()
        with self._wake:
            ticket = next(self._tickets)
            self._armed[id(dbapi_connection)] = ticket
            heapq.heappush(self._heap, (time.monotonic() + seconds, ticket, fd))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="dissent-db-watchdog", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def disarm(self, dbapi_connection: Any) -> None:
        """The call on ``dbapi_connection`` returned (or failed) in time."""
        with self._wake:
            self._armed.pop(id(dbapi_connection), None)

    def is_armed(self, dbapi_connection: Any) -> bool:
        """Return whether a call on ``dbapi_connection`` has a deadline running."""
        with self._wake:
            return id(dbapi_connection) in self._armed

    @contextlib.contextmanager
    def deadline(self, dbapi_connection: Any, seconds: float) -> Iterator[None]:
        """Run the block as one call with a deadline."""
        self.arm(dbapi_connection, seconds)
        try:
            yield
        finally:
            self.disarm(dbapi_connection)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap:
                    self._wake.wait()
                deadline, ticket, fd = self._heap[0]
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._wake.wait(delay)
                    continue
                heapq.heappop(self._heap)
                if ticket not in self._armed.values():
                    continue  # that call returned in time
                self._armed = {k: v for k, v in self._armed.items() if v != ticket}
                self.fired += 1
                _shut(fd)


def _shut(fd: int) -> None:
    # A duplicate of the descriptor, so closing it here leaves the driver's own
    # descriptor for the driver to close; shutdown acts on the shared socket.
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as sock:
        sock.shutdown(socket.SHUT_RDWR)


WATCHDOG = Watchdog()
# gunicorn forks its workers from a master that may have used the database (serve checks
# the schema first): a child starts with a fresh watchdog, not a lock its parent's
# thread might have held at the fork and a thread that does not exist in the child.
os.register_at_fork(after_in_child=WATCHDOG.reset)


def _deadline_for(conn: Any) -> float | None:
    return None if conn.get_execution_options().get(NO_DEADLINE) else PG_CALL_DEADLINE_S


def _watch_postgres(engine: Engine, watchdog: Watchdog) -> None:
    """Put every statement, commit, rollback and checkout ping under ``watchdog``."""

    def before_execute(conn: Any, *_: Any) -> None:
        seconds = _deadline_for(conn)
        if seconds is not None:
            watchdog.arm(conn.connection.dbapi_connection, seconds)

    def after_execute(conn: Any, *_: Any) -> None:
        watchdog.disarm(conn.connection.dbapi_connection)

    def on_error(context: Any) -> None:
        if context.connection is not None and not context.connection.invalidated:
            with contextlib.suppress(Exception):
                watchdog.disarm(context.connection.connection.dbapi_connection)

    def before_end(conn: Any) -> None:
        # Armed until the connection goes back to the pool (the end of the request's
        # transaction) or its next statement re-arms it.
        seconds = _deadline_for(conn)
        if seconds is not None and not conn.invalidated:
            watchdog.arm(conn.connection.dbapi_connection, seconds)

    def checked_in(dbapi_connection: Any, *_: Any) -> None:
        # Also when the pool closes or throws away a connection (after an error, say):
        # its descriptor number may soon belong to another socket, which a deadline
        # left armed would then shut.
        watchdog.disarm(dbapi_connection)

    def ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # A pool's own pre-ping has no deadline: against a frozen server it would hang
        # the request before any statement. Raising DisconnectionError makes the pool
        # throw the connection away and try a new one (which connect_timeout bounds).
        try:
            with watchdog.deadline(dbapi_connection, PG_PING_DEADLINE_S):
                cursor = dbapi_connection.cursor()
                cursor.execute("SELECT 1")
                cursor.close()
                dbapi_connection.rollback()
        except Exception as error:  # the driver's own error type, whatever it is
            raise exc.DisconnectionError(type(error).__name__) from error

    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "after_cursor_execute", after_execute)
    event.listen(engine, "handle_error", on_error)
    event.listen(engine, "commit", before_end)
    event.listen(engine, "rollback", before_end)
    for done in ("checkin", "invalidate", "soft_invalidate", "close", "close_detached"):
        event.listen(engine, done, checked_in)
    event.listen(engine, "checkout", ping)


def postgres_connect_args() -> dict[str, Any]:
    """Return the libpq settings every PostgreSQL connection of dissent is made with."""
    options = (
        f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS} "
        f"-c lock_timeout={PG_LOCK_TIMEOUT_MS} "
        f"-c idle_in_transaction_session_timeout={PG_IDLE_IN_TRANSACTION_TIMEOUT_MS}"
    )
    return {
        "connect_timeout": PG_CONNECT_TIMEOUT_S,
        "options": options,
        # A peer that vanishes from the network (not merely frozen) is noticed by TCP.
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": int(PG_CALL_DEADLINE_S * 1000),
    }


def make_engine(url: str) -> Engine:
    """Return an engine for ``url``: SQLite set up for durability and privacy,
    PostgreSQL with every wait bounded."""
    if url.startswith("sqlite"):
        _create_private(url)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, connect_args=postgres_connect_args(), pool_timeout=POOL_TIMEOUT_S)
    _watch_postgres(engine, WATCHDOG)
    return engine
