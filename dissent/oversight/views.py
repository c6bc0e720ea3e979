"""The oversight interface: the escalations of one's missions that went up the ladder
(``services/ladder.py``), read-only with their history, and a response that reaches the
adviser like leadership's (``services/leadership.respond``)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from ..extensions import db
from ..models import Escalation
from ..security.identity import current_staff
from ..security.policy import Access, allow
from ..services import audit, confirmation, oversight
from ..services.errors import NotFound
from ..services.verification import SignatureProblem
from ..web.errors import kept_on_outage
from ..web.labels import ESCALATION_PAGE_LABELS
from ..web.response_form import ResponseForm, escalation_page, record_response

bp = Blueprint("oversight", __name__, url_prefix="/oversight")

LABELS = ESCALATION_PAGE_LABELS


@bp.route("/")
@allow(Access.OVERSIGHT)
def index() -> ResponseReturnValue:
    """List the escalations of this member's missions that went up the ladder."""
    staff = current_staff()
    return render_template(
        "oversight/index.html",
        staff=staff,
        lines=oversight.oversight_list(db.session, staff),
        labels=LABELS,
        own_key_waiting=confirmation.awaiting(db.session, staff),
        own_fingerprint=confirmation.fingerprint(staff.recipient) if staff.recipient else "",
    )


def _escalation(slug: str, number: int) -> Escalation:
    try:
        return oversight.escalation_for_oversight(
            db.session, current_staff(), mission_slug=slug.lower(), number=number
        )
    except NotFound:
        abort(404)


def _page(
    escalation: Escalation,
    *,
    response_form: ResponseForm | None = None,
    notice: str = "",
    status: int = 200,
) -> ResponseReturnValue:
    shown = escalation_page(escalation, response_form)
    return render_template(
        "oversight/escalation.html",
        **shown,
        unreadable=SignatureProblem.UNREADABLE,
        reading=oversight.reading(db.session, escalation, current_staff()),
        tampered=any(
            not v.verified and v.problem is not SignatureProblem.UNREADABLE
            for v in shown["versions"]
        ),
        labels=LABELS,
        notice=notice,
    ), status


@bp.route("/e/<slug>/<int:number>")
@allow(Access.OVERSIGHT)
def escalation(slug: str, number: int) -> ResponseReturnValue:
    """Show one escalation that went up the ladder: its versions, leadership's
    acknowledgement and responses, and the steps it took."""
    found = _escalation(slug, number)
    with db.unit():
        audit.record(
            db.session,
            actor=current_staff().username,
            action=audit.Action.ESCALATION_VIEW,
            subject=found.label,
        )
    return _page(found)


@bp.route("/e/<slug>/<int:number>/respond", methods=["POST"])
@allow(Access.OVERSIGHT)
@kept_on_outage(ResponseForm, "text", "record_note")
def respond(slug: str, number: int) -> ResponseReturnValue:
    """Record oversight's response; it reaches the adviser like leadership's."""
    found = _escalation(slug, number)
    refused = record_response(found, _page)
    if refused is not None:
        return refused
    return redirect(
        url_for(
            "oversight.escalation",
            slug=found.mission.slug,
            number=found.ledger_number,
            done="responded",
            _anchor="responses",
        ),
        code=303,
    )
