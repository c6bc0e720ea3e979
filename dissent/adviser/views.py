"""The adviser interface: inbox and access grants, one observation and its case work
(replies, acknowledgement, triage, notes, summaries, escalation, feedback), the list
of names."""

from __future__ import annotations

from typing import Any, Protocol

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from ..extensions import current_context, db
from ..models import Category, Consent, Observation, Severity, StaffUser, State, today
from ..security.identity import current_identity, current_identity_secret, current_staff
from ..security.policy import Access, allow
from ..services import (
    access,
    audit,
    consent,
    conversation,
    escalation,
    inbox,
    names,
    official_record,
    triage,
)
from ..services.context import ServiceContext
from ..services.errors import (
    ChangedMeanwhile,
    ConsentProblem,
    ConsentRefused,
    GranteeUnavailable,
    InvalidInput,
    InvalidState,
    NotFound,
    ServiceError,
    SigningKeyMismatch,
)
from ..services.official_record import RecordClaim
from ..services.verification import escalations_of, summary_hash
from ..web import keys as web_keys
from ..web.errors import kept_on_outage
from ..web.forms import seen_revision
from ..web.labels import CATEGORY_LABELS, ROLE_LABELS
from ..web.messages import message_for, show_on
from .forms import (
    FEEDBACK_PREFIX,
    NOTE_PREFIX,
    AcknowledgeForm,
    FeedbackForm,
    GrantForm,
    NamesForm,
    NoteForm,
    ReplyForm,
    StateForm,
    SummaryForm,
    TriageForm,
    stated_record,
)
from .page import find_observation, prepare_forms, render_observation

bp = Blueprint("adviser", __name__, url_prefix="/adviser")
# The keyword under which the observation page takes each text form back.
_FORM_NAMES = {ReplyForm: "reply_form", NoteForm: "note_form", FeedbackForm: "feedback_form"}


def checked_hash(text: str, record: RecordClaim) -> str:
    """Return the token of what the adviser saw flagged: the summary's hash, with the
    statement about the official record when it names a report or figure."""
    if not record.contradicts:
        return summary_hash(text)
    return summary_hash(f"{text}\x00{record.sha256()}")


def _back(ref: str, anchor: str) -> ResponseReturnValue:
    return redirect(url_for("adviser.observation", ref=ref, _anchor=anchor), code=303)


# --- the inbox and access grants ----------------------------------------------------------


@bp.route("/")
@allow(Access.ADVISER)
def inbox_view() -> ResponseReturnValue:
    """List the observations of the adviser's missions, overdue and newest first."""
    page = request.args.get("page", "1")
    number = int(page) if page.isdigit() and 0 < len(page) < 6 else 1
    return _inbox_page(number)


