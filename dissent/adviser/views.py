"""The adviser interface: inbox, one observation, replies, acknowledgement."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..extensions import db
from ..models import Observation
from ..security.policy import Access, allow
from ..services import audit, conversation, inbox
from ..services.context import current_context
from ..services.deadlines import ack_due, feedback_due
from ..services.errors import InvalidState, NotFound
from ..source.forms import CATEGORY_LABELS, CONSENT_LABELS, CONTRADICTION_LABELS, WHEN_LABELS
from ..staff.identity import current_identity, current_staff
from .forms import AcknowledgeForm, ReplyForm

bp = Blueprint("adviser", __name__, url_prefix="/adviser")
REF_PATTERN_LENGTH = 9


@bp.route("/")
@allow(Access.ADVISER)
def inbox_view() -> ResponseReturnValue:
    """List the observations of the adviser's missions, overdue and newest first."""
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < len(page) < 6 else 1
    data = inbox.adviser_inbox(db.session, current_staff(), page=number)
    return render_template(
        "adviser/inbox.html", inbox=data, page=number, category_labels=CATEGORY_LABELS
    )


def _observation(ref: str) -> Observation:
    if len(ref) != REF_PATTERN_LENGTH:
        abort(404)
    try:
        return inbox.observation_for_adviser(db.session, current_staff(), ref.upper())
    except NotFound:
        abort(404)


def _page(
    observation: Observation,
    *,
    reply_form: ReplyForm | None = None,
    ack_form: AcknowledgeForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    view = conversation.view_observation(observation, current_identity(), for_staff=True)
    return render_template(
        "adviser/observation.html",
        view=view,
        reply_form=reply_form or ReplyForm(),
        ack_form=ack_form or AcknowledgeForm(),
        ack_due=ack_due(observation, observation.mission),
        feedback_due=feedback_due(observation, observation.mission),
        labels={
            "category": CATEGORY_LABELS,
            "when": WHEN_LABELS,
            "contradicts": CONTRADICTION_LABELS,
            "consent": CONSENT_LABELS,
        },
    ), status


@bp.route("/o/<ref>")
@allow(Access.ADVISER)
def observation(ref: str) -> ResponseReturnValue:
    """Decrypt and show one observation with its conversation."""
    found = _observation(ref)
    audit.record_now(
        db.session, actor=current_staff().username, action=audit.Action.VIEW, subject=found.ref
    )
    return _page(found)


@bp.route("/o/<ref>/reply", methods=["POST"])
@allow(Access.ADVISER)
def reply(ref: str) -> ResponseReturnValue:
    """Send a message to the source."""
    found = _observation(ref)
    form = ReplyForm()
    if form.validate():
        conversation.post_adviser_message(
            db.session,
            current_context(),
            staff=current_staff(),
            observation=found,
            text=form.text.data or "",
        )
        return redirect(url_for("adviser.observation", ref=found.ref, _anchor="thread"), code=303)
    return _page(found, reply_form=form, status=400)


@bp.route("/o/<ref>/acknowledge", methods=["POST"])
@allow(Access.ADVISER)
def acknowledge(ref: str) -> ResponseReturnValue:
    """Acknowledge receipt; the source gets the standard acknowledgement."""
    found = _observation(ref)
    form = AcknowledgeForm()
    if not form.validate():
        return _page(found, ack_form=form, status=400)
    try:
        conversation.acknowledge(
            db.session, current_context(), staff=current_staff(), observation=found
        )
    except InvalidState:
        return _page(found, status=409)
    return redirect(url_for("adviser.observation", ref=found.ref, acknowledged=1), code=303)
