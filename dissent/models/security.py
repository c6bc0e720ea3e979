"""Server-side session records and rate-limit counters (when Redis is not used)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class StoredSession(Base):
    """A session's data, sealed under a key that only the browser's cookie holds."""

    __tablename__ = "stored_session"

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RateLimitCounter(Base):
    """Attempts in the current window for one limit key (never an IP address)."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    window: Mapped[int]
    count: Mapped[int]
