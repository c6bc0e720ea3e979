"""Extensions, created unbound and attached to an application in ``create_app``."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import Any

from flask import Flask, g
from flask_babel import Babel
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers do not block the writer. secure_delete: deleted rows (sessions,
    # purged records) are overwritten rather than left in free pages.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _create_private(url: str) -> None:
    """Create a new SQLite file readable by its owner only (SQLite copies the mode to
    its -wal and -shm files)."""
    database = make_url(url).database
    if database and database != ":memory:" and not os.path.exists(database):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(url: str) -> Engine:
    """Return an engine for ``url``, with SQLite set up for durability and privacy."""
    if url.startswith("sqlite"):
        _create_private(url)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class Database:
    """One engine per application and one session per application context."""

    def __init__(self) -> None:
        self._factories: dict[int, sessionmaker[Session]] = {}

    def init_app(self, app: Flask, url: str) -> None:
        """Create the engine for ``app`` and close sessions at teardown."""
        engine = make_engine(url)
        app.extensions["dissent.engine"] = engine
        self._factories[id(app)] = sessionmaker(engine, expire_on_commit=False)
        app.teardown_appcontext(self._teardown)

    def engine(self, app: Flask) -> Engine:
        """Return the engine of ``app``."""
        engine: Engine = app.extensions["dissent.engine"]
        return engine

    def transaction(self) -> AbstractContextManager[Connection]:
        """Return a connection in a transaction of its own, committed when the block
        ends without an exception (plain statements, for the hottest paths)."""
        from flask import current_app

        return self.engine(current_app._get_current_object()).begin()  # type: ignore[attr-defined]

    @property
    def session(self) -> Session:
        """Return the session of the current application context."""
        from flask import current_app

        if "db_session" not in g:
            g.db_session = self._factories[id(current_app._get_current_object())]()  # type: ignore[attr-defined]
        session: Session = g.db_session
        return session

    def _teardown(self, _exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


db = Database()
babel = Babel()
