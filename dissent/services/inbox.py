"""The adviser's inbox: observations of their missions, overdue and newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from ..models import Mission, Observation, StaffUser, State, staff_mission, today
from .deadlines import ack_due, ack_overdue
from .errors import NotFound

PAGE_SIZE = 50


@dataclass(frozen=True)
class InboxRow:
    """One line of the inbox."""

    observation: Observation
    ack_due: date
    overdue: bool


@dataclass(frozen=True)
class Inbox:
    """A page of the inbox with its counts."""

    rows: list[InboxRow]
    overdue_count: int
    total: int


def _mission_ids(session: Session, staff: StaffUser) -> list[int]:
    return list(
        session.scalars(
            select(staff_mission.c.mission_id).where(staff_mission.c.staff_id == staff.id)
        )
    )


def adviser_inbox(session: Session, staff: StaffUser, *, page: int = 1) -> Inbox:
    """Return a page of the adviser's inbox, overdue first, then newest."""
    mission_ids = _mission_ids(session, staff)
    rows = session.execute(
        select(Observation, Mission)
        .join(Mission, Mission.id == Observation.mission_id)
        .where(Observation.mission_id.in_(mission_ids))
        .order_by(
            case((Observation.state == State.RECEIVED, 0), else_=1),
            Observation.received_on.asc(),
            Observation.id.desc(),
        )
    ).all()
    on = today()
    all_rows = [
        InboxRow(observation=o, ack_due=ack_due(o, m), overdue=ack_overdue(o, m, on=on))
        for o, m in rows
    ]
    # Overdue first; among the rest, newest first.
    overdue = [r for r in all_rows if r.overdue]
    rest = sorted(
        (r for r in all_rows if not r.overdue),
        key=lambda r: (r.observation.received_on, r.observation.id),
        reverse=True,
    )
    ordered = overdue + rest
    start = (max(page, 1) - 1) * PAGE_SIZE
    return Inbox(
        rows=ordered[start : start + PAGE_SIZE], overdue_count=len(overdue), total=len(ordered)
    )


def observation_for_adviser(session: Session, staff: StaffUser, ref: str) -> Observation:
    """Return the observation ``ref`` if it belongs to one of the adviser's missions."""
    observation = session.scalar(select(Observation).where(Observation.ref == ref))
    if observation is None or observation.mission_id not in _mission_ids(session, staff):
        raise NotFound
    return observation
