"""The periodic report: what came in, how fast it was handled, what was done.

Small counts are suppressed: a cell of 1 to 4 is shown as "< 5", because in a small
unit a count that low can point at a person. Suppression is decided once, on the finest
cells any report is made of (one mission, one calendar month, one category or state),
and every report a reader can ask for, whatever its missions and months, adds up only the
cells that are shown: a suppressed cell counts in no figure anywhere, so no difference of
two reports gives it back (issue 15, finding 5; decision 23 in docs/decisions.md). Counts
cover whole months that have ended: a month still under way would change from one day
to the next and give away what came in between. Every escalation of the period is listed
by ledger number, and the numbering is checked for gaps, so none can be left out
silently. Those that contradicted an official report or figure are counted again in the
section "Official record" by what became of it, each outcome with its ledger numbers;
these counts are exact, because the numbers are listed one by one anyway (decision 24).
Steps up the ladder above leadership taken in the period are counted by mission and
reason (not acknowledged, not answered in time), each with its ledger numbers: exact
for the same reason (decision 30).

Every report is one JSON document (``report_document``); its rows, the CSV and the text
of the command line are made from that document, and so is the evaluator's copy
(``evaluator``), which is signed and can be checked without the server.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    AuditEntry,
    Category,
    Escalation,
    EscalationState,
    LadderReason,
    LadderStep,
    Mission,
    Observation,
    ResponseKind,
    State,
    today,
)
from .audit import Action, chain_head
from .deadlines import ack_due, feedback_due
from .errors import InvalidInput, Problem
from .official_record import Outcome, correction_due, outcome
from .workflow import AWAITING_FEEDBACK

SUPPRESS_BELOW = 5
MAX_PERIOD_DAYS = 3 * 366


WITHHELD = "withheld"
# A figure that adds up shown cells while others of it are suppressed: "at least" that many.
AT_LEAST = ">="
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
class Figure:
    """A count as reports publish it: the sum of the shown cells it covers.

    A suppressed cell adds nothing to ``value``; it only counts in ``hidden`` (and in
    ``small`` when it was hidden for being 1 to 4), so that the figure can say it is a
    lower bound. Every figure of every report is made this way from the same cells,
    which is why no two reports can be subtracted to give a suppressed cell back.
    """

    value: int = 0
    hidden: int = 0
    small: int = 0

    def __add__(self, other: Figure) -> Figure:
        return Figure(
            self.value + other.value, self.hidden + other.hidden, self.small + other.small
        )

    @classmethod
    def of_cell(cls, count: int, displayed: str) -> Figure:
        """Return the figure of one finest cell, displayed as ``displayed``."""
        if displayed == str(count):
            return cls(count)
        return cls(0, hidden=1, small=1 if displayed != WITHHELD else 0)

    @classmethod
    def of_count(cls, count: int) -> Figure:
        """Return the figure of a finest cell with no group around it (primary only)."""
        return cls.of_cell(count, shown(count))

    def shown(self) -> str:
        """Return the figure as the report shows it: "12", ">= 12", "< 5" or "withheld"."""
        if not self.hidden:
            return str(self.value)
        if self.value:
            return f"{AT_LEAST} {self.value}"
        if self.hidden == 1 and self.small == 1:
            return f"< {SUPPRESS_BELOW}"
        return WITHHELD


@dataclass(frozen=True)
class Durations:
    """Median and 90th percentile of a set of durations in days (None if too few)."""

    median: float | None
    p90: float | None


def _durations(values: list[int]) -> Durations:
    # Fewer than 5 values would let a reader work out individual cases.
    if len(values) < SUPPRESS_BELOW:
        return Durations(None, None)
    ordered = sorted(values)
    p90 = statistics.quantiles(ordered, n=10, method="inclusive")[-1]
    return Durations(statistics.median(ordered), p90)


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
    mission_slug: str = ""
    number: int = 0
    record: Outcome | None = None  # None: it does not say it contradicts the record
    correction_due: date | None = None


@dataclass(frozen=True)
class LedgerCheck:
    """Whether a mission's ledger numbers run without gaps, and which this report lists."""

    mission: str
    highest: int
    missing: list[int]
    slug: str = ""
    accounted: list[int] = field(default_factory=list)  # the numbers sent in the period


def _zero() -> Figure:
    return Figure()


