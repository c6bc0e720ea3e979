"""The adviser interface: inbox, one observation, replies, acknowledgement."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..extensions import db
from ..security.policy import Access, allow
from ..services import access, audit, conversation, inbox
from ..services.context import current_context
from ..services.errors import InvalidState, NotFound
from ..source.forms import CATEGORY_LABELS
from ..staff.identity import current_identity, current_staff
from .forms import AcknowledgeForm, GrantForm, ReplyForm
from .page import find_observation, render_observation

bp = Blueprint("adviser", __name__, url_prefix="/adviser")


@bp.route("/")
@allow(Access.ADVISER)
def inbox_view() -> ResponseReturnValue:
    """List the observations of the adviser's missions, overdue and newest first."""
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < len(page) < 6 else 1
    return _inbox_page(number)


def _inbox_page(
    number: int = 1, *, grant_form: GrantForm | None = None, status: int = 200
) -> ResponseReturnValue:
    staff = current_staff()
    data = inbox.adviser_inbox(db.session, staff, page=number)
    return render_template(
        "adviser/inbox.html",
        inbox=data,
        page=number,
        category_labels=CATEGORY_LABELS,
        grants=[
            (g, access.remaining_observations(db.session, g))
            for g in access.grants_to_give(db.session, staff)
        ],
        waiting=access.waiting_for(db.session, staff.id),
        grant_form=grant_form or GrantForm(),
    ), status


@bp.route("/access/<int:grant_id>", methods=["POST"])
@allow(Access.ADVISER)
def grant_access(grant_id: int) -> ResponseReturnValue:
    """Give a colleague access to the mission's earlier files, one bounded step."""
    form = GrantForm()
    if not form.validate():
        return _inbox_page(grant_form=form, status=400)
    try:
        step = access.grant_step(
            db.session,
            current_context(),
            granter=current_staff(),
            identity=current_identity(),
            grant_id=grant_id,
        )
    except NotFound:
        abort(404)
    except InvalidState:
        return _inbox_page(status=409)
    if not step.finished:
        return redirect(url_for("adviser.inbox_view", access="continue", _anchor="access"), 303)
    return redirect(
        url_for("adviser.inbox_view", access="done", unopened=step.unopened),
        303,
    )


@bp.route("/o/<ref>")
@allow(Access.ADVISER)
def observation(ref: str) -> ResponseReturnValue:
    """Decrypt and show one observation with its conversation, history and escalations."""
    found = find_observation(ref)
    audit.record_now(
        db.session, actor=current_staff().username, action=audit.Action.VIEW, subject=found.ref
    )
    return render_observation(found, viewing=True)


@bp.route("/o/<ref>/reply", methods=["POST"])
@allow(Access.ADVISER)
def reply(ref: str) -> ResponseReturnValue:
    """Send a message to the source."""
    found = find_observation(ref)
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
    return render_observation(found, reply_form=form, status=400)


@bp.route("/o/<ref>/acknowledge", methods=["POST"])
@allow(Access.ADVISER)
def acknowledge(ref: str) -> ResponseReturnValue:
    """Acknowledge receipt; the source gets the standard acknowledgement."""
    found = find_observation(ref)
    form = AcknowledgeForm()
    if not form.validate():
        return render_observation(found, ack_form=form, status=400)
    try:
        conversation.acknowledge(
            db.session, current_context(), staff=current_staff(), observation=found
        )
    except InvalidState:
        return render_observation(found, status=409)
    return redirect(url_for("adviser.observation", ref=found.ref, acknowledged=1), code=303)


from . import case_views  # noqa: E402, F401  (registers the triage and escalation routes)
