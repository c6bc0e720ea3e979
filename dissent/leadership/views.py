"""The leadership interface: escalations (built with the escalation workflow)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from ..security.policy import Access, allow
from ..staff.identity import current_staff

bp = Blueprint("leadership", __name__, url_prefix="/leadership")


@bp.route("/")
@allow(Access.LEADERSHIP)
def index() -> ResponseReturnValue:
    """List escalations for the leader's missions."""
    return render_template("leadership/index.html", staff=current_staff(), escalations=[])
