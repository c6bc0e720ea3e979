"""Public pages: landing, how anonymity works, external channels, language, health."""

from __future__ import annotations

import unicodedata

from flask import (
    Blueprint,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from ..config import Settings
from ..security.policy import Access, allow
from ..web.channels import channels_to_show
from ..web.i18n import LANGUAGES

bp = Blueprint("public", __name__)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["dissent.settings"]
    return settings


@bp.route("/")
@allow(Access.PUBLIC)
def index() -> ResponseReturnValue:
    """What this is, who runs it, how anonymity works, protection, other channels."""
    return render_template("public/index.html", operated_by=_settings().operated_by)


@bp.route("/anonymity")
@allow(Access.PUBLIC)
def anonymity() -> ResponseReturnValue:
    """How anonymity works here, and its limits."""
    return render_template("public/anonymity.html", operated_by=_settings().operated_by)


@bp.route("/after")
@allow(Access.PUBLIC)
def after() -> ResponseReturnValue:
    """What happens after you report."""
    return render_template("public/after.html")


@bp.route("/channels")
@allow(Access.PUBLIC)
def channels() -> ResponseReturnValue:
    """External reporting channels, as the law requires them to be listed."""
    return render_template(
        "public/channels.html", channels=channels_to_show(_settings().external_channels)
    )


def is_safe_return_path(target: str) -> bool:
    """Return whether ``target`` is a path on this site that is safe to redirect to.

    Only a path: it starts with one "/" (not "//", which a browser reads as another
    host), and holds no control character, space or backslash anywhere (a line break
    would end the Location header early, and "/\\" is another host to some browsers).
    """
    return (
        target.startswith("/")
        and target[1:2] != "/"
        and not any(c.isspace() or c == "\\" or unicodedata.category(c) == "Cc" for c in target)
    )


@bp.route("/lang/<code>")
@allow(Access.PUBLIC)
def language(code: str) -> ResponseReturnValue:
    """Switch the interface language and return to the page the visitor was on."""
    target = request.args.get("next", "/")
    if not is_safe_return_path(target):
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
