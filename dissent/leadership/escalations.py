"""Escalations sent to a leader: the list, one escalation, acknowledgement and responses."""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..extensions import db
from ..models import Escalation, ResponseKind, today
from ..security.policy import Access, allow
from ..services import audit, leadership
from ..services.context import current_context
from ..services.errors import InvalidState, NotFound
from ..services.escalation import open_versions
from ..services.leadership import RESPONSE_MAX
from ..staff.identity import current_identity, current_staff
from .blueprint import bp
from .forms import (
    ESCALATION_STATE_LABELS,
    RESPONSE_KIND_LABELS,
    SIGNATURE_PROBLEMS,
    AcknowledgeForm,
    ResponseForm,
)

LABELS = {"state": ESCALATION_STATE_LABELS, "kind": RESPONSE_KIND_LABELS}


@bp.route("/")
@allow(Access.LEADERSHIP)
def index() -> ResponseReturnValue:
    """List the escalations sent to this leader."""
    staff = current_staff()
    return render_template(
        "leadership/index.html",
        staff=staff,
        lines=leadership.leader_list(db.session, staff, on=today()),
        labels=LABELS,
    )


def _escalation(slug: str, number: int) -> Escalation:
    try:
        return leadership.escalation_for_leader(
            db.session, current_staff(), mission_slug=slug.lower(), number=number
        )
    except NotFound:
        abort(404)


def _page(
    escalation: Escalation,
    *,
    ack_form: AcknowledgeForm | None = None,
    response_form: ResponseForm | None = None,
    notice: str = "",
    status: int = 200,
) -> ResponseReturnValue:
    identity = current_identity()
    versions = open_versions(escalation, identity)
    return render_template(
        "leadership/escalation.html",
        escalation=escalation,
        versions=versions,
        tampered=any(not v.verified for v in versions),
        responses=leadership.open_responses(escalation, identity),
        ack_form=ack_form or AcknowledgeForm(),
        response_form=response_form or ResponseForm(),
        response_max=RESPONSE_MAX,
        problems=SIGNATURE_PROBLEMS,
        labels=LABELS,
        notice=notice,
    ), status


@bp.route("/e/<slug>/<int:number>")
@allow(Access.LEADERSHIP)
def escalation(slug: str, number: int) -> ResponseReturnValue:
    """Show one escalation: every signed version with its diff, and the responses."""
    found = _escalation(slug, number)
    audit.record_now(
        db.session,
        actor=current_staff().username,
        action=audit.Action.ESCALATION_VIEW,
        subject=found.label,
    )
    return _page(found)


def _back(found: Escalation, notice: str, anchor: str = "") -> ResponseReturnValue:
    return redirect(
        url_for(
            "leadership.escalation",
            slug=found.mission.slug,
            number=found.ledger_number,
            done=notice,
            _anchor=anchor or None,
        ),
        code=303,
    )


@bp.route("/e/<slug>/<int:number>/acknowledge", methods=["POST"])
@allow(Access.LEADERSHIP)
def acknowledge(slug: str, number: int) -> ResponseReturnValue:
    """Confirm receipt of the escalation."""
    found = _escalation(slug, number)
    form = AcknowledgeForm()
    if not form.validate():
        return _page(found, ack_form=form, status=400)
    try:
        leadership.acknowledge_escalation(db.session, staff=current_staff(), escalation=found)
    except InvalidState:
        return _page(found, notice="already_acknowledged", status=409)
    return _back(found, "acknowledged")


@bp.route("/e/<slug>/<int:number>/respond", methods=["POST"])
@allow(Access.LEADERSHIP)
def respond(slug: str, number: int) -> ResponseReturnValue:
    """Record a response: action taken, action planned (with a date), or declined."""
    found = _escalation(slug, number)
    form = ResponseForm()
    if not form.validate():
        return _page(found, response_form=form, status=400)
    try:
        leadership.respond(
            db.session,
            current_context(),
            staff=current_staff(),
            escalation=found,
            kind=ResponseKind(form.kind.data),
            text=form.text.data or "",
            planned_for=form.planned_day,
        )
    except ValueError:
        # The form checks what the service checks; this is the net under it.
        db.session.rollback()
        form.text.errors = [_("The response could not be recorded as written: check it.")]
        return _page(found, response_form=form, status=400)
    return _back(found, "responded", "responses")
