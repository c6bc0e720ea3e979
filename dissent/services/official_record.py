"""The official record: escalations that contradict a report or figure, and what became
of that report or figure.

When escalating, the adviser states whether the summary contradicts an official report
or figure and names it in de-identified form (its title or the figure as reported, and
the period it covers). The statement is part of the signed version (``verification``).
Leadership's response to such an escalation must decide about the record: corrected
(with the reference of the correction), a correction planned (by a date), or not
corrected (with the reason). A planned correction past its date is overdue until a
later response decides again. The periodic report counts each outcome by ledger number.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Escalation, RecordDecision, Response, StaffUser, staff_mission
from .errors import InvalidInput, Problem, check_text

RECORD_TITLE_MAX = 300
RECORD_PERIOD_MAX = 100
RECORD_NOTE_MAX = 2_000


@dataclass(frozen=True)
class RecordClaim:
    """The adviser's statement about the official record, as signed with a version."""

    contradicts: bool
    title: str = ""  # the report, or the figure as reported
    period: str = ""  # the period it covers

    def document(self) -> dict[str, Any]:
        """Return the statement as it is sealed with the summary."""
        return {"contradicts": self.contradicts, "title": self.title, "period": self.period}

    def sha256(self) -> str:
        """Return the SHA-256 (hex) of the statement's canonical form, which is signed."""
        canonical = json.dumps(
            self.document(), ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def text(self) -> str:
        """Return the words of the statement that could identify someone (to flag them)."""
        return f"{self.title}\n{self.period}" if self.contradicts else ""

    @classmethod
    def from_document(cls, value: object) -> RecordClaim | None:
        """Return the statement sealed in a document (None: the document has none)."""
        if not isinstance(value, dict):
            return None
        return cls(
            contradicts=value.get("contradicts") is True,
            title=str(value.get("title", "")),
            period=str(value.get("period", "")),
        )


NO_CONTRADICTION = RecordClaim(contradicts=False)


def check_claim(*, contradicts: bool, title: str = "", period: str = "") -> RecordClaim:
    """Return the statement as it will be signed, or raise :class:`InvalidInput`: a
    contradicted report or figure is named, with its period."""
    if not contradicts:
        return NO_CONTRADICTION
    return RecordClaim(
        contradicts=True,
        title=" ".join(check_text(title, field="record_title", limit=RECORD_TITLE_MAX).split()),
        period=" ".join(check_text(period, field="record_period", limit=RECORD_PERIOD_MAX).split()),
    )


def contradicts(escalation: Escalation) -> bool:
    """Return whether the escalation's current version says it contradicts the record."""
    return bool(escalation.versions) and escalation.versions[-1].contradicts_record is True


# --- leadership's decision --------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """Leadership's decision about the record, as a response carries it."""

    decision: RecordDecision
    note: str = ""  # the reference of the correction, or why it is not corrected
    due: date | None = None  # the date a planned correction is made by


def check_decision(
    escalation: Escalation,
    *,
    decision: RecordDecision | None,
    note: str = "",
    due: date | None = None,
    on: date,
) -> Decision | None:
    """Return the decision a response to ``escalation`` records, or raise
    :class:`InvalidInput`: one that contradicts the record needs a decision, with a
    reference (corrected), a date not in the past (planned) or a reason (not corrected)."""
    if not contradicts(escalation):
        return None  # nothing to decide: a decision sent anyway is not kept
    if decision is None:
        raise InvalidInput(
            "record_decision",
            Problem.MISSING,
            detail="this escalation contradicts an official report or figure: decide about it",
        )
    required = decision is not RecordDecision.CORRECTION_PLANNED
    note = check_text(note, field="record_note", limit=RECORD_NOTE_MAX, required=required)
    if decision is not RecordDecision.CORRECTION_PLANNED:
        return Decision(decision, note)
    if due is None:
        raise InvalidInput(
            "correction_due", Problem.MISSING, detail="a planned correction needs a date"
        )
    if due < on:
        raise InvalidInput(
            "correction_due", Problem.OUT_OF_RANGE, detail="the planned date is in the past"
        )
    return Decision(decision, note, due)


class Outcome(enum.StrEnum):
    """Where the record stands for an escalation that contradicts it."""

    AWAITING_DECISION = "awaiting_decision"
    CORRECTED = "corrected"
    CORRECTION_PLANNED = "correction_planned"
    CORRECTION_OVERDUE = "correction_overdue"
    NOT_CORRECTED = "not_corrected"


def latest_decision(escalation: Escalation) -> Response | None:
    """Return the escalation's latest response that decided about the record."""
    decided = [r for r in escalation.responses if r.record_decision is not None]
    return decided[-1] if decided else None


def outcome(escalation: Escalation, *, on: date) -> Outcome | None:
    """Return where the record stands on ``on`` (None: no contradiction is stated).

    A planned correction is overdue from the day after its date, until a later response
    decides again.
    """
    if not contradicts(escalation):
        return None
    latest = latest_decision(escalation)
    if latest is None or latest.record_decision is None:
        return Outcome.AWAITING_DECISION
    if latest.record_decision is RecordDecision.CORRECTION_PLANNED:
        if latest.correction_due is not None and on > latest.correction_due:
            return Outcome.CORRECTION_OVERDUE
        return Outcome.CORRECTION_PLANNED
    return Outcome(latest.record_decision.value)


def correction_due(escalation: Escalation) -> date | None:
    """Return the date of the escalation's planned correction, if that is the decision."""
    latest = latest_decision(escalation)
    if latest is None or latest.record_decision is not RecordDecision.CORRECTION_PLANNED:
        return None
    return latest.correction_due


def overdue_corrections(session: Session, staff: StaffUser, *, on: date) -> list[Escalation]:
    """Return the escalations of the staff member's missions whose planned correction of
    the official record is past its date, oldest date first."""
    candidates = session.scalars(
        select(Escalation)
        .join(staff_mission, staff_mission.c.mission_id == Escalation.mission_id)
        .where(
            staff_mission.c.staff_id == staff.id,
            Escalation.responses.any(Response.record_decision == RecordDecision.CORRECTION_PLANNED),
        )
        .order_by(Escalation.mission_id, Escalation.ledger_number)
    )
    late = [e for e in candidates if outcome(e, on=on) is Outcome.CORRECTION_OVERDUE]
    return sorted(late, key=lambda e: (correction_due(e) or on, e.mission_id, e.ledger_number))
