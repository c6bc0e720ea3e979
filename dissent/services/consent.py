"""The source's consent: what may be escalated, and proposals for those who ask first.

With consent "ask me first" the adviser proposes a de-identified summary; it appears
in the source's inbox to approve or decline, and only the exact text approved may be
escalated, with the statement about the official record the source saw with it.
"Never" means no summary goes, whatever the text.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..crypto import DecryptionError, Identity
from ..models import (
    Consent,
    NotificationKind,
    Observation,
    Proposal,
    ProposalStatus,
    StaffUser,
    State,
    today,
)
from . import audit, notifications
from .content import open_document, seal_document
from .context import ServiceContext
from .errors import (
    AlreadyDone,
    ConsentProblem,
    ConsentRefused,
    NotFound,
    ObservationClosed,
    Refused,
    check_text,
)
from .keyring import observation_recipients
from .locks import hold_observation
from .official_record import NO_CONTRADICTION, RecordClaim

SUMMARY_MAX = 10_000


def check_summary(text: str) -> str:
    """Return the summary as it will be signed, or raise :class:`InvalidInput`."""
    return check_text(text, field="summary", limit=SUMMARY_MAX)


def propose(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    observation: Observation,
    summary: str,
    record: RecordClaim = NO_CONTRADICTION,
    seen: int | None = None,
) -> Proposal:
    """Put a proposed summary (and the statement about the official record that goes
    with it) in the source's inbox for approval, withdrawing any other still waiting."""
    hold_observation(session, observation, seen=seen)
    if observation.consent is not Consent.ASK_FIRST:
        raise ConsentRefused(ConsentProblem.NOT_ASKED_FIRST)
    summary = check_summary(summary)
    for pending in session.scalars(
        select(Proposal).where(
            Proposal.observation_id == observation.id, Proposal.status == ProposalStatus.PENDING
        )
    ):
        pending.status = ProposalStatus.WITHDRAWN
    proposal = Proposal(
        observation_id=observation.id,
        adviser_id=staff.id,
        body=seal_document(
            {"summary": summary, "record": record.document()},
            recipients=observation_recipients(session, ctx.settings, observation),
        ),
    )
    session.add(proposal)
    audit.record(
        session, actor=staff.username, action=audit.Action.PROPOSE, subject=observation.ref
    )
    return proposal


def source_decides(
    session: Session,
    *,
    source_id: int,
    proposal_id: int,
    approve: bool,
) -> Proposal:
    """Record the source's approval or refusal of a pending proposal."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None or proposal.observation.source_id != source_id:
        raise NotFound
    # The source's answer and an adviser's new proposal or escalation go one at a time.
    hold_observation(session, proposal.observation, seen=None)
    session.refresh(proposal)
    if proposal.observation.state is State.CLOSED:
        raise ObservationClosed(Refused.DECISION)
    if proposal.status is not ProposalStatus.PENDING:
        raise AlreadyDone(Refused.DECISION)
    proposal.status = ProposalStatus.APPROVED if approve else ProposalStatus.DECLINED
    proposal.decided_on = today()
    notifications.notify(
        session.connection(), NotificationKind.SOURCE_MESSAGE, proposal.observation_id
    )
    return proposal


@dataclass(frozen=True)
class OpenProposal:
    """A proposal with its decrypted text."""

    proposal: Proposal
    summary: str
    readable: bool = True
    # Proposed before advisers stated it: no contradiction.
    record: RecordClaim = NO_CONTRADICTION


def proposals_for(
    session: Session, observation: Observation, identity: Identity
) -> list[OpenProposal]:
    """Return the observation's proposals, newest first, decrypted where possible."""
    out = []
    for proposal in session.scalars(
        select(Proposal)
        .where(Proposal.observation_id == observation.id)
        .order_by(Proposal.id.desc())
    ):
        try:
            document = open_document(proposal.body, identities=[identity])
            record = RecordClaim.from_document(document.get("record")) or NO_CONTRADICTION
            out.append(OpenProposal(proposal, str(document.get("summary", "")), record=record))
        except DecryptionError:
            out.append(OpenProposal(proposal, "", readable=False))
    return out


def check_consent(
    session: Session,
    observation: Observation,
    identity: Identity,
    summary: str,
    record: RecordClaim = NO_CONTRADICTION,
) -> Proposal | None:
    """Return the proposal that approved ``summary`` with ``record`` if the source asked
    to be asked; raise :class:`ConsentRefused` if the summary may not go."""
    if observation.consent is Consent.NEVER:
        raise ConsentRefused(ConsentProblem.NEVER)
    if observation.consent is Consent.ASK_FIRST:
        approved = [
            p
            for p in proposals_for(session, observation, identity)
            if p.proposal.status is ProposalStatus.APPROVED and p.summary == summary
        ]
        for open_proposal in approved:
            if open_proposal.record == record:
                return open_proposal.proposal
        if approved:
            raise ConsentRefused(ConsentProblem.RECORD_NOT_APPROVED)
        raise ConsentRefused(ConsentProblem.NOT_APPROVED)
    return None
