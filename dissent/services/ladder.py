"""The ladder above leadership: an escalation leadership leaves unacknowledged or
unanswered too long goes one step up, to the mission's oversight.

A mission sets two limits (``Mission.ladder_ack_days``, default 14 days, and
``Mission.ladder_response_months``, default 3 months), counted from the day the
escalation was sent. The two last days are fixed on the escalation when it is sent
(``Escalation.ladder_ack_due``, ``ladder_response_due``, from ``deadlines.ladder_limits``),
so a limit changed later applies only to escalations sent after it. The day after a
limit, the next run of ``dissent notify`` takes the step, if the mission has an
oversight member who can read it (active, key confirmed); until it has one, no step is
taken, and the first run after a member's key is confirmed takes it. A step records a
:class:`LadderStep` (escalation, reason, day), tells the mission's oversight and the
case's advisers (content-free, ``notifications``) and writes an audit entry, all in one
transaction of its own. A step is taken once per escalation and reason, ever: runs take
steps one after the other (the run lock), and the unique constraint on the step turns a
second insert into nothing.

The run holds no key and cannot seal anything to anyone; the mission's confirmed
oversight members are among the readers of every escalation version and response
sealed since their key was confirmed (``keyring``), and their pages show an escalation
only once it has stepped (``oversight``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import (
    Escalation,
    EscalationState,
    LadderReason,
    LadderStep,
    Mission,
    NotificationKind,
)
from . import audit, notifications, outbox
from .errors import InvalidInput, NotFound, Problem
from .keyring import oversight_counts

# The audit ledger's actor for a step: nobody took it, the limit did.
LADDER_ACTOR = "ladder"
# What the operator may set: at least a day and a month; at most a quarter of a year to
# acknowledge and a year to answer (beyond that a finding is simply ignored).
MAX_LADDER_ACK_DAYS = 90
MAX_LADDER_RESPONSE_MONTHS = 12


def reasons_due(escalation: Escalation, *, on: date) -> list[LadderReason]:
    """Return the steps ``escalation`` should have taken by day ``on`` and has not."""
    taken = {step.reason for step in escalation.ladder_steps}
    due = []
    if escalation.state is EscalationState.SENT and on > escalation.ladder_ack_due:
        due.append(LadderReason.NOT_ACKNOWLEDGED)
    if escalation.state is not EscalationState.RESPONDED and on > escalation.ladder_response_due:
        due.append(LadderReason.NOT_ANSWERED)
    return [reason for reason in due if reason not in taken]


def held_back(session: Session, escalation: Escalation, *, on: date) -> list[LadderReason]:
    """Return the steps due on day ``on`` that cannot be taken: the mission has no
    oversight member who could read the escalation (none active with a confirmed key)."""
    due = reasons_due(escalation, on=on)
    if not due or oversight_counts(session).get(escalation.mission_id):
        return []
    return due


def _insert(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(LadderStep).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(LadderStep).on_conflict_do_nothing()
    raise ValueError(f"ladder steps in a {dialect} database are not supported")


@dataclass(frozen=True)
class Taken:
    """A step taken by a run."""

    label: str
    reason: LadderReason


def take_steps(session: Session, *, now: datetime) -> list[Taken]:
    """Take every step due at ``now`` in a mission with someone to go to: record it, tell
    oversight and the case's advisers, audit it. In the caller's transaction, under the
    run lock; return what was taken."""
    outbox.lock_runs(session)
    on = now.date()
    connection = session.connection()
    taken: list[Taken] = []
    # A step to nobody would tell the adviser it went somewhere: wait for a reader.
    missions = list(oversight_counts(session))
    escalations = session.scalars(
        select(Escalation)
        .where(Escalation.state != EscalationState.RESPONDED, Escalation.mission_id.in_(missions))
        .order_by(Escalation.id)
        .execution_options(populate_existing=True)
    ).all()
    for escalation in escalations:
        for reason in reasons_due(escalation, on=on):
            result = connection.execute(
                _insert(connection.dialect.name).values(
                    escalation_id=escalation.id, reason=reason, taken_on=on
                )
            )
            if not result.rowcount:
                continue  # another run took it a moment ago
            notifications.notify(connection, NotificationKind.LADDER_STEP, escalation.id, on=on)
            notifications.notify(
                connection, NotificationKind.LADDER_STEP_ADVISER, escalation.id, on=on
            )
            audit.record(
                session,
                actor=LADDER_ACTOR,
                action=audit.Action.LADDER_STEP,
                subject=f"{escalation.label}:{reason.value}",
            )
            taken.append(Taken(escalation.label, reason))
    return taken


def set_limits(
    session: Session, *, mission_id: int, ack_days: int, response_months: int, actor: str
) -> Mission:
    """Set a mission's ladder limits (1 to 90 days, 1 to 12 months), as the operator;
    they apply to escalations sent from now on (each keeps the days it was sent with)."""
    mission = session.get(Mission, mission_id)
    if mission is None:
        raise NotFound
    if not 1 <= ack_days <= MAX_LADDER_ACK_DAYS:
        raise InvalidInput(
            "ack_days",
            Problem.OUT_OF_RANGE,
            detail=f"ladder acknowledgement: 1 to {MAX_LADDER_ACK_DAYS} days",
        )
    if not 1 <= response_months <= MAX_LADDER_RESPONSE_MONTHS:
        raise InvalidInput(
            "response_months",
            Problem.OUT_OF_RANGE,
            detail=f"ladder response: 1 to {MAX_LADDER_RESPONSE_MONTHS} months",
        )
    if (mission.ladder_ack_days, mission.ladder_response_months) != (ack_days, response_months):
        mission.ladder_ack_days, mission.ladder_response_months = ack_days, response_months
        audit.record(
            session,
            actor=actor,
            action=audit.Action.MISSION_CHANGE,
            subject=f"ladder:{mission.slug}:{ack_days}d:{response_months}m",
        )
    return mission
