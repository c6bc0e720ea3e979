"""Triage, notes, summaries, escalation and feedback: the adviser's case work."""

from __future__ import annotations

import base64

from flask import redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..extensions import db
from ..models import Category, Consent, Severity, State
from ..security.policy import Access, allow
from ..services import conversation, escalation, triage
from ..services.context import current_context
from ..services.errors import InvalidState, NotFound
from ..staff.identity import current_identity, current_staff
from .forms import (
    FEEDBACK_PREFIX,
    NOTE_PREFIX,
    FeedbackForm,
    NamesForm,
    NoteForm,
    StateForm,
    SummaryForm,
    TriageForm,
)
from .page import find_observation, prepare_forms, render_observation, text_hash
from .views import bp


def _back(ref: str, anchor: str) -> ResponseReturnValue:
    return redirect(url_for("adviser.observation", ref=ref, _anchor=anchor), code=303)


@bp.route("/o/<ref>/state", methods=["POST"])
@allow(Access.ADVISER)
def change_state(ref: str) -> ResponseReturnValue:
    """Change the state by hand, with an optional reason."""
    found = find_observation(ref)
    form = StateForm()
    prepare_forms(found, {"state_form": form})
    if form.validate():
        try:
            triage.change_state(
                db.session,
                current_context(),
                staff=current_staff(),
                observation=found,
                to_state=State(form.to_state.data),
                reason=form.reason.data or "",
            )
        except InvalidState:
            form.to_state.errors = [_("That change is not possible from the current state.")]
        else:
            return _back(found.ref, "history")
    return render_observation(found, state_form=form, status=400)


@bp.route("/o/<ref>/triage", methods=["POST"])
@allow(Access.ADVISER)
def update_triage(ref: str) -> ResponseReturnValue:
    """Save assignment, severity and category."""
    found = find_observation(ref)
    form = TriageForm()
    prepare_forms(found, {"triage_form": form})
    if form.validate():
        staff = current_staff()
        try:
            assignee = int(form.assignee.data) if form.assignee.data else None
            if assignee != found.assigned_to_id:
                triage.assign(db.session, staff=staff, observation=found, assignee_id=assignee)
            severity = Severity(form.severity.data) if form.severity.data else None
            if severity != found.severity:
                triage.set_severity(db.session, staff=staff, observation=found, severity=severity)
            category = Category(form.category.data)
            if category != found.category:
                triage.correct_category(
                    db.session, staff=staff, observation=found, category=category
                )
        except NotFound:
            form.assignee.errors = [_("Choose an adviser of this mission.")]
        else:
            return _back(found.ref, "triage")
    return render_observation(found, triage_form=form, status=400)


@bp.route("/o/<ref>/notes", methods=["POST"])
@allow(Access.ADVISER)
def add_note(ref: str) -> ResponseReturnValue:
    """Add an internal note."""
    found = find_observation(ref)
    form = NoteForm(prefix=NOTE_PREFIX)
    if form.validate():
        triage.add_note(
            db.session,
            current_context(),
            staff=current_staff(),
            observation=found,
            text=form.text.data or "",
        )
        return _back(found.ref, "history")
    return render_observation(found, note_form=form, status=400)


@bp.route("/o/<ref>/summary", methods=["POST"])
@allow(Access.ADVISER)
def summary(ref: str) -> ResponseReturnValue:
    """Check a summary for identifiers, propose it to the source, or escalate it."""
    found = find_observation(ref)
    form = SummaryForm()
    prepare_forms(found, {"summary_form": form})
    if not form.validate():
        return render_observation(found, summary_form=form, status=400)
    text = (form.summary.data or "").strip()
    action = form.action.data or "check"
    if found.consent is Consent.NEVER:
        form.summary.errors = [_consent_message("does not consent")]
        return render_observation(found, summary_form=form, status=400)
    if action == "check" or form.checked.data != text_hash(text):
        # Whatever was asked, a text the adviser has not seen flagged is shown flagged
        # first: nothing leaves without that look.
        form.checked.data = text_hash(text)
        return render_observation(found, summary_form=form, flags_for=text)
    ctx, staff, identity = current_context(), current_staff(), current_identity()
    try:
        if action == "propose":
            escalation.propose(db.session, ctx, staff=staff, observation=found, summary=text)
            return _back(found.ref, "escalation")
        if action == "escalate":
            escalation.escalate(
                db.session,
                ctx,
                staff=staff,
                identity=identity,
                identity_secret=base64.b64decode(session["identity"]),
                observation=found,
                summary=text,
                leader_ids=list(form.leaders.data or []),
            )
            return _back(found.ref, "escalation")
        form.action.errors = [_("Unknown action.")]
    except escalation.ConsentRefused as exc:
        form.summary.errors = [_consent_message(str(exc))]
    except InvalidState:
        form.summary.errors = [_("Acknowledge the observation before escalating it.")]
    except ValueError:
        form.leaders.errors = [_("Choose at least one leader of this mission.")]
    return render_observation(found, summary_form=form, flags_for=text, status=400)


