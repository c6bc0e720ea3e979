"""Error pages that reveal nothing, and the one log line each error gets, in one place.

Every error takes the same way out, wherever it is raised: in a view, while the session
is saved after it, or in the request's clean-up. It is logged as one line with its type,
where it happened and an error id, never its message (a database error's message holds
the statement and its parameters, and either may carry what a source wrote), and the
visitor sees a neutral page with the same id, so an operator can match a report to the
log line. A session store that cannot be reached is "busy, try again" (503), and the page
shows back what the visitor had typed into the form, so nothing is lost.
"""

from __future__ import annotations

import errno
import logging
import secrets
import sqlite3
import sys
import traceback
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy.exc
from flask import (
    Flask,
    Response,
    current_app,
    has_request_context,
    render_template,
    request,
    url_for,
)
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from wtforms import Field

from ..security.policy import SessionEnded
from ..security.session_store import SessionStoreUnavailable
from ..security.sessions import ServerSession

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger("dissent")

MESSAGES = {
    400: _l("The request could not be understood. Go back and try again."),
    403: _l("You do not have access to this page."),
    404: _l("There is no page here."),
    405: _l("This page cannot be used that way."),
    413: _l("What you sent is larger than this form accepts."),
    429: _l("Too many attempts. Wait a little and try again."),
    500: _l(
        "Something went wrong on our side. Nothing you sent was lost if you saw a confirmation."
    ),
    503: _l(
        "The service is busy for a moment. Nothing you typed was stored yet. Copy your text "
        "before you go back; try again in a few minutes."
    ),
    507: _l(
        "The server is out of space, so nothing you sent was stored. Copy your text before "
        "you go back; try again later."
    ),
}
INSUFFICIENT_STORAGE = 507
# SQLite's result codes (the low byte of the extended code): another writer held the
# lock past the busy timeout; the disk is full.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_FULL = 5, 6, 13
# PostgreSQL's SQLSTATE for a full disk.
_PG_DISK_FULL = "53100"

# What a busy page asks browsers and proxies to wait before trying again, in seconds.
RETRY_AFTER_S = 120
# An error id is this many random bytes, as hex: enough to tell a day's errors apart.
ERROR_ID_BYTES = 4
# How many causes of an exception the log line names (a wrapped store error, say).
_CAUSES_NAMED = 3
_KEPT_FIELDS = "_dissent_kept_on_outage"
# The environ key under which a response that must reach the visitor waits while the
# request is cleaned up (see ErrorPagesFlask.wsgi_app).
_MUST_DELIVER = "dissent.must_deliver"

F = TypeVar("F", bound=Callable[..., Any])


# --- the log line ----------------------------------------------------------------------------


def _kind(exc: BaseException) -> str:
    names = [type(exc).__name__]
    cause = exc.__cause__
    while cause is not None and len(names) <= _CAUSES_NAMED:
        names.append(type(cause).__name__)
        cause = cause.__cause__
    return names[0] + "".join(f" (from {name})" for name in names[1:])


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return " < ".join(
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames)
    )


def report(exc: BaseException, *, survived: bool = False) -> str:
    """Log ``exc`` as one line (its type, its causes' types, where it was raised, a new
    error id) and return the id; never its message or locals.

    ``survived`` marks an error the response outlived (a page that reports a committed
    result went out although the session could not be saved): a warning, not an error.
    """
    error_id = secrets.token_hex(ERROR_ID_BYTES)
    if survived:
        logger.warning("survived %s at %s (error id %s)", _kind(exc), _where(exc), error_id)
    else:
        logger.error("unhandled %s at %s (error id %s)", _kind(exc), _where(exc), error_id)
    return error_id


# --- what the busy page shows back -------------------------------------------------------------


def kept_on_outage(form: type[FlaskForm], *fields: str, prefix: str = "") -> Callable[[F], F]:
    """Mark a view whose posted ``fields`` of ``form`` (made with ``prefix``) the busy
    page and the "session ended" page show back.

    If the session store is down when the form arrives, or the session has ended, the
    visitor's text is echoed into that page (only there: it is neither stored nor
    logged, and the page is never cached) to copy and send later. Name only what a
    person typed: never a password, a codename or a token.
    """

    def decorate(view: F) -> F:
        setattr(view, _KEPT_FIELDS, (form, fields, prefix))
        return view

    return decorate


