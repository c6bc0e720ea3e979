"""The adviser's inbox: observations of their missions, overdue and newest first.

Ordering, paging and counting happen in the database, so the page costs the same with
ten observations or ten thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from ..models import Mission, Observation, StaffUser, State, staff_mission, today
from .deadlines import ack_due
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

    @property
    def pages(self) -> int:
        """Return how many pages the inbox has (at least one)."""
        return max(1, -(-self.total // PAGE_SIZE))


def _missions(session: Session, staff: StaffUser) -> list[Mission]:
    return list(
        session.scalars(
            select(Mission)
            .join(staff_mission, staff_mission.c.mission_id == Mission.id)
            .where(staff_mission.c.staff_id == staff.id)
        )
    )


def _ack_overdue(missions: list[Mission], on: date) -> ColumnElement[bool]:
    """SQL for "acknowledgement is late": per mission, received before its cut-off day."""
    late = [
        and_(
            Observation.mission_id == m.id,
            Observation.received_on < on - timedelta(days=m.ack_days),
        )
        for m in missions
    ]
    return and_(Observation.state == State.RECEIVED, or_(*late) if late else false())


def adviser_inbox(session: Session, staff: StaffUser, *, page: int = 1) -> Inbox:
    """Return a page of the adviser's inbox: overdue first (longest waiting first), then newest."""
    missions = _missions(session, staff)
    by_id = {m.id: m for m in missions}
    mine = Observation.mission_id.in_(list(by_id))
    on = today()
    overdue = _ack_overdue(missions, on)
    total = session.scalar(select(func.count()).select_from(Observation).where(mine)) or 0
    overdue_count = (
        session.scalar(select(func.count()).select_from(Observation).where(mine, overdue)) or 0
    )
    observations = session.scalars(
        select(Observation)
        .where(mine)
        .order_by(
            case((overdue, 0), else_=1),
            # Overdue: the longest-waiting first. Then everything else, newest first.
            case((overdue, Observation.received_on), else_=None).asc(),
            Observation.received_on.desc(),
            Observation.id.desc(),
        )
        .limit(PAGE_SIZE)
        .offset((max(page, 1) - 1) * PAGE_SIZE)
    )
    rows = []
    for observation in observations:
        due = ack_due(observation, by_id[observation.mission_id])
        late = observation.state is State.RECEIVED and on > due
        rows.append(InboxRow(observation=observation, ack_due=due, overdue=late))
    return Inbox(rows=rows, overdue_count=overdue_count, total=total)


def observation_for_adviser(session: Session, staff: StaffUser, ref: str) -> Observation:
    """Return the observation ``ref`` if it belongs to one of the adviser's missions."""
    observation = session.scalar(select(Observation).where(Observation.ref == ref))
    if observation is None or observation.mission_id not in {
        m.id for m in _missions(session, staff)
    }:
        raise NotFound
    return observation
