"""The periodic report: what came in, how fast it was handled, what was done.

Small counts are suppressed: a cell of 1 to 4 is shown as "< 5", because in a small
unit a count that low can point at a person. Every escalation of the period is listed
by ledger number, and the numbering is checked for gaps, so none can be left out
silently.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    AuditEntry,
    Category,
    Escalation,
    EscalationState,
    Mission,
    Observation,
    ResponseKind,
    State,
    today,
)
from .audit import Action, chain_head
from .deadlines import ack_due, feedback_due
from .errors import InvalidInput, Problem
from .workflow import AWAITING_FEEDBACK

SUPPRESS_BELOW = 5
MAX_PERIOD_DAYS = 3 * 366


WITHHELD = "withheld"
K = TypeVar("K")


def shown(count: int) -> str:
    """Return a count as the report shows it: "< 5" for 1 to 4."""
    return f"< {SUPPRESS_BELOW}" if 0 < count < SUPPRESS_BELOW else str(count)


def suppress_group(counts: dict[K, int]) -> dict[K, str]:
    """Return how each cell of a group that adds up to a shown total is displayed.

    Primary suppression hides counts of 1 to 4. Because the group's total is shown,
    one hidden cell could be worked out by subtraction; so further cells, smallest
    first, are withheld until the hidden cells are at least two and together hold at
    least the threshold, which leaves several possible values for each of them.
    """
    hidden = {k for k, v in counts.items() if 0 < v < SUPPRESS_BELOW}
    if hidden:
        candidates = sorted(
            (v, i, k) for i, (k, v) in enumerate(counts.items()) if k not in hidden and v > 0
        )
        while candidates and (len(hidden) < 2 or sum(counts[k] for k in hidden) < SUPPRESS_BELOW):
            hidden.add(candidates.pop(0)[2])
    return {
        k: (shown(v) if v < SUPPRESS_BELOW else WITHHELD) if k in hidden else str(v)
        for k, v in counts.items()
    }


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

    def mission_cells(self) -> dict[str, str]:
        """Return the displayed counts by mission (with secondary suppression)."""
        return suppress_group({m.name: self.by_mission[m.name] for m in self.missions})

    def category_cells(self) -> dict[Category, str]:
        """Return the displayed counts by category (with secondary suppression)."""
        return suppress_group({c: self.by_category[c] for c in Category})

    def state_cells(self) -> dict[State, str]:
        """Return the displayed counts by state (with secondary suppression)."""
        return suppress_group({s: self.by_state[s] for s in State})


def build_report(session: Session, *, missions: list[Mission], start: date, end: date) -> Report:
    """Return the report for observations received, and escalations sent, in [start, end]."""
    if end < start:
        raise InvalidInput("end", Problem.OUT_OF_RANGE, detail="the period ends before it starts")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput(
            "end",
            Problem.TOO_LONG,
            limit=MAX_PERIOD_DAYS,
            detail=f"a period is at most {MAX_PERIOD_DAYS} days",
        )
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
        # The hash-chained audit ledger names every escalation ever sent; a number it
        # names that has no row (the newest one deleted, say) is missing too.
        prefix = f"{mission.slug.upper()}-"
        audited = {
            int(subject[len(prefix) :])
            for subject in session.scalars(
                select(AuditEntry.subject).where(
                    AuditEntry.action == Action.ESCALATE, AuditEntry.subject.startswith(prefix)
                )
            )
            if subject[len(prefix) :].isdigit()
        }
        highest = max(numbers | audited, default=0)
        report.ledger.append(
            LedgerCheck(
                mission=mission.name,
                highest=highest,
                missing=[n for n in range(1, highest + 1) if n not in numbers],
            )
        )


# --- the period and the figures as rows (CSV and the command line) ----------------------------


def last_full_quarter(on: date) -> tuple[date, date]:
    """Return the first and last day of the last calendar quarter that has ended by ``on``."""
    this_quarter_start = date(on.year, 3 * ((on.month - 1) // 3) + 1, 1)
    end = this_quarter_start - timedelta(days=1)
    return date(end.year, end.month - 2, 1), end


def _days(value: float | None) -> str:
    return "too few" if value is None else f"{value:.1f}".removesuffix(".0")


def report_rows(report: Report, *, generated_at: datetime) -> list[tuple[str, str, str]]:
    """Return every figure of the report as (section, key, value); counts pass through shown()."""
    rows: list[tuple[str, str, str]] = [
        ("period", "start", report.start.isoformat()),
        ("period", "end", report.end.isoformat()),
        ("period", "generated_at", generated_at.isoformat(timespec="seconds")),
        *[("mission", m.slug, m.name) for m in report.missions],
        ("total", "observations", shown(report.total)),
        *[("by_mission", name, cell) for name, cell in report.mission_cells().items()],
        *[("by_category", c.value, cell) for c, cell in report.category_cells().items()],
        *[("by_state", s.value, cell) for s, cell in report.state_cells().items()],
    ]
    for section, durations in (
        ("days_to_acknowledge", report.to_acknowledge),
        ("days_to_feedback", report.to_feedback),
    ):
        rows += [
            (section, "cases", shown(durations.count)),
            (section, "median", _days(durations.median)),
            (section, "p90", _days(durations.p90)),
        ]
    rows += [
        ("overdue", "acknowledgement", shown(report.ack_overdue)),
        ("overdue", "feedback", shown(report.feedback_overdue)),
    ]
    for line in report.escalations:
        section = f"escalation {line.label}"
        rows += [
            (section, "mission", line.mission),
            (section, "sent_on", line.sent_on.isoformat()),
            (section, "state", line.state.value),
            (section, "response", line.response.value if line.response else ""),
            (section, "planned_for", line.planned_for.isoformat() if line.planned_for else ""),
            (section, "versions", str(line.versions)),
        ]
    for check in report.ledger:
        rows += [
            (f"ledger {check.mission}", "highest", str(check.highest)),
            (f"ledger {check.mission}", "missing", " ".join(map(str, check.missing)) or "none"),
        ]
    rows += [
        ("audit", "head_seq", str(report.audit_seq)),
        ("audit", "head_hash", report.audit_hash),
    ]
    return rows


# A cell starting with one of these is a formula to a spreadsheet; mission names are
# typed by an operator, so they are defused rather than trusted.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def report_csv(report: Report, *, generated_at: datetime) -> str:
    """Return the report as CSV: a header, then one (section, key, value) row per figure."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("section", "key", "value"))
    for row in report_rows(report, generated_at=generated_at):
        writer.writerow(["'" + cell if cell.startswith(_FORMULA_START) else cell for cell in row])
    return out.getvalue()
