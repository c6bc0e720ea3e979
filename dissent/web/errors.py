"""Error pages that reveal nothing, in one place."""

from __future__ import annotations

import logging
import traceback

from flask import Flask, render_template
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, InternalServerError

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
}


def _render(code: int) -> tuple[str, int]:
    try:
        return render_template(
            "error.html", code=code, message=MESSAGES.get(code, MESSAGES[400])
        ), code
    except Exception:  # the error page itself failed: answer plainly, reveal nothing
        logger.error("error page for %d could not be rendered", code)
        return "Error\n", code


def register_error_handlers(app: Flask) -> None:
    """Render every HTTP error and any unexpected exception as a neutral page."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        return _render(exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[str, int]:
        # Log the type and where it happened, never the message or locals: either
        # could carry what a source wrote.
        frames = traceback.extract_tb(exc.__traceback__)
        where = " < ".join(
            f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in reversed(frames)
        )
        logger.error("unhandled %s at %s", type(exc).__name__, where)
        return _render(InternalServerError.code)
