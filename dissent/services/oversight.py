"""Oversight: the escalations that went up the ladder above leadership, as the
mission's oversight members see them (read-only, and a response through ``leadership``).

An oversight member is among the readers of every escalation of their mission sealed
since their key was confirmed (``keyring``: the run that takes a step holds no key, so
they must be readers beforehand). What they are *shown* is decided here: only the
escalations of their missions that took at least one step (``ladder``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, false, select
from sqlalchemy.orm import Session

from ..models import (
    Escalation,
    EscalationState,
    LadderStep,
    Response,
    Role,
    StaffUser,
    staff_mission,
)
from .leadership import find_escalation, list_order, shown_escalations

_STEPPED = exists().where(LadderStep.escalation_id == Escalation.id)


def _shown_to(staff: StaffUser) -> ColumnElement[bool]:
    """Return the condition of the escalations shown to ``staff``: an oversight member's
    missions' escalations that went up the ladder; none for anyone else."""
    missions = [m.id for m in staff.missions]
    if staff.role is not Role.OVERSIGHT or not missions:
        return false()
    return and_(Escalation.mission_id.in_(missions), _STEPPED)


def escalations_for_oversight(session: Session, staff: StaffUser) -> list[Escalation]:
    """Return the escalations of ``staff``'s missions that went up the ladder."""
    return shown_escalations(session, _shown_to(staff))


@dataclass(frozen=True)
class OversightLine:
    """One escalation on an oversight member's list."""

    escalation: Escalation
    latest: Response | None

    @property
    def waiting(self) -> bool:
        """Return whether nobody has answered it yet."""
        return self.escalation.state is not EscalationState.RESPONDED


def oversight_list(session: Session, staff: StaffUser) -> list[OversightLine]:
    """Return the stepped escalations: by mission, unanswered first, oldest first."""
    lines = [
        OversightLine(e, e.responses[-1] if e.responses else None)
        for e in escalations_for_oversight(session, staff)
    ]
    return sorted(lines, key=list_order)


def escalation_for_oversight(
    session: Session, staff: StaffUser, *, mission_slug: str, number: int
) -> Escalation:
    """Return one stepped escalation of ``staff``'s missions, by its ledger label parts."""
    return find_escalation(session, _shown_to(staff), mission_slug=mission_slug, number=number)


class Reading(enum.StrEnum):
    """Whether an oversight member's key opens an escalation's current version."""

    OPEN = "open"
    # Nobody compared the member's key yet: nothing is sealed to it (``keyring``).
    KEY_UNCONFIRMED = "key_unconfirmed"
    # Confirmed after the current version was sealed: a new version would include it.
    SEALED_BEFORE = "sealed_before"


def _confirmed_at(session: Session, *, staff_id: int, mission_id: int) -> datetime | None:
    return session.scalar(
        select(staff_mission.c.confirmed_at)
        .join(StaffUser, StaffUser.id == staff_mission.c.staff_id)
        .where(
            staff_mission.c.staff_id == staff_id,
            staff_mission.c.mission_id == mission_id,
            staff_mission.c.confirmed_key == StaffUser.recipient,
        )
    )


def reading(session: Session, escalation: Escalation, staff: StaffUser) -> Reading:
    """Return whether ``staff``'s key can open the current version, and if not, why:
    their key is not confirmed for the mission, or was confirmed after it was sealed."""
    confirmed = _confirmed_at(session, staff_id=staff.id, mission_id=escalation.mission_id)
    if confirmed is None:
        return Reading.KEY_UNCONFIRMED
    if escalation.versions and escalation.versions[-1].created_at < confirmed:
        return Reading.SEALED_BEFORE
    return Reading.OPEN


def without_current_version(session: Session, escalation: Escalation) -> list[StaffUser]:
    """Return the mission's confirmed oversight members who cannot open the current
    version of a stepped escalation (sealed before their key was confirmed): the
    adviser's new version would include them. Empty for an escalation that never stepped."""
    if not escalation.ladder_steps or not escalation.versions:
        return []
    sealed_at = escalation.versions[-1].created_at
    rows = session.execute(
        select(StaffUser, staff_mission.c.confirmed_at)
        .join(staff_mission, staff_mission.c.staff_id == StaffUser.id)
        .where(
            staff_mission.c.mission_id == escalation.mission_id,
            StaffUser.role == Role.OVERSIGHT,
            StaffUser.active.is_(True),
            staff_mission.c.confirmed_key == StaffUser.recipient,
        )
        .order_by(StaffUser.username)
    )
    return [person for person, confirmed_at in rows if confirmed_at > sealed_at]
