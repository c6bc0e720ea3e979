"""The append-only, hash-chained audit ledger of staff actions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

GENESIS_HASH = bytes(32)


class AuditEntry(Base):
    """One staff action. No content and no source identifier, ever."""

    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))  # username, or "system"
    action: Mapped[str] = mapped_column(String(48))
    # Indexed: who has opened a case is read from it (services/notifications.py).
    subject: Mapped[str] = mapped_column(String(96), default="", index=True)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditHead(Base):
    """The latest sequence number and hash; its row lock serialises appends."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    seq: Mapped[int] = mapped_column(default=0)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary(32), default=GENESIS_HASH)
