"""The adviser's observation page: one place that gathers what it shows."""

from __future__ import annotations

from datetime import date
from typing import Any, NamedTuple

from flask import abort, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..extensions import db
from ..models import Escalation, Observation, ProposalStatus, Role, today
from ..models.observation import REF_LENGTH
from ..security.identity import current_identity, current_staff
from ..services import (
    access,
    attachments,
    confirmation,
    consent,
    conversation,
    inbox,
    ladder,
    leadership,
    names,
    official_record,
    oversight,
    triage,
    verification,
)
from ..services.deadlines import ack_due, feedback_due, response_due
from ..services.errors import NotFound
from ..services.identifiers import flag_identifiers, segments
from ..services.workflow import MANUAL_TRANSITIONS
from ..web.forms import choices_from
from ..web.labels import (
    CATEGORY_LABELS,
    CONSENT_LABELS,
    CONTRADICTION_LABELS,
    ESCALATION_STATE_LABELS,
    FLAG_LABELS,
    PROPOSAL_STATUS_LABELS,
    RECORD_DECISION_LABELS,
    RECORD_OUTCOME_LABELS,
    RESPONSE_KIND_LABELS,
    SEVERITY_LABELS,
    SIGNATURE_PROBLEM_LABELS,
    STATE_LABELS,
    WHEN_LABELS,
)
from .forms import (
    FEEDBACK_PREFIX,
    NOTE_PREFIX,
    AcknowledgeForm,
    FeedbackForm,
    NoteForm,
    ReplyForm,
    StateForm,
    SummaryForm,
    TriageForm,
)


class Deadline(NamedTuple):
    """When leadership must respond to an escalation, and whether that day has passed."""

    day: date
    late: bool


LABELS = {
    "category": CATEGORY_LABELS,
    "when": WHEN_LABELS,
    "contradicts": CONTRADICTION_LABELS,
    "consent": CONSENT_LABELS,
    "severity": SEVERITY_LABELS,
    "state": STATE_LABELS,
    "proposal": PROPOSAL_STATUS_LABELS,
    "escalation": ESCALATION_STATE_LABELS,
    "response": RESPONSE_KIND_LABELS,
    "signature": SIGNATURE_PROBLEM_LABELS,
    "record_decision": RECORD_DECISION_LABELS,
    "record": RECORD_OUTCOME_LABELS,
}


def find_observation(ref: str) -> Observation:
    """Return the observation ``ref`` of one of the adviser's missions, or 404."""
    if len(ref) != REF_LENGTH:
        abort(404)
    try:
        return inbox.observation_for_adviser(db.session, current_staff(), ref.upper())
    except NotFound:
        abort(404)


def prepare_forms(
    observation: Observation,
    forms: dict[str, Any],
    proposals: list[consent.OpenProposal] | None = None,
) -> dict[str, Any]:
    """Return every form of the page, with choices filled in (``proposals``: the
    observation's decrypted proposals, if the caller has them already)."""
    state_form = forms.get("state_form") or StateForm()
    state_form.to_state.choices = choices_from(
        (s.value, STATE_LABELS[s]) for s in MANUAL_TRANSITIONS.get(observation.state, ())
    )
    triage_form = forms.get("triage_form") or TriageForm(
        assignee=str(observation.assigned_to_id or ""),
        severity=observation.severity.value if observation.severity else "",
        category=observation.category.value,
    )
    advisers = triage.mission_staff(db.session, observation.mission_id, Role.ADVISER)
    triage_form.assignee.choices = choices_from(
        [("", "—"), *((str(a.id), a.username) for a in advisers)]
    )
    summary_form = forms.get("summary_form") or SummaryForm()
    if not summary_form.summary.data:
        # Escalating an approved proposal needs its exact text: offer it.
        if proposals is None:
            proposals = consent.proposals_for(db.session, observation, current_identity())
        approved = [p for p in proposals if p.proposal.status is ProposalStatus.APPROVED]
        if approved:
            summary_form.summary.data = approved[0].summary
            # ... with the statement about the official record the source approved.
            summary_form.record_contradicts.data = approved[0].record.contradicts
            summary_form.record_title.data = approved[0].record.title
            summary_form.record_period.data = approved[0].record.period
    leaders = triage.mission_staff(db.session, observation.mission_id, Role.LEADERSHIP)
    # Only leaders whose key an adviser confirmed are chosen for the adviser: an account
    # the operator made and enrolled alone is listed, marked, and never pre-selected.
    confirmed = {
        u.id
        for u in leaders
        if confirmation.is_confirmed(db.session, staff_id=u.id, mission_id=observation.mission_id)
    }
    summary_form.leaders.choices = choices_from(
        (
            u.id,
            u.username if u.id in confirmed else _("%(name)s (key not confirmed)", name=u.username),
        )
        for u in leaders
    )
    if "summary_form" not in forms and confirmed:
        # Ticked on a fresh form only: boxes the adviser unticked stay unticked.
        summary_form.leaders.data = [u.id for u in leaders if u.id in confirmed]
    return {
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "ack_form": forms.get("ack_form") or AcknowledgeForm(),
        "state_form": state_form,
        "triage_form": triage_form,
        "note_form": forms.get("note_form") or NoteForm(prefix=NOTE_PREFIX),
        "summary_form": summary_form,
        "feedback_form": forms.get("feedback_form") or FeedbackForm(prefix=FEEDBACK_PREFIX),
    }