def _typed_fields() -> list[Field]:
    """Return the fields of the posted form its view keeps on an outage, with the text
    the visitor typed (empty ones left out)."""
    if request.method != "POST" or request.endpoint is None:
        return []
    view = current_app.view_functions.get(request.endpoint)
    kept: tuple[type[FlaskForm], tuple[str, ...], str] | None = getattr(view, _KEPT_FIELDS, None)
    if kept is None:
        return []
    form_class, names, prefix = kept
    try:
        # No CSRF check and no session: the form is only read back, never acted on.
        form = form_class(formdata=request.form, prefix=prefix, meta={"csrf": False})
    except Exception:  # an unreadable body: nothing to show back
        return []
    return [form[name] for name in names if str(form[name].data or "").strip()]


# --- the pages -----------------------------------------------------------------------------------


def _render(
    code: int,
    *,
    error_id: str | None = None,
    typed: Iterable[Field] = (),
    message: str | None = None,
    login_url: str | None = None,
) -> tuple[str, int, dict[str, str]]:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if code == ServiceUnavailable.code else {}
    try:
        page = render_template(
            "error.html",
            code=code,
            message=message or MESSAGES.get(code, MESSAGES[400]),
            error_id=error_id,
            typed=list(typed),
            login_url=login_url,
        )
    except Exception:  # the error page itself failed: answer plainly, reveal nothing
        logger.error("error page for %d could not be rendered", code)
        page = "Error\n" if error_id is None else f"Error {error_id}\n"
    return page, code, headers


def _driver_error(exc: BaseException) -> BaseException | None:
    return exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else None


def out_of_space(exc: BaseException) -> bool:
    """Return whether ``exc`` says the disk under the database or the files is full."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    orig = _driver_error(exc)
    if isinstance(orig, sqlite3.Error):
        return (getattr(orig, "sqlite_errorcode", 0) & 0xFF) == _SQLITE_FULL
    return getattr(orig, "sqlstate", None) == _PG_DISK_FULL


def unavailable(exc: BaseException) -> bool:
    """Return whether ``exc`` means a store did not answer (in time): the session store,
    the rate limits' Redis, or the database (unreachable, cut off by a deadline, a lock
    held past its timeout, no pooled connection free)."""
    if isinstance(exc, SessionStoreUnavailable) or _error_of(exc, "redis", "RedisError"):
        return True
    if isinstance(exc, sqlalchemy.exc.TimeoutError | sqlalchemy.exc.DisconnectionError):
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    orig = _driver_error(exc)
    if isinstance(orig, sqlite3.OperationalError):
        return (getattr(orig, "sqlite_errorcode", 0) & 0xFF) in (_SQLITE_BUSY, _SQLITE_LOCKED)
    # psycopg's OperationalError: the connection failed or a server timeout fired (a
    # missing table or a bad statement is a ProgrammingError: our fault, a 500).
    return _error_of(orig, "psycopg", "OperationalError")


def _error_of(exc: BaseException | None, module: str, name: str) -> bool:
    """Return whether ``exc`` is the driver ``module``'s error ``name``, without importing
    the driver: one never loaded raised nothing (and psycopg and redis together cost every
    process about 16 MiB it may never need; docs/performance.md)."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(exc, getattr(loaded, name))


def status_for(exc: BaseException) -> int:
    """Return the status of the page for an unexpected ``exc``."""
    if out_of_space(exc):
        return INSUFFICIENT_STORAGE
    if unavailable(exc):
        return ServiceUnavailable.code
    return InternalServerError.code


def error_page(exc: Exception) -> ResponseReturnValue:
    """Return the page for ``exc``: its own for an HTTP error; "busy" (with what was
    typed) for a session store outage; otherwise "something went wrong". Both of the
    latter are logged and carry the error id."""
    if isinstance(exc, SessionEnded):
        return _session_ended(exc)
    if isinstance(exc, HTTPException):
        return _render(exc.code or InternalServerError.code)
    error_id = report(exc)
    code = status_for(exc)
    if code == InternalServerError.code:
        return _render(code, error_id=error_id)
    # Nothing was stored: show back what was typed, to be sent again later.
    return _render(code, error_id=error_id, typed=_typed_fields())


