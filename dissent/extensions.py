"""What ``create_app`` attaches to an application and views reach through it: the
database session of the request, Babel, and the services' context."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from flask_babel import Babel
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .database import make_engine
from .services.context import ServiceContext
from .services.errors import ServiceError


class Database:
    """One engine per application and one session, with one transaction, per request."""

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

    @property
    def session(self) -> Session:
        """Return the session of the current application context."""
        if "db_session" not in g:
            g.db_session = self._factories[id(current_app._get_current_object())]()  # type: ignore[attr-defined]
        session: Session = g.db_session
        return session

    @contextmanager
    def unit(self) -> Iterator[Session]:
        """Run the block as the request's one transaction: committed when it ends,
        rolled back (and the exception passed on) when it raises.

        Services take the session and never commit; the view (or command) that calls
        them commits once, here, so a failure half-way leaves nothing half-done and
        the page that reports it shows nothing the failed action left behind. A
        refusal that is itself a record (a failed login is audited) says so with
        ``keep_changes`` and is committed before it passes on.
        """
        session = self.session
        try:
            yield session
        except ServiceError as exc:
            if exc.keep_changes:
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise
        try:
            session.commit()
        except BaseException:
            session.rollback()
            raise

    def _teardown(self, _exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def install_context(app: Flask, context: ServiceContext) -> None:
    """Make ``context`` the services' context of ``app``."""
    app.extensions["dissent.context"] = context


def current_context() -> ServiceContext:
    """Return the services' context of the current application."""
    ctx: ServiceContext = current_app.extensions["dissent.context"]
    return ctx


db = Database()
babel = Babel()
