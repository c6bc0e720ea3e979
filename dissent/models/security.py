"""Server-side session records (when Redis is not used)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class StoredSession(Base):
    """A session's data, sealed under a key that only the browser's cookie holds."""

    __tablename__ = "stored_session"

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(index=True)
