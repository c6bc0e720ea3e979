"""The adviser's observation page: one place that gathers what it shows."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import abort, render_template
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from ..attachments.blocks import attachments_block
from ..extensions import db
from ..forms import choices_from
from ..leadership.forms import ESCALATION_STATE_LABELS, RESPONSE_KIND_LABELS
from ..models import Escalation, Observation, ProposalStatus, Role
from ..services import access, conversation, escalation, inbox, leadership, triage
from ..services.deadlines import ack_due, feedback_due
from ..services.errors import NotFound
from ..services.identifiers import FlagKind, flag_identifiers, segments
from ..services.workflow import MANUAL_TRANSITIONS
from ..source.forms import CATEGORY_LABELS, CONSENT_LABELS, CONTRADICTION_LABELS, WHEN_LABELS
from ..staff.identity import current_identity, current_staff
from .forms import (
    FEEDBACK_PREFIX,
    NOTE_PREFIX,
    PROPOSAL_STATUS_LABELS,
    SEVERITY_LABELS,
    STATE_LABELS,
    AcknowledgeForm,
    FeedbackForm,
    NoteForm,
    ReplyForm,
    StateForm,
    SummaryForm,
    TriageForm,
)

REF_LENGTH = 9
FLAG_LABELS = {
    FlagKind.NAME: _l("name on the mission list"),
    FlagKind.RANK: _l("rank"),
    FlagKind.UNIT: _l("unit"),
    FlagKind.DATE: _l("date"),
    FlagKind.PLACE: _l("place"),
    FlagKind.NUMBER: _l("number"),
}


def find_observation(ref: str) -> Observation:
    """Return the observation ``ref`` of one of the adviser's missions, or 404."""
    if len(ref) != REF_LENGTH:
        abort(404)
    try:
        return inbox.observation_for_adviser(db.session, current_staff(), ref.upper())
    except NotFound:
        abort(404)


def text_hash(text: str) -> str:
    """Return the hash the summary editor uses to know which text was checked."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def prepare_forms(
    observation: Observation,
    forms: dict[str, Any],
    proposals: list[escalation.OpenProposal] | None = None,
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
            proposals = escalation.proposals_for(db.session, observation, current_identity())
        approved = [p for p in proposals if p.proposal.status is ProposalStatus.APPROVED]
        if approved:
            summary_form.summary.data = approved[0].summary
    leaders = triage.mission_staff(db.session, observation.mission_id, Role.LEADERSHIP)
    summary_form.leaders.choices = choices_from((u.id, u.username) for u in leaders)
    if not summary_form.leaders.data and leaders:
        summary_form.leaders.data = [u.id for u in leaders]
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
    revising: Escalation | None = None,
    viewing: bool = False,
    **forms: Any,
) -> ResponseReturnValue:
    """Render the observation page; ``flags_for`` is a summary text to show flagged.

    ``viewing``: a plain GET of the page, the only render that may commit (a form's
    error page must never commit what a failed action left in the session).
    """
    identity = current_identity()
    view = conversation.view_observation(observation, identity, for_staff=True)
    if viewing and not (view.readable and all(m.readable for m in view.messages)):
        # Their colleagues are then asked to grant it (access).
        access.note_unreadable(db.session, current_staff(), observation)
    flags = (
        flag_identifiers(
            flags_for, names=escalation.read_names(db.session, observation.mission_id, identity)
        )
        if flags_for is not None
        else None
    )
    escalations = [
        (e, escalation.open_versions(e, identity), leadership.open_responses(e, identity))
        for e in escalation.escalations_of(db.session, observation)
    ]
    proposals = escalation.proposals_for(db.session, observation, identity)
    return render_template(
        "adviser/observation.html",
        view=view,
        history=triage.history(db.session, observation, identity),
        proposals=proposals,
        escalations=escalations,
        attachments_block=attachments_block(observation, identity, for_source=False),
        flags=flags,
        revising=revising,
        flag_segments=segments(flags_for, flags) if flags is not None and flags_for else [],
        flag_labels=FLAG_LABELS,
        ack_due=ack_due(observation, observation.mission),
        feedback_due=feedback_due(observation, observation.mission),
        labels={
            "category": CATEGORY_LABELS,
            "when": WHEN_LABELS,
            "contradicts": CONTRADICTION_LABELS,
            "consent": CONSENT_LABELS,
            "severity": SEVERITY_LABELS,
            "state": STATE_LABELS,
            "proposal": PROPOSAL_STATUS_LABELS,
            "escalation": ESCALATION_STATE_LABELS,
            "response": RESPONSE_KIND_LABELS,
        },
        **prepare_forms(observation, forms, proposals),
    ), status