@dataclass
class Report:
    """Everything on the periodic report.

    ``start`` and ``end`` are the whole months the report covers; counts cover them up
    to ``counted_until``, the last day of the last month that has ended (None: none has).
    """

    start: date
    end: date
    counted_until: date | None
    missions: list[Mission]
    total: Figure = field(default_factory=Figure)
    by_mission: dict[str, Figure] = field(default_factory=dict)  # by mission slug
    by_category: defaultdict[Category, Figure] = field(default_factory=lambda: defaultdict(_zero))
    by_state: defaultdict[State, Figure] = field(default_factory=lambda: defaultdict(_zero))
    to_acknowledge: Durations = Durations(None, None)
    to_feedback: Durations = Durations(None, None)
    ack_overdue: Figure = field(default_factory=Figure)
    feedback_overdue: Figure = field(default_factory=Figure)
    escalations: list[EscalationLine] = field(default_factory=list)
    ledger: list[LedgerCheck] = field(default_factory=list)
    audit_seq: int = 0
    audit_hash: str = ""
    # The day outcomes were judged on (a planned correction after it is overdue).
    on: date | None = None
    # Steps up the ladder taken in the period: by mission slug and reason, ledger labels.
    ladder: dict[str, dict[LadderReason, list[str]]] = field(default_factory=dict)

    def official_record(self) -> dict[Outcome, list[str]]:
        """Return the ledger labels of the period's escalations that contradicted an
        official report or figure, by what became of it (every outcome, even if none)."""
        found: dict[Outcome, list[str]] = {o: [] for o in Outcome}
        for line in self.escalations:
            if line.record is not None:
                found[line.record].append(line.label)
        return found

    def mission_cells(self) -> dict[str, str]:
        """Return the displayed counts by mission."""
        return {m.name: self.by_mission.get(m.slug, Figure()).shown() for m in self.missions}

    def category_cells(self) -> dict[Category, str]:
        """Return the displayed counts by category."""
        return {c: self.by_category[c].shown() for c in Category}

    def state_cells(self) -> dict[State, str]:
        """Return the displayed counts by state."""
        return {s: self.by_state[s].shown() for s in State}


def whole_months(start: date, end: date) -> tuple[date, date]:
    """Return the first day of ``start``'s month and the last day of ``end``'s month."""
    after = end.replace(day=28) + timedelta(days=4)  # a day in the next month
    return start.replace(day=1), after.replace(day=1) - timedelta(days=1)


@dataclass
class _Cell:
    """What came in for one mission in one month: the finest cells of every report."""

    total: int = 0
    categories: Counter[Category] = field(default_factory=Counter)
    states: Counter[State] = field(default_factory=Counter)
    ack_overdue: int = 0
    feedback_overdue: int = 0
    ack_days: list[int] = field(default_factory=list)
    feedback_days: list[int] = field(default_factory=list)


def _add_cell(report: Report, mission: Mission, cell: _Cell) -> None:
    """Add one mission-month's published figures to the report; suppressed ones add nothing.

    Within the month, the categories (and the states) add up to the mission-month's total,
    which is shown when it is five or more, so they are suppressed as a group: small ones,
    and as many more as it takes for none to be worked out from the total.
    """
    total = Figure.of_count(cell.total)
    report.total += total
    report.by_mission[mission.slug] = report.by_mission.get(mission.slug, Figure()) + total
    categories = {c: cell.categories[c] for c in Category}
    for category, displayed in suppress_group(categories).items():
        report.by_category[category] += Figure.of_cell(categories[category], displayed)
    states = {s: cell.states[s] for s in State}
    for state, displayed in suppress_group(states).items():
        report.by_state[state] += Figure.of_cell(states[state], displayed)
    report.ack_overdue += Figure.of_count(cell.ack_overdue)
    report.feedback_overdue += Figure.of_count(cell.feedback_overdue)


