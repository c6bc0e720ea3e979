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
    # Without SQLite's hidden row number, which would list sessions in the order they
    # began (a source's among staff sessions whose expiry is exact): kept by id_hash.
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RateLimitCounter(Base):
    """Attempts at one staff-side limit in one window, shared by every worker and host;
    or what sources filed in one hour against a filing budget (``services/budget.py``).

    ``name`` is a keyed hash of the limit's key (which may hold a username) and the
    window, so the table names no account, and two windows of one account cannot be
    linked without the instance secret. Source-side rate limits never get a row
    (invariant 2: a row would record the minute in which some source logged in); a
    filing budget's row expires at the end of its day, which is all it says in clear.
    """

    __tablename__ = "rate_limit_counter"

    name: Mapped[str] = mapped_column(String(RATE_LIMIT_NAME_LENGTH), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    count: Mapped[int]
