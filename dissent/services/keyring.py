"""Who can read what: the recipients of every ciphertext (DESIGN §3, invariant 4)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..crypto import PublicKeyRecipient, parse_recipient
from ..models import Role, StaffUser, staff_mission

# Built once: this runs on every ciphertext written (a source's every message), and
# a prebuilt statement skips most of SQLAlchemy's per-call statement work.
_ADVISER_RECIPIENTS = (
    select(StaffUser.recipient)
    .join(staff_mission, staff_mission.c.staff_id == StaffUser.id)
    .where(
        staff_mission.c.mission_id == bindparam("mission_id"),
        StaffUser.role == Role.ADVISER,
        StaffUser.active.is_(True),
        StaffUser.recipient.is_not(None),
    )
    .order_by(StaffUser.id)
)


def adviser_recipients(session: Session | Connection, mission_id: int) -> list[PublicKeyRecipient]:
    """Return the recipients of the mission's active, enrolled advisers.

    Read from the database every time, never from a cache: an adviser enrolled or
    deactivated a moment ago (in any worker) changes who can read the next text.
    Parsing is cached (``parse_recipient``), as the keys themselves never change.
    """
    rows = session.scalars(_ADVISER_RECIPIENTS, {"mission_id": mission_id})
    return [parse_recipient(text) for text in rows if text]


def content_recipients(
    session: Session | Connection,
    settings: Settings,
    *,
    mission_id: int,
    source_recipient: str,
    extra: Sequence[PublicKeyRecipient] = (),
) -> list[PublicKeyRecipient]:
    """Return everyone who must be able to read a source's content.

    The mission's advisers, the offline recovery key and the source themselves: so no
    single person leaving or forgetting a password can lose a record.
    """
    recipients = [
        *adviser_recipients(session, mission_id),
        settings.recovery_recipient,
        parse_recipient(source_recipient),
        *extra,
    ]
    unique: dict[PublicKeyRecipient, None] = dict.fromkeys(recipients)
    return list(unique)
