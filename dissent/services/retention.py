"""Retention: deleting closed observations for good once they need not be kept.

What is deleted is chosen by the operator (``dissent purge --closed-before DATE``), from
the instance's retention rule; dissent does not guess one. A purged observation goes
with everything it holds (thread, notes, reasons, proposals, attachment records and
files) and its source's lookup record when nothing else of theirs is left, so the
codename opens nothing any more. Escalated observations are kept whole: the escalation
ledger must stay without gaps (docs/decisions.md, 12), and leadership's responses belong to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ..config import Settings
from ..models import Enrolment, Escalation, Observation, Source, State, utcnow
from . import audit
from .keyring import file_names_of
from .locks import lock_mission
from .storage import remove_after_commit


@dataclass(frozen=True)
class PurgePlan:
    """What a purge would delete (counts and ids only, never content)."""

    closed_before: date | None
    observation_ids: list[int]
    source_ids: list[int]
    blob_names: list[str]
    escalated_kept: int
    spent_enrolments: int

    @property
    def empty(self) -> bool:
        """Return whether there is nothing to delete."""
        return not self.observation_ids and not self.spent_enrolments


def _spent_enrolments(now: datetime) -> ColumnElement[bool]:
    return or_(Enrolment.used_at.is_not(None), Enrolment.expires_at <= now)


def _closed_before(day: date) -> tuple[ColumnElement[bool], ...]:
    return (Observation.state == State.CLOSED, Observation.closed_on < day)


_ESCALATED = exists().where(Escalation.observation_id == Observation.id)


def plan_purge(session: Session, *, closed_before: date | None) -> PurgePlan:
    """Return what :func:`purge` would delete: observations closed before
    ``closed_before`` that were never escalated (none if it is None), and enrolment
    links that were used or have expired."""
    ids: list[int] = []
    kept = 0
    if closed_before is not None:
        closed = _closed_before(closed_before)
        ids = list(session.scalars(select(Observation.id).where(*closed, ~_ESCALATED)))
        kept = (
            session.scalar(select(func.count()).select_from(Observation).where(*closed, _ESCALATED))
            or 0
        )
    sources = (
        list(
            session.scalars(select(Observation.source_id).where(Observation.id.in_(ids)).distinct())
        )
        if ids
        else []
    )
    blobs = file_names_of(session, ids) if ids else []
    spent = (
        session.scalar(
            select(func.count()).select_from(Enrolment).where(_spent_enrolments(utcnow()))
        )
        or 0
    )
    return PurgePlan(closed_before, ids, sources, blobs, kept, spent)


def purge(session: Session, settings: Settings, plan: PurgePlan, *, actor: str = "cli") -> int:
    """Delete what ``plan`` names; their files go once the deletion commits.

    Returns the number of observations deleted. Observations that changed since the
    plan (reopened, say) are left alone: the deletion re-checks the rule.
    """
    deleted = 0
    if plan.observation_ids and plan.closed_before is not None:
        # Wait for any access grant on these missions (it may be rewriting their files).
        missions = session.scalars(
            select(Observation.mission_id)
            .where(Observation.id.in_(plan.observation_ids))
            .distinct()
        )
        for mission_id in list(missions):
            lock_mission(session, mission_id)
        still_closed = select(Observation.id).where(
            Observation.id.in_(plan.observation_ids),
            *_closed_before(plan.closed_before),
            ~_ESCALATED,
        )
        ids = list(session.scalars(still_closed))
        blobs = file_names_of(session, ids)
        # Everything an observation holds goes with it (ON DELETE CASCADE): messages,
        # attachments, notes, state changes, proposals.
        session.execute(delete(Observation).where(Observation.id.in_(ids)))
        deleted = len(ids)
        session.execute(
            delete(Source).where(
                Source.id.in_(plan.source_ids),
                ~exists().where(Observation.source_id == Source.id),
            )
        )
    else:
        blobs = []
    now = utcnow()
    spent = (
        session.scalar(select(func.count()).select_from(Enrolment).where(_spent_enrolments(now)))
        or 0
    )
    session.execute(delete(Enrolment).where(_spent_enrolments(now)))
    audit.record(
        session,
        actor=actor,
        action=audit.Action.PURGE,
        subject=(
            f"{deleted} observations closed before "
            f"{plan.closed_before.isoformat() if plan.closed_before else '-'}; "
            f"{spent} enrolment links"
        ),
    )
    remove_after_commit(session, settings, blobs)
    return deleted
