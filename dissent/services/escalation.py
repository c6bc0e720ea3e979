"""Escalation: a signed summary reaches leadership under a ledger number, unsoftened.

A sent summary is immutable. A correction is a new, separately signed version; the
earlier ones stay as they were (reading and checking them: ``verification``).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..crypto import Identity, signing_key_from_secret
from ..models import (
    Escalation,
    EscalationVersion,
    Message,
    MessageKind,
    NotificationKind,
    Observation,
    ProposalStatus,
    Role,
    Sender,
    StaffUser,
    State,
    today,
    utcnow,
)
from . import audit, notifications
from .consent import check_consent, check_summary
from .content import seal_document
from .context import ServiceContext
from .conversation import next_position
from .deadlines import ladder_limits
from .errors import InvalidInput, Problem, SigningKeyMismatch
from .keyring import escalation_recipients, observation_recipients
from .locks import hold_observation, lock_mission
from .official_record import NO_CONTRADICTION, RecordClaim
from .triage import mission_staff, record_transition
from .verification import SIGNATURE_PURPOSE, open_versions, signed_message, summary_hash
from .workflow import action_target, check_action

# The notice the source gets in their thread; stored as a marker and shown in the
# reader's language.
ESCALATION_NOTICE_MARKER = "escalated"


def _add_version(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    identity_secret: bytes,
    escalation: Escalation,
    summary: str,
    record: RecordClaim,
    version: int,
) -> EscalationVersion:
    key = signing_key_from_secret(identity_secret)
    if staff.verify_key != key.verify_key.to_text():
        raise SigningKeyMismatch
    digest = summary_hash(summary)
    message = signed_message(
        mission_slug=escalation.mission.slug,
        ledger_number=escalation.ledger_number,
        version=version,
        sha256_hex=digest,
        contradicts_record=record.contradicts,
        record_sha256=record.sha256(),
    )
    observation = escalation.observation
    body = seal_document(
        {"summary": summary, "record": record.document()},
        recipients=escalation_recipients(
            session,
            ctx.settings,
            mission_id=observation.mission_id,
            source_recipient=observation.source.recipient,
            leaders=escalation.recipients,
        ),
    )
    entry = EscalationVersion(
        escalation=escalation,
        version=version,
        author_id=staff.id,
        body=body,
        body_sha256=digest,
        signature=key.sign(message, purpose=SIGNATURE_PURPOSE),
        verify_key=key.verify_key.to_text(),
        contradicts_record=record.contradicts,
        record_sha256=record.sha256(),
    )
    session.add(entry)
    return entry


def escalate(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    identity: Identity,
    identity_secret: bytes,
    observation: Observation,
    summary: str,
    leader_ids: list[int],
    record: RecordClaim = NO_CONTRADICTION,
    seen: int | None = None,
) -> Escalation:
    """Send a summary to the chosen leaders under the mission's next ledger number, with
    the adviser's statement whether it contradicts an official report or figure."""
    summary = check_summary(summary)
    hold_observation(session, observation, seen=seen)
    check_action("escalate", observation.state)
    proposal = check_consent(session, observation, identity, summary, record)
    chosen = set(leader_ids)
    leaders = [
        u for u in mission_staff(session, observation.mission_id, Role.LEADERSHIP) if u.id in chosen
    ]
    if not leaders:
        raise InvalidInput("leaders", Problem.MISSING, detail="choose a leader of this mission")
    # Ledger numbers are handed out one at a time, under the mission's lock.
    lock_mission(session, observation.mission_id)
    number = (
        session.scalar(
            select(func.max(Escalation.ledger_number)).where(
                Escalation.mission_id == observation.mission_id
            )
        )
        or 0
    ) + 1
    sent_at = utcnow()
    ack_by, answer_by = ladder_limits(observation.mission, sent_on=sent_at.date())
    escalation = Escalation(
        mission_id=observation.mission_id,
        observation=observation,
        ledger_number=number,
        recipients=leaders,
        created_at=sent_at,
        ladder_ack_due=ack_by,
        ladder_response_due=answer_by,
    )
    session.add(escalation)
    session.flush()
    _add_version(
        session,
        ctx,
        staff=staff,
        identity_secret=identity_secret,
        escalation=escalation,
        summary=summary,
        record=record,
        version=1,
    )
    if proposal is not None:
        proposal.status = ProposalStatus.SENT
    if observation.state is not State.ESCALATED:
        record_transition(
            session, ctx, staff=staff, observation=observation, to_state=action_target("escalate")
        )
    _notify_source(session, ctx, staff=staff, observation=observation, label=escalation.label)
    notifications.notify(session.connection(), NotificationKind.ESCALATION_RECEIVED, escalation.id)
    audit.record(
        session, actor=staff.username, action=audit.Action.ESCALATE, subject=escalation.label
    )
    return escalation


def _notify_source(
    session: Session, ctx: ServiceContext, *, staff: StaffUser, observation: Observation, label: str
) -> None:
    """Tell the source their observation was escalated (and under which number)."""
    session.add(
        Message(
            observation=observation,
            # escalate() holds the observation's lock
            position=next_position(observation.id),
            sender=Sender.ADVISER,
            kind=MessageKind.ESCALATED,
            staff_id=staff.id,
            sent_on=today(),
            sent_at=utcnow(),
            body=seal_document(
                {"text": ESCALATION_NOTICE_MARKER, "label": label},
                recipients=observation_recipients(session, ctx.settings, observation),
            ),
        )
    )


def revise(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    identity: Identity,
    identity_secret: bytes,
    escalation: Escalation,
    summary: str,
    record: RecordClaim | None = None,
    seen: int | None = None,
) -> EscalationVersion:
    """Add a corrected version; the earlier ones stay as they were. ``record`` is the
    statement about the official record (None: the current version's, unchanged)."""
    summary = check_summary(summary)
    hold_observation(session, escalation.observation, seen=seen)
    session.refresh(escalation)
    if record is None:
        record = _current_record(escalation, identity)
    check_consent(session, escalation.observation, identity, summary, record)
    version = _add_version(
        session,
        ctx,
        staff=staff,
        identity_secret=identity_secret,
        escalation=escalation,
        summary=summary,
        record=record,
        version=len(escalation.versions) + 1,
    )
    # Its leaders are told that the text they act on changed (invariant 5: the change is
    # visible to them), as they were told of the first version; so is the mission's
    # oversight once it went up the ladder (``notifications``: its readers).
    notifications.notify(session.connection(), NotificationKind.ESCALATION_REVISED, escalation.id)
    audit.record(
        session, actor=staff.username, action=audit.Action.REVISE, subject=escalation.label
    )
    return version


def _current_record(escalation: Escalation, identity: Identity) -> RecordClaim:
    """Return the statement of the current version, so that a correction of the text
    alone keeps it; raise :class:`InvalidInput` if it cannot be read or does not verify
    (the adviser then states it again, rather than have it dropped or signed unseen)."""
    versions = open_versions(escalation, identity)
    if not versions or versions[-1].version.contradicts_record is None:
        return NO_CONTRADICTION
    current = versions[-1]
    if current.record is None or not current.verified:
        raise InvalidInput(
            "record_title",
            Problem.MISSING,
            detail="the current statement about the official record cannot be read: state it",
        )
    return current.record