def build_report(session: Session, *, missions: list[Mission], start: date, end: date) -> Report:
    """Return the report for the whole months from ``start``'s to ``end``'s: observations
    received in those of them that have ended, and escalations sent in all of them."""
    if end < start:
        raise InvalidInput("end", Problem.OUT_OF_RANGE, detail="the period ends before it starts")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput(
            "end",
            Problem.TOO_LONG,
            limit=MAX_PERIOD_DAYS,
            detail=f"a period is at most {MAX_PERIOD_DAYS} days",
        )
    on = today()
    start, end = whole_months(start, end)
    counted_until = min(end, on.replace(day=1) - timedelta(days=1))
    report = Report(
        start=start,
        end=end,
        counted_until=counted_until if counted_until >= start else None,
        missions=missions,
        on=on,
    )
    by_id = {m.id: m for m in missions}
    if not by_id:
        return report
    cells: defaultdict[tuple[int, int, int], _Cell] = defaultdict(_Cell)
    rows = session.scalars(
        select(Observation).where(
            Observation.mission_id.in_(by_id),
            Observation.received_on >= start,
            Observation.received_on <= counted_until,
        )
    )
    for observation in rows:
        mission = by_id[observation.mission_id]
        received = observation.received_on
        cell = cells[(mission.id, received.year, received.month)]
        cell.total += 1
        cell.categories[observation.category] += 1
        cell.states[observation.state] += 1
        if observation.acknowledged_on:
            cell.ack_days.append((observation.acknowledged_on - received).days)
        elif observation.state is State.RECEIVED and on > ack_due(observation, mission):
            cell.ack_overdue += 1
        if observation.feedback_given_on:
            cell.feedback_days.append((observation.feedback_given_on - received).days)
        elif observation.state in AWAITING_FEEDBACK and on > feedback_due(observation, mission):
            cell.feedback_overdue += 1
    for (mission_id, _year, _month), cell in sorted(cells.items()):
        _add_cell(report, by_id[mission_id], cell)
    # Durations only from mission-months with five cases or more: a smaller one's cases
    # would be told apart by comparing reports with and without it.
    report.to_acknowledge = _durations(
        [d for c in cells.values() if len(c.ack_days) >= SUPPRESS_BELOW for d in c.ack_days]
    )
    report.to_feedback = _durations(
        [
            d
            for c in cells.values()
            if len(c.feedback_days) >= SUPPRESS_BELOW
            for d in c.feedback_days
        ]
    )
    _add_escalations(session, report, by_id)
    _add_ladder(session, report, by_id)
    report.audit_seq, report.audit_hash = chain_head(session)
    return report


def _add_escalations(session: Session, report: Report, by_id: dict[int, Mission]) -> None:
    on = report.on or today()
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
                mission_slug=escalation.mission.slug,
                number=escalation.ledger_number,
                record=outcome(escalation, on=on),
                correction_due=correction_due(escalation),
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
                slug=mission.slug,
                accounted=[e.number for e in report.escalations if e.mission_slug == mission.slug],
            )
        )


def _add_ladder(session: Session, report: Report, by_id: dict[int, Mission]) -> None:
    """Count the steps up the ladder taken in the period's months, by mission and reason."""
    report.ladder = {m.slug: {r: [] for r in LadderReason} for m in by_id.values()}
    rows = session.execute(
        select(LadderStep.reason, Escalation)
        .join(Escalation, Escalation.id == LadderStep.escalation_id)
        .where(
            Escalation.mission_id.in_(by_id),
            LadderStep.taken_on >= report.start,
            LadderStep.taken_on <= report.end,
        )
        .order_by(Escalation.mission_id, Escalation.ledger_number, LadderStep.reason)
    )
    for reason, escalation in rows:
        report.ladder[by_id[escalation.mission_id].slug][reason].append(escalation.label)


# --- the period and the figures as rows (CSV and the command line) ----------------------------


