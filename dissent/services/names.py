"""A mission's list of names that the summary editor flags, encrypted to its advisers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..crypto import DecryptionError, Identity
from ..models import MissionNames, StaffUser, utcnow
from . import audit
from .content import open_document, seal_document
from .context import ServiceContext
from .errors import check_text
from .keyring import adviser_only_recipients
from .locks import lock_mission

NAMES_MAX = 20_000


def parse_names(text: str) -> list[str]:
    """Return the names of a mission list: one per line, blank lines ignored."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_names(session: Session, mission_id: int, identity: Identity) -> list[str]:
    """Return the mission's names to flag (empty if none, or not readable by us)."""
    row = session.get(MissionNames, mission_id)
    if row is None:
        return []
    try:
        return parse_names(str(open_document(row.body, identities=[identity]).get("text", "")))
    except DecryptionError:
        return []


def save_names(
    session: Session, ctx: ServiceContext, *, staff: StaffUser, mission_id: int, text: str
) -> None:
    """Replace the mission's list of names (encrypted to its advisers and recovery)."""
    text = check_text(text, field="names", limit=NAMES_MAX, required=False)
    # An access grant may be adding a stanza to the old list: wait for it.
    lock_mission(session, mission_id)
    body = seal_document(
        {"text": "\n".join(parse_names(text))},
        recipients=adviser_only_recipients(session, ctx.settings, mission_id=mission_id),
    )
    row = session.get(MissionNames, mission_id, populate_existing=True)
    if row is None:
        session.add(MissionNames(mission_id=mission_id, body=body, updated_by_id=staff.id))
    else:
        row.body, row.updated_at, row.updated_by_id = body, utcnow(), staff.id
    audit.record(
        session, actor=staff.username, action=audit.Action.NAMES_CHANGE, subject=str(mission_id)
    )
