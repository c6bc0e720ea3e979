"""Public pages: landing, how anonymity works, external channels, language, health."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..security.policy import Access, allow
from ..web.i18n import LANGUAGES

bp = Blueprint("public", __name__)


@bp.route("/")
@allow(Access.PUBLIC)
def index() -> ResponseReturnValue:
    """What this is, how anonymity works, and the external channels."""
    return render_template("public/index.html")


@bp.route("/anonymity")
@allow(Access.PUBLIC)
def anonymity() -> ResponseReturnValue:
    """How anonymity works here, and its limits."""
    return render_template("public/anonymity.html")


@bp.route("/after")
@allow(Access.PUBLIC)
def after() -> ResponseReturnValue:
    """What happens after you report."""
    return render_template("public/after.html")


@bp.route("/channels")
@allow(Access.PUBLIC)
def channels() -> ResponseReturnValue:
    """External reporting channels, as the law requires them to be listed."""
    return render_template("public/channels.html")


@bp.route("/lang/<code>")
@allow(Access.PUBLIC)
def language(code: str) -> ResponseReturnValue:
    """Switch the interface language and return to the page the visitor was on."""
    target = request.args.get("next", "/")
    parts = urlsplit(target)
    # Only a path on this site: no scheme, no host, and no "//" or "/\\" that a browser
    # would read as another host.
    if parts.scheme or parts.netloc or not target.startswith("/") or target[1:2] in ("/", "\\"):
        target = url_for("public.index")
    response = make_response(redirect(target, code=303))
    if code in LANGUAGES:
        response.set_cookie(
            "lang",
            code,
            max_age=365 * 24 * 3600,
            path="/",
            secure=True,
            httponly=True,
            samesite="Strict",
        )
    return response


@bp.route("/healthz")
@allow(Access.PUBLIC)
def healthz() -> ResponseReturnValue:
    """Liveness: says the process answers, and nothing else."""
    response = make_response("ok\n")
    response.mimetype = "text/plain"
    return response