def _session_ended(exc: SessionEnded) -> tuple[str, int, dict[str, str]]:
    """Return the page for a form sent after its session ended: nothing was done, here
    is what was typed (the fields its view keeps, never a password or codename)."""
    settings = current_app.extensions["dissent.settings"]
    staff = exc.login_endpoint.startswith("staff.")
    minutes = settings.staff_idle_minutes if staff else settings.source_idle_minutes
    typed = _typed_fields()
    if typed:
        message = ngettext(
            "Your session ended after %(num)d minute without activity, so nothing was saved. "
            "What you typed is below: copy it, log in again, and paste it into the form.",
            "Your session ended after %(num)d minutes without activity, so nothing was saved. "
            "What you typed is below: copy it, log in again, and paste it into the form.",
            minutes,
        )
    else:
        message = ngettext(
            "Your session ended after %(num)d minute without activity, so nothing was done "
            "and nothing was saved. Log in again and try once more.",
            "Your session ended after %(num)d minutes without activity, so nothing was done "
            "and nothing was saved. Log in again and try once more.",
            minutes,
        )
    return _render(
        exc.code or 401, typed=typed, message=message, login_url=url_for(exc.login_endpoint)
    )


def register_error_handlers(app: Flask) -> None:
    """Render every HTTP error and any unexpected exception in a view as a neutral page."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        return error_page(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        return error_page(exc)


# --- errors after the view and in clean-up -------------------------------------------------------


def _server_session() -> ServerSession | None:
    if not has_request_context():
        return None
    session = request_ctx.session
    return session if isinstance(session, ServerSession) else None


class _HeldStart:
    """A WSGI ``start_response`` that holds the status and headers until the request
    has been cleaned up, so that a failing clean-up can still answer with a page."""

    def __init__(self) -> None:
        self.held: tuple[Any, ...] | None = None

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.held = (status, headers, exc_info)
        return self._write

    @staticmethod
    def _write(_data: bytes) -> None:
        # Flask answers through the response body; nothing calls the legacy write().
        raise NotImplementedError("write() is not supported; return the body instead")


class ErrorPagesFlask(Flask):
    """Flask, with every error answered by :func:`error_page` and logged by :func:`report`.

    Flask hands an error raised after the view (while the session is saved, or in an
    after-request hook) to ``handle_exception``, which logs it with its message and
    traceback and, in tests, re-raises it; an error in a teardown function escapes to
    the WSGI server, which answers with its own bare page. Here both get the neutral
    page and the one log line.
    """

    def finalize_request(
        self, rv: ResponseReturnValue | HTTPException, from_error_handler: bool = False
    ) -> Response:
        """Make, process and return the response; an error while processing it (saving
        the session, say) gives the error page instead."""
        try:
            response = super().finalize_request(rv)
        except Exception as exc:
            return self._error_response(exc)
        session = _server_session()
        if session is not None:
            if session.unsaved is not None:
                report(session.unsaved, survived=True)
            if session.unsaved_allowed:
                request.environ[_MUST_DELIVER] = response
        return response

    def handle_exception(self, e: Exception) -> Response:
        """Answer an error that no error handler took with the error page."""
        return self._error_response(e)

    def _error_response(self, exc: Exception) -> Response:
        session = _server_session()
        if session is not None:
            session.discard()  # its save failed, or would fail the same way again
        response = self.make_response(error_page(exc))
        try:
            return self.process_response(response)  # the security headers, above all
        except Exception as again:
            report(again)
            return response

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer the request; if cleaning it up fails, answer with the error page."""
        held = _HeldStart()
        try:
            body = super().wsgi_app(environ, held)
        except Exception as exc:  # raised by a teardown function, after the response was made
            delivered: Response | None = environ.pop(_MUST_DELIVER, None)
            if delivered is not None:
                # It reports a committed result (a new codename): it must reach the visitor.
                report(exc, survived=True)
                return delivered(environ, start_response)
            return self._cleanup_error_page(exc, environ)(environ, start_response)
        environ.pop(_MUST_DELIVER, None)
        assert held.held is not None
        start_response(*held.held)
        return body

    def _cleanup_error_page(self, exc: Exception, environ: WSGIEnvironment) -> Response:
        # The request's context is gone; the page is rendered in a new one for the same
        # request (the body was read already: nothing typed can be shown back).
        error_id = report(exc)
        code = status_for(exc)
        response = self.response_class(f"Error {error_id}\n", code, mimetype="text/plain")
        ctx = self.request_context(environ)
        try:
            ctx.push()
            response = self.make_response(_render(code, error_id=error_id))
            response = self.process_response(response)  # the security headers
        except Exception as again:  # the plain page above says enough
            report(again)
        finally:
            with suppress(Exception):  # the same clean-up failing again: reported above
                ctx.pop()
        return response
