"""Leadership: read escalations, acknowledge them, and respond."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..crypto import DecryptionError, Identity
from ..models import (
    Escalation,
    EscalationState,
    Response,
    ResponseKind,
    StaffUser,
    escalation_recipient,
    utcnow,
)
from . import audit
from .content import open_document, seal_document
from .context import ServiceContext
from .errors import (
    AlreadyDone,
    ChangedMeanwhile,
    InvalidInput,
    NotFound,
    Problem,
    Refused,
    check_text,
)
from .keyring import response_recipients
from .locks import hold_escalation

RESPONSE_MAX = 10_000


def escalations_for_leader(session: Session, staff: StaffUser) -> list[Escalation]:
    """Return the escalations sent to this leader, by mission and ledger number."""
    return list(
        session.scalars(
            select(Escalation)
            .join(escalation_recipient, escalation_recipient.c.escalation_id == Escalation.id)
            .where(escalation_recipient.c.staff_id == staff.id)
            .order_by(Escalation.mission_id, Escalation.ledger_number)
        )
    )


@dataclass(frozen=True)
class LeaderLine:
    """One escalation on a leader's list."""

    escalation: Escalation
    age_days: int  # whole days since it was sent
    latest: Response | None


def leader_list(session: Session, staff: StaffUser, *, on: date) -> list[LeaderLine]:
    """Return the leader's escalations: by mission, unanswered first, oldest first within."""
    lines = [
        LeaderLine(
            escalation=escalation,
            age_days=max(0, (on - escalation.created_at.date()).days),
            latest=escalation.responses[-1] if escalation.responses else None,
        )
        for escalation in escalations_for_leader(session, staff)
    ]
    return sorted(
        lines,
        key=lambda line: (
            line.escalation.mission.name,
            line.escalation.state is EscalationState.RESPONDED,
            line.escalation.created_at,
            line.escalation.ledger_number,
        ),
    )


def escalation_for_leader(
    session: Session, staff: StaffUser, *, mission_slug: str, number: int
) -> Escalation:
    """Return one escalation sent to this leader, by its ledger label parts."""
    for escalation in escalations_for_leader(session, staff):
        if escalation.mission.slug == mission_slug and escalation.ledger_number == number:
            return escalation
    raise NotFound


def acknowledge_escalation(session: Session, *, staff: StaffUser, escalation: Escalation) -> None:
    """Confirm that leadership received the escalation."""
    hold_escalation(session, escalation)
    if escalation.state is not EscalationState.SENT:
        raise AlreadyDone(Refused.ACKNOWLEDGEMENT)
    escalation.state = EscalationState.ACKNOWLEDGED
    escalation.acknowledged_at = utcnow()
    escalation.acknowledged_by_id = staff.id
    audit.record(
        session, actor=staff.username, action=audit.Action.ESCALATION_ACK, subject=escalation.label
    )


def respond(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    escalation: Escalation,
    kind: ResponseKind,
    text: str,
    planned_for: date | None = None,
    seen: int | None = None,
) -> Response:
    """Record leadership's response: action taken, action planned (with a date), declined."""
    text = check_text(text, field="text", limit=RESPONSE_MAX)
    if kind is ResponseKind.ACTION_PLANNED and planned_for is None:
        raise InvalidInput("planned_for", Problem.MISSING, detail="a planned action needs a date")
    hold_escalation(session, escalation)
    if seen is not None and seen != len(escalation.responses):
        # Another response came in after this leader's page was shown (a colleague's,
        # or their own first click): show it rather than add a second one blind.
        raise ChangedMeanwhile(escalation.label)
    if escalation.state is EscalationState.SENT:
        escalation.state = EscalationState.ACKNOWLEDGED
        escalation.acknowledged_at = utcnow()
        escalation.acknowledged_by_id = staff.id
    recipients = response_recipients(
        session, ctx.settings, mission_id=escalation.mission_id, leaders=escalation.recipients
    )
    response = Response(
        escalation=escalation,
        responder_id=staff.id,
        kind=kind,
        planned_for=planned_for if kind is ResponseKind.ACTION_PLANNED else None,
        body=seal_document({"text": text}, recipients=recipients),
    )
    session.add(response)
    escalation.state = EscalationState.RESPONDED
    audit.record(
        session, actor=staff.username, action=audit.Action.RESPOND, subject=escalation.label
    )
    return response


@dataclass(frozen=True)
class OpenResponse:
    """A response as a reader sees it."""

    response: Response
    text: str
    readable: bool = True


def open_responses(escalation: Escalation, identity: Identity) -> list[OpenResponse]:
    """Decrypt the escalation's responses, oldest first."""
    out = []
    for response in escalation.responses:
        try:
            text = str(open_document(response.body, identities=[identity]).get("text", ""))
            out.append(OpenResponse(response, text))
        except DecryptionError:
            out.append(OpenResponse(response, "", readable=False))
    return out
