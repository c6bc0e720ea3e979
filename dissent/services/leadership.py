"""Leadership: read escalations, acknowledge them, and respond (deciding about the
official record where an escalation contradicts it: ``official_record``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from ..crypto import DecryptionError, Identity
from ..models import (
    Escalation,
    EscalationState,
    Mission,
    NotificationKind,
    RecordDecision,
    Response,
    ResponseKind,
    Role,
    StaffUser,
    escalation_recipient,
    today,
    utcnow,
)
from . import audit, notifications
from .content import open_document, seal_document
from .context import ServiceContext
from .deadlines import response_due
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
from .official_record import Outcome, check_decision, outcome

RESPONSE_MAX = 10_000


def find_escalation(
    session: Session, shown: ColumnElement[bool], *, mission_slug: str, number: int
) -> Escalation:
    """Return the escalation with this ledger label (mission slug and number) among those
    ``shown`` to someone (a condition on :class:`Escalation`); :class:`NotFound` if it
    is not one of them."""
    found = session.scalar(
        select(Escalation)
        .join(Mission, Mission.id == Escalation.mission_id)
        .where(shown, Mission.slug == mission_slug, Escalation.ledger_number == number)
    )
    if found is None:
        raise NotFound
    return found


class ListLine(Protocol):
    """A line of a list of escalations (leadership's, oversight's)."""

    @property
    def escalation(self) -> Escalation: ...

    @property
    def waiting(self) -> bool: ...


def list_order(line: ListLine) -> tuple[str, bool, datetime, int]:
    """Return where a line goes in a list of escalations: by mission, those waiting
    first, oldest first within."""
    escalation = line.escalation
    return (
        escalation.mission.name,
        not line.waiting,
        escalation.created_at,
        escalation.ledger_number,
    )


def _sent_to(staff: StaffUser) -> ColumnElement[bool]:
    return exists().where(
        escalation_recipient.c.escalation_id == Escalation.id,
        escalation_recipient.c.staff_id == staff.id,
    )


def shown_escalations(session: Session, shown: ColumnElement[bool]) -> list[Escalation]:
    """Return the escalations ``shown`` to someone (a condition on :class:`Escalation`),
    by mission and ledger number."""
    return list(
        session.scalars(
            select(Escalation)
            .where(shown)
            .order_by(Escalation.mission_id, Escalation.ledger_number)
        )
    )


def escalations_for_leader(session: Session, staff: StaffUser) -> list[Escalation]:
    """Return the escalations sent to this leader, by mission and ledger number."""
    return shown_escalations(session, _sent_to(staff))


@dataclass(frozen=True)
class LeaderLine:
    """One escalation on a leader's list."""

    escalation: Escalation
    age_days: int  # whole days since it was sent
    latest: Response | None
    record: Outcome | None = None  # where the official record stands, if contradicted
    respond_by: date | None = None  # the day leadership's response is due (deadlines)
    response_late: bool = False  # not yet answered, and that day has passed

    @property
    def waiting(self) -> bool:
        """Return whether leadership owes something: a response, or an overdue correction."""
        return (
            self.escalation.state is not EscalationState.RESPONDED
            or self.record is Outcome.CORRECTION_OVERDUE
        )


def response_late(escalation: Escalation, *, on: date) -> bool:
    """Return whether leadership's response is past its day on ``on`` (none recorded)."""
    return escalation.state is not EscalationState.RESPONDED and on > response_due(escalation)


def leader_list(session: Session, staff: StaffUser, *, on: date) -> list[LeaderLine]:
    """Return the leader's escalations: by mission, those waiting for leadership first
    (unanswered, or a correction of the record past its date), oldest first within."""
    lines = [
        LeaderLine(
            escalation=escalation,
            age_days=max(0, (on - escalation.created_at.date()).days),
            latest=escalation.responses[-1] if escalation.responses else None,
            record=outcome(escalation, on=on),
            respond_by=response_due(escalation),
            response_late=response_late(escalation, on=on),
        )
        for escalation in escalations_for_leader(session, staff)
    ]
    return sorted(lines, key=list_order)


def escalation_for_leader(
    session: Session, staff: StaffUser, *, mission_slug: str, number: int
) -> Escalation:
    """Return one escalation sent to this leader, by its ledger label parts."""
    return find_escalation(session, _sent_to(staff), mission_slug=mission_slug, number=number)


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
    record_decision: RecordDecision | None = None,
    record_note: str = "",
    correction_due: date | None = None,
    seen: int | None = None,
) -> Response:
    """Record leadership's response: action taken, action planned (with a date), declined;
    for an escalation that contradicts an official report or figure, also the decision
    about it: corrected (with its reference), planned (by a date), not corrected (why).

    Oversight responds through here too, to an escalation that went up the ladder
    (``oversight``): the response reaches the adviser the same way."""
    text = check_text(text, field="text", limit=RESPONSE_MAX)
    if kind is ResponseKind.ACTION_PLANNED and planned_for is None:
        raise InvalidInput("planned_for", Problem.MISSING, detail="a planned action needs a date")
    hold_escalation(session, escalation)
    # Checked on the escalation as it stands under the lock (hold_escalation re-reads
    # it): a version that says it contradicts the record may have come in meanwhile.
    decision = check_decision(
        escalation, decision=record_decision, note=record_note, due=correction_due, on=today()
    )
    if seen is not None and seen != len(escalation.responses):
        # Another response came in after this leader's page was shown (a colleague's,
        # or their own first click): show it rather than add a second one blind.
        raise ChangedMeanwhile(escalation.label)
    if escalation.state is EscalationState.SENT and staff.role is Role.LEADERSHIP:
        # Oversight answering an escalation leadership never acknowledged does not make
        # it acknowledged by leadership: the report and the ladder keep that it was not.
        escalation.state = EscalationState.ACKNOWLEDGED
        escalation.acknowledged_at = utcnow()
        escalation.acknowledged_by_id = staff.id
    recipients = response_recipients(
        session, ctx.settings, mission_id=escalation.mission_id, leaders=escalation.recipients
    )
    document: dict[str, str] = {"text": text}
    if decision is not None:
        document["record_note"] = decision.note
    response = Response(
        escalation=escalation,
        responder_id=staff.id,
        kind=kind,
        planned_for=planned_for if kind is ResponseKind.ACTION_PLANNED else None,
        record_decision=decision.decision if decision else None,
        correction_due=decision.due if decision else None,
        body=seal_document(document, recipients=recipients),
    )
    session.add(response)
    escalation.state = EscalationState.RESPONDED
    notifications.notify(session.connection(), NotificationKind.RESPONSE_RECEIVED, escalation.id)
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
    record_note: str = ""  # the reference of a correction, or why there is none


def open_responses(escalation: Escalation, identity: Identity) -> list[OpenResponse]:
    """Decrypt the escalation's responses, oldest first."""
    out = []
    for response in escalation.responses:
        try:
            document = open_document(response.body, identities=[identity])
            out.append(
                OpenResponse(
                    response,
                    str(document.get("text", "")),
                    record_note=str(document.get("record_note", "")),
                )
            )
        except DecryptionError:
            out.append(OpenResponse(response, "", readable=False))
    return out