def _inbox_page(
    number: int = 1,
    *,
    grant_form: GrantForm | None = None,
    keys: dict[str, Any] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    staff = current_staff()
    data = inbox.adviser_inbox(db.session, staff, page=number)
    return render_template(
        "adviser/inbox.html",
        inbox=data,
        page=number,
        overdue_corrections=[
            (e, official_record.correction_due(e))
            for e in official_record.overdue_corrections(db.session, staff, on=today())
        ],
        category_labels=CATEGORY_LABELS,
        grants=[
            (g, access.remaining_observations(db.session, g))
            for g in access.grants_to_give(db.session, staff)
        ],
        waiting=access.waiting_for(db.session, staff.id),
        grant_form=grant_form or GrantForm(),
        role_labels=ROLE_LABELS,
        **(keys or web_keys.page_context(staff)),
    ), status


@bp.route("/keys/<int:staff_id>/<int:mission_id>", methods=["POST"])
@allow(Access.ADVISER)
def confirm_key(staff_id: int, mission_id: int) -> ResponseReturnValue:
    """Confirm a colleague's key for a mission, by the fingerprint they read out."""
    return web_keys.confirm_view(
        current_staff(),
        staff_id=staff_id,
        mission_id=mission_id,
        page=lambda keys: _inbox_page(keys=keys, status=400),
        done="adviser.inbox_view",
    )


@bp.route("/access/<int:grant_id>", methods=["POST"])
@allow(Access.ADVISER)
def grant_access(grant_id: int) -> ResponseReturnValue:
    """Give a colleague access to the mission's earlier files, one bounded step."""
    form = GrantForm()
    if not form.validate():
        return _inbox_page(grant_form=form, status=400)
    try:
        with db.unit():
            step = access.grant_step(
                db.session,
                current_context(),
                granter=current_staff(),
                identity=current_identity(),
                grant_id=grant_id,
            )
    except NotFound:
        abort(404)
    except GranteeUnavailable:
        return _inbox_page(status=409)
    if not step.finished:
        return redirect(url_for("adviser.inbox_view", access="continue", _anchor="access"), 303)
    return redirect(url_for("adviser.inbox_view", access="done", unopened=step.unopened), 303)


# --- one observation ----------------------------------------------------------------------


@bp.route("/o/<ref>")
@allow(Access.ADVISER)
def observation(ref: str) -> ResponseReturnValue:
    """Decrypt and show one observation with its conversation, history and escalations."""
    found = find_observation(ref)
    with db.unit():
        audit.record(
            db.session, actor=current_staff().username, action=audit.Action.VIEW, subject=found.ref
        )
        return render_observation(found, viewing=True)


class _TextAction(Protocol):
    def __call__(
        self,
        session: Session,
        ctx: ServiceContext,
        *,
        staff: StaffUser,
        observation: Observation,
        text: str,
    ) -> object: ...


def _post_text(ref: str, form: Any, action: _TextAction, *, anchor: str) -> ResponseReturnValue:
    """Run a case action that takes one text (a reply, a note, feedback); on a refusal
    show the page again with the text kept and the reason next to it."""
    found = find_observation(ref)
    if form.validate():
        try:
            with db.unit():
                action(
                    db.session,
                    current_context(),
                    staff=current_staff(),
                    observation=found,
                    text=form.text.data or "",
                )
        except (InvalidState, InvalidInput) as exc:
            show_on(form, exc, field="text")
        else:
            return _back(found.ref, anchor)
    return render_observation(found, status=400, **{_FORM_NAMES[type(form)]: form})


def _changed_meanwhile(
    found: Observation, exc: ChangedMeanwhile, **forms: Any
) -> ResponseReturnValue:
    """Show the case as it stands now, say a colleague changed it, and keep what the
    adviser typed in their form, ready to send again."""
    return render_observation(found, status=409, notice=message_for(exc), **forms)


@bp.route("/o/<ref>/reply", methods=["POST"])
@allow(Access.ADVISER)
@kept_on_outage(ReplyForm, "text")
def reply(ref: str) -> ResponseReturnValue:
    """Send a message to the source."""
    return _post_text(ref, ReplyForm(), conversation.post_adviser_message, anchor="thread")


@bp.route("/o/<ref>/acknowledge", methods=["POST"])
@allow(Access.ADVISER)
def acknowledge(ref: str) -> ResponseReturnValue:
    """Acknowledge receipt; the source gets the standard acknowledgement."""
    found = find_observation(ref)
    form = AcknowledgeForm()
    if not form.validate():
        return render_observation(found, ack_form=form, status=400)
    try:
        with db.unit():
            conversation.acknowledge(
                db.session,
                current_context(),
                staff=current_staff(),
                observation=found,
                seen=seen_revision(),
            )
    except InvalidState as exc:
        return render_observation(found, status=409, notice=message_for(exc))
    return redirect(url_for("adviser.observation", ref=found.ref, acknowledged=1), code=303)


# --- case work ----------------------------------------------------------------------------


@bp.route("/o/<ref>/state", methods=["POST"])
@allow(Access.ADVISER)
def change_state(ref: str) -> ResponseReturnValue:
    """Change the state by hand, with an optional reason."""
    found = find_observation(ref)
    form = StateForm()
    prepare_forms(found, {"state_form": form})
    if form.validate():
        try:
            with db.unit():
                triage.change_state(
                    db.session,
                    current_context(),
                    staff=current_staff(),
                    observation=found,
                    to_state=State(form.to_state.data),
                    reason=form.reason.data or "",
                    seen=seen_revision(),
                )
        except ChangedMeanwhile as exc:
            return _changed_meanwhile(found, exc, state_form=form)
        except InvalidState as exc:
            show_on(form, exc, field="to_state")
        except InvalidInput as exc:
            show_on(form, exc)
        else:
            return _back(found.ref, "history")
    return render_observation(found, state_form=form, status=400)


@bp.route("/o/<ref>/triage", methods=["POST"])
@allow(Access.ADVISER)
def update_triage(ref: str) -> ResponseReturnValue:
    """Save assignment, severity and category, together or not at all."""
    found = find_observation(ref)
    form = TriageForm()
    prepare_forms(found, {"triage_form": form})
    if form.validate():
        staff = current_staff()
        assignee = int(form.assignee.data) if form.assignee.data else None
        severity = Severity(form.severity.data) if form.severity.data else None
        category = Category(form.category.data)
        try:
            with db.unit():
                triage.update_triage(
                    db.session,
                    staff=staff,
                    observation=found,
                    assignee_id=assignee,
                    severity=severity,
                    category=category,
                    seen=seen_revision(),
                )
        except ChangedMeanwhile as exc:
            return _changed_meanwhile(found, exc, triage_form=form)
        except InvalidInput as exc:
            show_on(form, exc)
        else:
            return _back(found.ref, "triage")
    return render_observation(found, triage_form=form, status=400)


@bp.route("/o/<ref>/notes", methods=["POST"])
@allow(Access.ADVISER)
@kept_on_outage(NoteForm, "text", prefix=NOTE_PREFIX)
def add_note(ref: str) -> ResponseReturnValue:
    """Add an internal note."""
    return _post_text(ref, NoteForm(prefix=NOTE_PREFIX), triage.add_note, anchor="history")


@bp.route("/o/<ref>/summary", methods=["POST"])
@allow(Access.ADVISER)
@kept_on_outage(SummaryForm, "summary", "record_title", "record_period")
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
        show_on(form, ConsentRefused(ConsentProblem.NEVER), field="summary")
        return render_observation(found, summary_form=form, status=400)
    try:
        record = stated_record(form)
    except InvalidInput as exc:
        show_on(form, exc)
        return render_observation(found, summary_form=form, status=400)
    if action == "check" or form.checked.data != checked_hash(text, record):
        # Whatever was asked, a text the adviser has not seen flagged is shown flagged
        # first: nothing leaves without that look (the statement about the official
        # record included).
        form.checked.data = checked_hash(text, record)
        return render_observation(found, summary_form=form, flags_for=text, record=record)
    if action not in ("propose", "escalate"):
        abort(400)
    ctx, staff = current_context(), current_staff()
    try:
        with db.unit():
            if action == "propose":
                consent.propose(
                    db.session,
                    ctx,
                    staff=staff,
                    observation=found,
                    summary=text,
                    record=record,
                    seen=seen_revision(),
                )
            else:
                escalation.escalate(
                    db.session,
                    ctx,
                    staff=staff,
                    identity=current_identity(),
                    identity_secret=current_identity_secret(),
                    observation=found,
                    summary=text,
                    leader_ids=list(form.leaders.data or []),
                    record=record,
                    seen=seen_revision(),
                )
    except ChangedMeanwhile as exc:
        return _changed_meanwhile(found, exc, summary_form=form)
    except (ConsentRefused, InvalidState, SigningKeyMismatch) as exc:
        show_on(form, exc, field="summary")
    except InvalidInput as exc:
        show_on(form, exc)
    else:
        return _back(found.ref, "escalation")
    return render_observation(found, summary_form=form, flags_for=text, record=record, status=400)


@bp.route("/o/<ref>/escalations/<int:escalation_id>/revise", methods=["POST"])
@allow(Access.ADVISER)
@kept_on_outage(SummaryForm, "summary", "record_title", "record_period")
def revise(ref: str, escalation_id: int) -> ResponseReturnValue:
    """Add a corrected version of an escalated summary (shown flagged first, like any)."""
    found = find_observation(ref)
    target = next((e for e in escalations_of(db.session, found) if e.id == escalation_id), None)
    if target is None:
        return render_observation(found, status=404)
    form = SummaryForm()
    prepare_forms(found, {"summary_form": form})
    form.leaders.data = form.leaders.data or [u.id for u in target.recipients]
    if not form.validate():
        return render_observation(found, summary_form=form, revising=target, status=400)
    text = (form.summary.data or "").strip()
    try:
        record = stated_record(form)
    except InvalidInput as exc:
        show_on(form, exc)
        return render_observation(found, summary_form=form, revising=target, status=400)
    if form.checked.data != checked_hash(text, record):
        form.checked.data = checked_hash(text, record)
        return render_observation(
            found, summary_form=form, flags_for=text, record=record, revising=target
        )
    try:
        with db.unit():
            escalation.revise(
                db.session,
                current_context(),
                staff=current_staff(),
                identity=current_identity(),
                identity_secret=current_identity_secret(),
                escalation=target,
                summary=text,
                record=record,
                seen=seen_revision(),
            )
    except ChangedMeanwhile as exc:
        return _changed_meanwhile(found, exc, summary_form=form, revising=target)
    except (ConsentRefused, SigningKeyMismatch, InvalidInput) as exc:
        show_on(form, exc, field="summary")
        return render_observation(
            found, summary_form=form, flags_for=text, record=record, revising=target, status=400
        )
    return _back(found.ref, "escalation")


@bp.route("/o/<ref>/feedback", methods=["POST"])
@allow(Access.ADVISER)
@kept_on_outage(FeedbackForm, "text", prefix=FEEDBACK_PREFIX)
def feedback(ref: str) -> ResponseReturnValue:
    """Tell the source what was done; this meets the feedback deadline."""
    return _post_text(
        ref, FeedbackForm(prefix=FEEDBACK_PREFIX), conversation.send_feedback, anchor="thread"
    )


@bp.route("/names/<slug>", methods=["GET", "POST"], endpoint="names")
@allow(Access.ADVISER)
@kept_on_outage(NamesForm, "names")
def names_list(slug: str) -> ResponseReturnValue:
    """Edit the mission's list of names that the summary editor flags."""
    staff = current_staff()
    mission = next((m for m in staff.missions if m.slug == slug), None)
    if mission is None:
        abort(404)
    form = NamesForm()
    if form.validate_on_submit():
        try:
            with db.unit():
                names.save_names(
                    db.session,
                    current_context(),
                    staff=staff,
                    mission_id=mission.id,
                    text=form.names.data or "",
                )
        except ServiceError as exc:
            show_on(form, exc, field="names")
        else:
            return redirect(url_for("adviser.names", slug=slug, saved=1), code=303)
    if not form.is_submitted():
        form.names.data = "\n".join(names.read_names(db.session, mission.id, current_identity()))
    return render_template("adviser/names.html", form=form, mission=mission), (
        400 if form.errors else 200
    )
