"""Escalations that contradict the official record, and leadership's decisions about it."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import update

from dissent.extensions import current_context, db
from dissent.models import RecordDecision, Response, ResponseKind, StaffUser, today
from dissent.services import leadership
from dissent.services.official_record import RecordClaim
from tests.helpers.services import find_escalation
from tests.helpers.staff import StaffLogin

# A contradicted report, named as an adviser would: the figure as reported, its period.
CLAIM = RecordClaim(
    contradicts=True,
    title="Quarterly progress report: literacy course completed by 40 of 40 recruits",
    period="second quarter of 2026",
)
REFERENCE = "Corrigendum 3 to the quarterly progress report"
REASON = "The figure counts attendance, as the reporting guidance then required."


def decide(
    app,
    leader: StaffLogin,
    escalation_id: int,
    decision: RecordDecision | None,
    *,
    note: str = "",
    due: date | None = None,
    text: str = "The figures were checked against the course records.",
) -> None:
    """Record a response of ``leader`` that decides ``decision`` about the record."""
    with app.app_context(), db.unit():
        leadership.respond(
            db.session,
            current_context(),
            staff=db.session.get(StaffUser, leader.id),
            escalation=find_escalation(escalation_id),
            kind=ResponseKind.ACTION_TAKEN,
            text=text,
            record_decision=decision,
            record_note=note,
            correction_due=due,
        )


def plan(app, leader: StaffLogin, escalation_id: int, *, days: int = 30) -> None:
    """Plan a correction ``days`` from today."""
    decide(
        app,
        leader,
        escalation_id,
        RecordDecision.CORRECTION_PLANNED,
        due=today() + timedelta(days=days),
    )


def let_pass(app, escalation_id: int, *, days: int = 1) -> None:
    """Move the escalation's planned corrections ``days`` into the past, as time would."""
    with app.app_context(), db.unit():
        db.session.execute(
            update(Response)
            .where(
                Response.escalation_id == escalation_id,
                Response.record_decision == RecordDecision.CORRECTION_PLANNED,
            )
            .values(correction_due=today() - timedelta(days=days))
        )
