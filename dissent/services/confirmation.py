"""Confirming a newcomer's key: no one person adds a reader to a mission.

The operator creates accounts and hands out enrolment links, so the operator alone
could enrol an adviser account and read everything filed afterwards. To prevent that,
a new member's key counts for a mission only once a second person has confirmed it:

* an adviser's key is read by the mission (``keyring``) only after an adviser of that
  mission, whose own key is confirmed, compared it with the newcomer in person;
* a mission's first adviser has no such colleague: a second operator account (not the
  one that made the account on the operator page) confirms it, or the recovery key's
  custodians do, from the command line (``dissent user confirm-key``), proving it by
  holding the recovery key; an account made with ``dissent user add`` has no known
  maker, so only the custodians confirm it as a first adviser;
* a leader's key is confirmed by an adviser of the mission; only confirmed leaders are
  offered (pre-selected) when an adviser sends a summary;
* an oversight member's key likewise, by an adviser of the mission; escalations and
  responses are sealed to it only from then on (``keyring``).

To confirm, the confirmer types the fingerprint of the newcomer's key, as the newcomer
reads it from their own screen. The server compares it with the key it holds, so a
click alone confirms nothing, and a key the operator swapped in would not match what
the newcomer sees. What was confirmed is the key itself (``confirmed_key``): an account
that gets new keys later needs confirming again.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import Mission, Role, StaffUser, staff_mission, utcnow
from . import audit
from .errors import InvalidInput, NotFound, Problem

if TYPE_CHECKING:
    from sqlalchemy import CursorResult

FINGERPRINT_GROUPS = 4  # four groups of four characters: 80 bits
_GROUP = 4
# Written as confirmed_by when the recovery key's custodians confirmed a key, and for
# keys that existed before confirmation did (they had been reading all along).
BY_CUSTODIANS = "recovery custodians"
BY_DEMO = "demo"
# ``created_by`` of an account made with ``dissent user add``: whoever has the server's
# shell may also hold an operator account, so such a first adviser is confirmed by the
# recovery custodians, not by an operator.
BY_COMMAND_LINE = "cli"


def fingerprint(recipient: str) -> str:
    """Return the short fingerprint of a key, as people read it aloud: ``ABCD EFGH …``."""
    digest = hashlib.sha256(b"dissent/v1/key-fingerprint" + recipient.encode()).digest()
    letters = base64.b32encode(digest).decode()[: FINGERPRINT_GROUPS * _GROUP]
    return " ".join(letters[i : i + _GROUP] for i in range(0, len(letters), _GROUP))


def _normalise(typed: str) -> str:
    """Return ``typed`` without spaces, dashes and case; 0/1/8 read as O/I/B (base32 has
    no 0, 1 or 8, and they are what people mistype for those letters)."""
    cleaned = "".join(ch for ch in typed.upper() if ch.isalnum())
    return cleaned.translate(str.maketrans("018", "OIB"))


@dataclass(frozen=True)
class Pending:
    """A member of a mission whose key waits for confirmation."""

    staff: StaffUser
    mission: Mission

    @property
    def fingerprint(self) -> str:
        """Return the fingerprint the confirmer must find on the newcomer's screen."""
        return fingerprint(self.staff.recipient or "")


def is_confirmed(session: Session, *, staff_id: int, mission_id: int) -> bool:
    """Return whether the account's present key is confirmed for the mission."""
    return (
        session.scalar(
            select(StaffUser.id)
            .join(staff_mission, staff_mission.c.staff_id == StaffUser.id)
            .where(
                StaffUser.id == staff_id,
                staff_mission.c.mission_id == mission_id,
                staff_mission.c.confirmed_key == StaffUser.recipient,
            )
        )
        is not None
    )


def _unconfirmed_members(session: Session, mission_ids: list[int]) -> list[Pending]:
    rows = session.execute(
        select(StaffUser, Mission)
        .join(staff_mission, staff_mission.c.staff_id == StaffUser.id)
        .join(Mission, Mission.id == staff_mission.c.mission_id)
        .where(
            staff_mission.c.mission_id.in_(mission_ids),
            StaffUser.active.is_(True),
            StaffUser.recipient.is_not(None),
            StaffUser.role.in_([Role.ADVISER, Role.LEADERSHIP, Role.OVERSIGHT]),
            (staff_mission.c.confirmed_key.is_(None))
            | (staff_mission.c.confirmed_key != StaffUser.recipient),
        )
        .order_by(Mission.name, StaffUser.username)
    )
    return [Pending(staff, mission) for staff, mission in rows]


