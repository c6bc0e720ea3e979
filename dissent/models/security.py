"""Server-side session records and rate-limit counters (when Redis is not used)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

# A rate-limit counter's name: the hex HMAC-SHA256 of its key and window.
RATE_LIMIT_NAME_LENGTH = 64


class StoredSession(Base):
    """A session's data, sealed under a key that only the browser's cookie holds."""

    __tablename__ = "stored_session"

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RateLimitCounter(Base):
    """Attempts at one staff-side limit in one window, shared by every worker and host.

    ``name`` is a keyed hash of the limit's key (which may hold a username) and the
    window, so the table names no account, and two windows of one account cannot be
    linked without the instance secret. Source-side limits never get a row (invariant 2:
    a row would record the minute in which some source logged in).
    """

    __tablename__ = "rate_limit_counter"

    name: Mapped[str] = mapped_column(String(RATE_LIMIT_NAME_LENGTH), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    count: Mapped[int]