def last_full_quarter(on: date) -> tuple[date, date]:
    """Return the first and last day of the last calendar quarter that has ended by ``on``."""
    this_quarter_start = date(on.year, 3 * ((on.month - 1) // 3) + 1, 1)
    end = this_quarter_start - timedelta(days=1)
    return date(end.year, end.month - 2, 1), end


def _days(value: float | None) -> str:
    return "too few" if value is None else f"{value:.1f}".removesuffix(".0")


REPORT_FORMAT = "dissent-report/1"


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def report_document(report: Report, *, generated_at: datetime) -> dict[str, Any]:
    """Return the report as one JSON-ready document: counts as they are shown."""
    return {
        "format": REPORT_FORMAT,
        "period": {
            "start": report.start.isoformat(),
            "end": report.end.isoformat(),
            "counted_until": _day(report.counted_until),
            "generated_at": generated_at.isoformat(timespec="seconds"),
            # The day the official record's outcomes were judged on (overdue after it).
            "as_of": (report.on or generated_at.date()).isoformat(),
        },
        "missions": [{"slug": m.slug, "name": m.name} for m in report.missions],
        "observations": {
            "total": report.total.shown(),
            "by_mission": {
                m.slug: report.by_mission.get(m.slug, Figure()).shown() for m in report.missions
            },
            "by_category": {c.value: cell for c, cell in report.category_cells().items()},
            "by_state": {s.value: cell for s, cell in report.state_cells().items()},
        },
        "handling": {
            name: {"median": _days(durations.median), "p90": _days(durations.p90)}
            for name, durations in (
                ("days_to_acknowledge", report.to_acknowledge),
                ("days_to_feedback", report.to_feedback),
            )
        },
        "overdue": {
            "acknowledgement": report.ack_overdue.shown(),
            "feedback": report.feedback_overdue.shown(),
        },
        "escalations": [
            {
                "label": line.label,
                "mission": line.mission_slug,
                "number": line.number,
                "sent_on": line.sent_on.isoformat(),
                "state": line.state.value,
                "response": line.response.value if line.response else None,
                "planned_for": _day(line.planned_for),
                "versions": line.versions,
                "official_record": line.record.value if line.record else None,
                "correction_due": _day(line.correction_due),
            }
            for line in report.escalations
        ],
        "official_record": {
            o.value: {"count": len(labels), "ledger_numbers": labels}
            for o, labels in report.official_record().items()
        },
        "ladder": {
            slug: {
                reason.value: {"count": len(labels), "ledger_numbers": labels}
                for reason, labels in steps.items()
            }
            for slug, steps in report.ladder.items()
        },
        "ledger": [
            {
                "mission": check.slug,
                "highest": check.highest,
                "missing": check.missing,
                "accounted": check.accounted,
            }
            for check in report.ledger
        ],
        "audit": {"head_seq": report.audit_seq, "head_hash": report.audit_hash},
    }


def _numbers(values: list[Any]) -> str:
    return " ".join(map(str, values)) or "none"


def document_rows(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Return every figure of a report document as (section, key, value) rows."""
    names = {m["slug"]: m["name"] for m in document["missions"]}
    period, counts = document["period"], document["observations"]
    rows: list[tuple[str, str, str]] = [
        ("period", "start", period["start"]),
        ("period", "end", period["end"]),
        ("period", "counted_until", period["counted_until"] or "none"),
        ("period", "generated_at", period["generated_at"]),
        ("period", "as_of", period["as_of"]),
        *[("mission", slug, name) for slug, name in names.items()],
        ("total", "observations", counts["total"]),
        *[("by_mission", names[slug], cell) for slug, cell in counts["by_mission"].items()],
        *[("by_category", key, cell) for key, cell in counts["by_category"].items()],
        *[("by_state", key, cell) for key, cell in counts["by_state"].items()],
    ]
    for section, durations in document["handling"].items():
        rows += [(section, "median", durations["median"]), (section, "p90", durations["p90"])]
    rows += [("overdue", key, cell) for key, cell in document["overdue"].items()]
    for line in document["escalations"]:
        section = f"escalation {line['label']}"
        rows += [
            (section, "mission", names[line["mission"]]),
            (section, "sent_on", line["sent_on"]),
            (section, "state", line["state"]),
            (section, "response", line["response"] or ""),
            (section, "planned_for", line["planned_for"] or ""),
            (section, "versions", str(line["versions"])),
            (section, "official_record", line["official_record"] or ""),
            (section, "correction_due", line["correction_due"] or ""),
        ]
    for key, found in document["official_record"].items():
        rows += [
            ("official_record", key, str(found["count"])),
            ("official_record", f"{key} ledger_numbers", _numbers(found["ledger_numbers"])),
        ]
    for slug, steps in document.get("ladder", {}).items():
        for key, found in steps.items():
            rows += [
                (f"ladder {names[slug]}", key, str(found["count"])),
                (
                    f"ladder {names[slug]}",
                    f"{key} ledger_numbers",
                    _numbers(found["ledger_numbers"]),
                ),
            ]
    for check in document["ledger"]:
        section = f"ledger {names[check['mission']]}"
        rows += [
            (section, "highest", str(check["highest"])),
            (section, "missing", _numbers(check["missing"])),
            (section, "accounted", _numbers(check["accounted"])),
        ]
    rows += [
        ("audit", "head_seq", str(document["audit"]["head_seq"])),
        ("audit", "head_hash", document["audit"]["head_hash"]),
    ]
    return rows


def report_rows(report: Report, *, generated_at: datetime) -> list[tuple[str, str, str]]:
    """Return every figure of the report as (section, key, value), counts as they are shown."""
    return document_rows(report_document(report, generated_at=generated_at))


# A cell starting with one of these is a formula to a spreadsheet; mission names are
# typed by an operator, so they are defused rather than trusted.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def rows_csv(rows: list[tuple[str, str, str]]) -> str:
    """Return rows as CSV: a header, then one (section, key, value) row per figure."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("section", "key", "value"))
    for row in rows:
        writer.writerow(["'" + cell if cell.startswith(_FORMULA_START) else cell for cell in row])
    return out.getvalue()


def report_csv(report: Report, *, generated_at: datetime) -> str:
    """Return the report as CSV: a header, then one (section, key, value) row per figure."""
    return rows_csv(report_rows(report, generated_at=generated_at))