def _missions_with_confirmed_adviser(session: Session) -> set[int]:
    return set(
        session.scalars(
            select(staff_mission.c.mission_id)
            .join(StaffUser, StaffUser.id == staff_mission.c.staff_id)
            .where(
                StaffUser.role == Role.ADVISER,
                StaffUser.active.is_(True),
                staff_mission.c.confirmed_key == StaffUser.recipient,
            )
        )
    )


def to_confirm(session: Session, confirmer: StaffUser) -> list[Pending]:
    """Return the keys ``confirmer`` may confirm.

    An adviser confirms advisers, leaders and oversight of the missions where their own key is
    confirmed. An operator confirms only the first adviser of a mission (no confirmed
    adviser there yet), and not one they made themselves.
    """
    if confirmer.role is Role.ADVISER:
        own = [
            m.id
            for m in confirmer.missions
            if is_confirmed(session, staff_id=confirmer.id, mission_id=m.id)
        ]
        return [p for p in _unconfirmed_members(session, own) if p.staff.id != confirmer.id]
    if confirmer.role is Role.ADMIN:
        covered = _missions_with_confirmed_adviser(session)
        open_missions = list(session.scalars(select(Mission.id).where(Mission.id.not_in(covered))))
        return [
            p
            for p in _unconfirmed_members(session, open_missions)
            if p.staff.role is Role.ADVISER
            and p.staff.created_by not in (None, BY_COMMAND_LINE, confirmer.username)
        ]
    return []


def awaiting(session: Session, staff: StaffUser) -> list[Mission]:
    """Return the missions where ``staff``'s own key still waits for confirmation."""
    if staff.recipient is None or staff.role is Role.ADMIN:
        return []
    return [
        m for m in staff.missions if not is_confirmed(session, staff_id=staff.id, mission_id=m.id)
    ]


def confirm(
    session: Session,
    *,
    confirmer: StaffUser | None,
    staff_id: int,
    mission_id: int,
    typed_fingerprint: str,
) -> StaffUser:
    """Confirm ``staff_id``'s key for ``mission_id``; ``confirmer`` None: the custodians.

    Raises :class:`NotFound` when that key is not waiting for this confirmer, and
    :class:`InvalidInput` (field ``fingerprint``) when the typed fingerprint is not the
    key's. The change is a conditional update: two confirmers at once confirm once.
    """
    staff = session.get(StaffUser, staff_id)
    if staff is None or staff.recipient is None:
        raise NotFound
    if confirmer is not None and not any(
        p.staff.id == staff_id and p.mission.id == mission_id
        for p in to_confirm(session, confirmer)
    ):
        raise NotFound
    if confirmer is None and not any(m.id == mission_id for m in staff.missions):
        raise NotFound
    if _normalise(typed_fingerprint) != _normalise(fingerprint(staff.recipient)):
        raise InvalidInput(
            "fingerprint",
            Problem.MALFORMED,
            detail="fingerprint: not the fingerprint of this person's key",
        )
    by = confirmer.username if confirmer is not None else BY_CUSTODIANS
    result = session.execute(
        update(staff_mission)
        .where(
            staff_mission.c.staff_id == staff_id,
            staff_mission.c.mission_id == mission_id,
            (staff_mission.c.confirmed_key.is_(None))
            | (staff_mission.c.confirmed_key != staff.recipient),
        )
        .values(confirmed_key=staff.recipient, confirmed_by=by, confirmed_at=utcnow())
    )
    if cast("CursorResult[Any]", result).rowcount:
        mission = session.get(Mission, mission_id)
        audit.record(
            session,
            actor=by,
            action=audit.Action.ACCOUNT_CHANGE,
            subject=f"confirm-key:{staff.username}:{mission.slug if mission else mission_id}",
        )
    return staff


def confirm_all(session: Session, staff: StaffUser, *, by: str) -> None:
    """Confirm every membership of ``staff`` at once (the demo instance only)."""
    session.flush()
    session.execute(
        update(staff_mission)
        .where(staff_mission.c.staff_id == staff.id)
        .values(confirmed_key=staff.recipient, confirmed_by=by, confirmed_at=utcnow())
    )


def confirmed_advisers(session: Session, mission_id: int) -> list[tuple[StaffUser, datetime]]:
    """Return the mission's active advisers whose key is confirmed, with the date."""
    rows = session.execute(
        select(StaffUser, staff_mission.c.confirmed_at)
        .join(staff_mission, staff_mission.c.staff_id == StaffUser.id)
        .where(
            staff_mission.c.mission_id == mission_id,
            StaffUser.role == Role.ADVISER,
            StaffUser.active.is_(True),
            staff_mission.c.confirmed_key == StaffUser.recipient,
        )
        .order_by(staff_mission.c.confirmed_at, StaffUser.username)
    )
    return [(staff, confirmed_at) for staff, confirmed_at in rows]
