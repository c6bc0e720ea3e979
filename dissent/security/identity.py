"""Who is logged in, and their keys: kept only in the sealed server-side session.

A staff member's unwrapped identity and a source's identity secret live in their
session and nowhere else; logout or expiry deletes them with it. This module is the
one place that writes and reads those session entries.
"""

from __future__ import annotations

import base64

from flask import abort, session

from ..crypto import KeyPairIdentity
from ..extensions import current_context, db
from ..models import Role, StaffUser
from ..services.accounts import PasswordAccepted, staff_identity
from ..services.sources import source_identity

# The session's keys. The access policy reads the first four to decide who may enter.
STAFF_ID = "staff_id"
ROLE = "role"
PENDING_STAFF_ID = "pending_staff_id"
SOURCE_ID = "source_id"
_STAFF_KEYS = "identity"
_SOURCE_KEYS = "source_secret"


def _encode(secret: bytes) -> str:
    return base64.b64encode(secret).decode()


def begin_staff_login(accepted: PasswordAccepted) -> None:
    """Start a new session for a staff member whose password was right (second factor
    still to come); their identity is unwrapped into it."""
    session.clear()
    session.regenerate()  # type: ignore[attr-defined]
    session[PENDING_STAFF_ID] = accepted.staff_id
    session[_STAFF_KEYS] = _encode(accepted.identity_secret)


def pending_staff_id() -> int:
    """Return the account whose second factor is awaited."""
    staff_id: int = session[PENDING_STAFF_ID]
    return staff_id


def complete_staff_login(user: StaffUser) -> None:
    """Turn the pending login into a full one, in a new session that keeps the identity."""
    secret = session[_STAFF_KEYS]
    session.clear()
    session.regenerate()  # type: ignore[attr-defined]
    session.update({STAFF_ID: user.id, ROLE: user.role.value, _STAFF_KEYS: secret})


def log_in_source(source_id: int, secret: bytes) -> None:
    """Record in the session that the source ``source_id`` is logged in."""
    session[SOURCE_ID] = source_id
    session[_SOURCE_KEYS] = _encode(secret)


def logged_in_staff_id() -> int | None:
    """Return the logged-in staff member's id, if any."""
    staff_id: int | None = session.get(STAFF_ID)
    return staff_id


def logged_in_role() -> Role | None:
    """Return the logged-in staff member's role, if any."""
    role = session.get(ROLE)
    return Role(role) if role else None


def current_staff() -> StaffUser:
    """Return the logged-in staff account (the access rule has already checked it)."""
    user = db.session.get(StaffUser, session.get(STAFF_ID))
    if user is None or not user.active:
        session.end()  # type: ignore[attr-defined]
        abort(403)
    return user


def current_identity_secret() -> bytes:
    """Return the staff member's identity secret (it also derives their signing key)."""
    return base64.b64decode(session[_STAFF_KEYS])


def current_identity() -> KeyPairIdentity:
    """Return the staff member's unwrapped identity."""
    return staff_identity(current_context(), current_identity_secret())


def current_source_id() -> int:
    """Return the logged-in source's id (the access rule has already checked it)."""
    source_id: int = session[SOURCE_ID]
    return source_id


def current_source_identity() -> KeyPairIdentity:
    """Return the logged-in source's identity."""
    return source_identity(current_context(), base64.b64decode(session[_SOURCE_KEYS]))