def render_observation(
    observation: Observation,
    *,
    status: int = 200,
    flags_for: str | None = None,
    record: official_record.RecordClaim | None = None,
    revising: Escalation | None = None,
    viewing: bool = False,
    notice: str | None = None,
    **forms: Any,
) -> ResponseReturnValue:
    """Render the observation page; ``flags_for`` is a summary text to show flagged,
    ``record`` the statement about the official record that goes with it.

    ``viewing``: a plain GET of the page, the only render that may write (it asks for
    access when the adviser's key opens nothing here); its caller commits.
    """
    identity = current_identity()
    view = conversation.view_observation(observation, identity, for_staff=True)
    if viewing and not (view.readable and all(m.readable for m in view.messages)):
        # Their colleagues are then asked to grant it (access).
        access.note_unreadable(db.session, current_staff(), observation)
    flags = record_flags = None
    if flags_for is not None:
        listed = names.read_names(db.session, observation.mission_id, identity)
        flags = flag_identifiers(flags_for, names=listed)
        if record is not None and record.contradicts:
            record_flags = flag_identifiers(record.text(), names=listed)
    on = today()
    escalations = [
        (
            e,
            verification.open_versions(e, identity),
            leadership.open_responses(e, identity),
            official_record.outcome(e, on=on),
            official_record.correction_due(e),
            Deadline(response_due(e), leadership.response_late(e, on=on)),
        )
        for e in verification.escalations_of(db.session, observation)
    ]
    proposals = consent.proposals_for(db.session, observation, identity)
    return render_template(
        "adviser/observation.html",
        view=view,
        history=triage.history(db.session, observation, identity),
        proposals=proposals,
        escalations=escalations,
        # Oversight members who cannot open an escalation that went up the ladder (its
        # current version was sealed before their key was confirmed): a new version would
        # include them.
        ladder_unreadable={
            e.id: [p.username for p in oversight.without_current_version(db.session, e)]
            for e, *_rest in escalations
        },
        # Steps past leadership's limit that wait for an oversight member to go to.
        ladder_held={e.id: ladder.held_back(db.session, e, on=on) for e, *_rest in escalations},
        files=attachments.list_attachments(db.session, observation, identity, for_staff=True),
        flags=flags,
        revising=revising,
        # Until the source approved a text, proposing it is what the adviser can do next.
        approved=any(p.proposal.status is ProposalStatus.APPROVED for p in proposals),
        # A summary form that came back (flagged, or refused) stays open even once an
        # escalation was sent, so nothing typed is folded away.
        summary_posted="summary_form" in forms,
        notice=notice,
        flag_segments=segments(flags_for, flags) if flags is not None and flags_for else [],
        record_flags=record_flags,
        record_segments=(
            segments(record.text(), record_flags) if record is not None and record_flags else []
        ),
        flag_labels=FLAG_LABELS,
        ack_due=ack_due(observation, observation.mission),
        feedback_due=feedback_due(observation, observation.mission),
        labels=LABELS,
        **prepare_forms(observation, forms, proposals),
    ), status
