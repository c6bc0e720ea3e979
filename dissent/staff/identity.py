"""The logged-in staff member and their identity, from the sealed session."""

from __future__ import annotations

import base64

from flask import abort, session

from ..crypto import KeyPairIdentity
from ..extensions import db
from ..models import StaffUser
from ..services.accounts import staff_identity
from ..services.context import current_context


def current_staff() -> StaffUser:
    """Return the logged-in staff account (the access rule has already checked it)."""
    user = db.session.get(StaffUser, session.get("staff_id"))
    if user is None or not user.active:
        session.end()  # type: ignore[attr-defined]
        abort(403)
    return user


def current_identity() -> KeyPairIdentity:
    """Return the staff member's unwrapped identity, which lives only in their session."""
    return staff_identity(current_context(), base64.b64decode(session["identity"]))
