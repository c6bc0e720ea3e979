"""The periodic report (DESIGN §4): what came in, how fast it was handled, what was done.

Small counts are suppressed: a cell of 1 to 4 is shown as "< 5", because in a small
unit a count that low can point at a person. Every escalation of the period is listed
by ledger number, and the numbering is checked for gaps, so none can be left out
silently.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    Category,
    Escalation,
    EscalationState,
    Mission,
    Observation,
    ResponseKind,
    State,
    today,
)
from .audit import chain_head
from .deadlines import ack_due, feedback_due
from .workflow import AWAITING_FEEDBACK

SUPPRESS_BELOW = 5
MAX_PERIOD_DAYS = 3 * 366


def shown(count: int) -> str:
    """Return a count as the report shows it: "< 5" for 1 to 4."""
    return f"< {SUPPRESS_BELOW}" if 0 < count < SUPPRESS_BELOW else str(count)


@dataclass(frozen=True)
class Durations:
    """Median and 90th percentile of a set of durations in days (None if too few)."""

    count: int
    median: float | None
    p90: float | None


def _durations(values: list[int]) -> Durations:
    # Fewer than 5 values would let a reader work out individual cases.
    if len(values) < SUPPRESS_BELOW:
        return Durations(len(values), None, None)
    ordered = sorted(values)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[-1]
    return Durations(len(values), statistics.median(ordered), p90)


@dataclass(frozen=True)
class EscalationLine:
    """One escalation of the period, by ledger number."""

    label: str
    mission: str
    sent_on: date
    state: EscalationState
    response: ResponseKind | None
    planned_for: date | None
    versions: int


@dataclass(frozen=True)
class LedgerCheck:
    """Whether a mission's ledger numbers run without gaps."""

    mission: str
    highest: int
    missing: list[int]


@dataclass
class Report:
    """Everything on the periodic report."""

    start: date
    end: date
    missions: list[Mission]
    total: int = 0
    by_mission: Counter[str] = field(default_factory=Counter)
    by_category: Counter[Category] = field(default_factory=Counter)
    by_state: Counter[State] = field(default_factory=Counter)
    to_acknowledge: Durations = Durations(0, None, None)
    to_feedback: Durations = Durations(0, None, None)
    ack_overdue: int = 0
    feedback_overdue: int = 0
    escalations: list[EscalationLine] = field(default_factory=list)
    ledger: list[LedgerCheck] = field(default_factory=list)
    audit_seq: int = 0
    audit_hash: str = ""


def build_report(session: Session, *, missions: list[Mission], start: date, end: date) -> Report:
    """Return the report for observations received, and escalations sent, in [start, end]."""
    if end < start:
        raise ValueError("the period ends before it starts")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValueError(f"a period is at most {MAX_PERIOD_DAYS} days")
    report = Report(start=start, end=end, missions=missions)
    by_id = {m.id: m for m in missions}
    if not by_id:
        return report
    on = today()
    ack_days: list[int] = []
    feedback_days: list[int] = []
    rows = session.scalars(
        select(Observation).where(
            Observation.mission_id.in_(by_id),
            Observation.received_on >= start,
            Observation.received_on <= end,
        )
    )
    for observation in rows:
        mission = by_id[observation.mission_id]
        report.total += 1
        report.by_mission[mission.name] += 1
        report.by_category[observation.category] += 1
        report.by_state[observation.state] += 1
        if observation.acknowledged_on:
            ack_days.append((observation.acknowledged_on - observation.received_on).days)
        elif observation.state is State.RECEIVED and on > ack_due(observation, mission):
            report.ack_overdue += 1
        if observation.feedback_given_on:
            feedback_days.append((observation.feedback_given_on - observation.received_on).days)
        elif observation.state in AWAITING_FEEDBACK and on > feedback_due(observation, mission):
            report.feedback_overdue += 1
    report.to_acknowledge = _durations(ack_days)
    report.to_feedback = _durations(feedback_days)
    _add_escalations(session, report, by_id)
    report.audit_seq, report.audit_hash = chain_head(session)
    return report


def _add_escalations(session: Session, report: Report, by_id: dict[int, Mission]) -> None:
    first = datetime.combine(report.start, time.min, tzinfo=UTC)
    last = datetime.combine(report.end + timedelta(days=1), time.min, tzinfo=UTC)
    for escalation in session.scalars(
        select(Escalation)
        .where(
            Escalation.mission_id.in_(by_id),
            Escalation.created_at >= first,
            Escalation.created_at < last,
        )
        .order_by(Escalation.mission_id, Escalation.ledger_number)
    ):
        latest = escalation.responses[-1] if escalation.responses else None
        report.escalations.append(
            EscalationLine(
                label=escalation.label,
                mission=escalation.mission.name,
                sent_on=escalation.created_at.date(),
                state=escalation.state,
                response=latest.kind if latest else None,
                planned_for=latest.planned_for if latest else None,
                versions=len(escalation.versions),
            )
        )
    for mission in by_id.values():
        numbers = set(
            session.scalars(
                select(Escalation.ledger_number).where(Escalation.mission_id == mission.id)
            )
        )
        highest = max(numbers, default=0)
        report.ledger.append(
            LedgerCheck(
                mission=mission.name,
                highest=highest,
                missing=[n for n in range(1, highest + 1) if n not in numbers],
            )
        )
