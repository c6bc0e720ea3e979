"""The ladder above leadership in tests: an escalation, its steps at a chosen time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from dissent.extensions import db
from dissent.models import Escalation, LadderStep, Role
from dissent.services import ladder
from tests.helpers.notify import give_address
from tests.helpers.services import Case, acknowledge, escalate, file_case
from tests.helpers.staff import StaffLogin


def ladder_team(app, make_staff, *, mailed: bool = False) -> dict[str, StaffLogin]:
    """Return an adviser, a leader and an oversight member of the test mission (keys
    confirmed: the ladder has someone to go to); ``mailed``: each with a mail address."""
    team = {
        "adviser": make_staff(Role.ADVISER),
        "leader": make_staff(Role.LEADERSHIP),
        "oversight": make_staff(Role.OVERSIGHT),
    }
    for login in team.values() if mailed else ():
        give_address(app, login)
    return team


def escalated_case(
    app, mission_id: int, *, adviser: StaffLogin, leaders: list[StaffLogin], summary: str
) -> tuple[Case, int]:
    """File, acknowledge and escalate a case; return it and the escalation's id."""
    case = file_case(app, mission_id)
    acknowledge(app, case, adviser)
    return case, escalate(app, case, adviser=adviser, leaders=leaders, summary=summary)


def sent_on(app, escalation_id: int) -> date:
    """Return the day the escalation was sent."""
    with app.app_context():
        return db.session.get(Escalation, escalation_id).created_at.date()


def days_after_sending(app, escalation_id: int, days: int) -> datetime:
    """Return noon of the day ``days`` days after the escalation was sent."""
    return datetime.combine(sent_on(app, escalation_id) + timedelta(days=days), time(12), UTC)


def take_steps_at(app, now: datetime) -> list[ladder.Taken]:
    """Take the ladder's steps as a run at ``now`` would (its own transaction)."""
    with app.app_context(), db.unit():
        return ladder.take_steps(db.session, now=now)


def steps_of(app, escalation_id: int) -> list[tuple[str, date]]:
    """Return the escalation's steps as (reason, day), oldest first."""
    with app.app_context():
        return [
            (step.reason.value, step.taken_on)
            for step in db.session.scalars(
                select(LadderStep)
                .where(LadderStep.escalation_id == escalation_id)
                .order_by(LadderStep.id)
            )
        ]