def _consent_message(reason: str) -> str:
    if "does not consent" in reason:
        return str(
            _(
                "The source chose never to have this escalated. "
                "You can still talk with them and give advice."
            )
        )
    if "not approved" in reason:
        return str(
            _(
                "The source asked to approve the summary first: propose this exact text, "
                "and escalate it once they have approved it."
            )
        )
    return str(_("Proposals are only for sources who asked to approve the summary first."))


@bp.route("/o/<ref>/escalations/<int:escalation_id>/revise", methods=["POST"])
@allow(Access.ADVISER)
def revise(ref: str, escalation_id: int) -> ResponseReturnValue:
    """Add a corrected version of an escalated summary (shown flagged first, like any)."""
    found = find_observation(ref)
    target = next(
        (e for e in escalation.escalations_of(db.session, found) if e.id == escalation_id), None
    )
    if target is None:
        return render_observation(found, status=404)
    form = SummaryForm()
    prepare_forms(found, {"summary_form": form})
    form.leaders.data = form.leaders.data or [u.id for u in target.recipients]
    if not form.validate():
        return render_observation(found, summary_form=form, revising=target, status=400)
    text = (form.summary.data or "").strip()
    if form.checked.data != text_hash(text):
        form.checked.data = text_hash(text)
        return render_observation(found, summary_form=form, flags_for=text, revising=target)
    try:
        escalation.revise(
            db.session,
            current_context(),
            staff=current_staff(),
            identity=current_identity(),
            identity_secret=base64.b64decode(session["identity"]),
            escalation=target,
            summary=text,
        )
    except escalation.ConsentRefused as exc:
        form.summary.errors = [_consent_message(str(exc))]
        return render_observation(
            found, summary_form=form, flags_for=text, revising=target, status=400
        )
    return _back(found.ref, "escalation")


@bp.route("/o/<ref>/feedback", methods=["POST"])
@allow(Access.ADVISER)
def feedback(ref: str) -> ResponseReturnValue:
    """Tell the source what was done; this meets the feedback deadline."""
    found = find_observation(ref)
    form = FeedbackForm(prefix=FEEDBACK_PREFIX)
    if form.validate():
        try:
            conversation.send_feedback(
                db.session,
                current_context(),
                staff=current_staff(),
                observation=found,
                text=form.text.data or "",
            )
        except InvalidState:
            form.text.errors = [_("Acknowledge the observation before giving feedback.")]
        else:
            return _back(found.ref, "thread")
    return render_observation(found, feedback_form=form, status=400)


@bp.route("/names/<slug>", methods=["GET", "POST"])
@allow(Access.ADVISER)
def names(slug: str) -> ResponseReturnValue:
    """Edit the mission's list of names that the summary editor flags."""
    staff = current_staff()
    mission = next((m for m in staff.missions if m.slug == slug), None)
    if mission is None:
        return render_template("error.html", code=404, message=_("There is no page here.")), 404
    form = NamesForm()
    if form.validate_on_submit():
        escalation.save_names(
            db.session,
            current_context(),
            staff=staff,
            mission_id=mission.id,
            text=form.names.data or "",
        )
        return redirect(url_for("adviser.names", slug=slug, saved=1), code=303)
    if not form.is_submitted():
        form.names.data = "\n".join(
            escalation.read_names(db.session, mission.id, current_identity())
        )
    return render_template("adviser/names.html", form=form, mission=mission), (
        400 if form.errors else 200
    )
