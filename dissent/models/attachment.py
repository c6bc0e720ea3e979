"""Attachments: encrypted files stored beside the database, described by an encrypted record."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import RANDOM_ID_TYPE, Base, enum_type, random_id, today
from .observation import Sender


class Attachment(Base):
    """A file attached to an observation by the source or an adviser.

    Like a message, its id is random and ``position`` is its place among the
    observation's files (invariant 2).
    """

    __tablename__ = "attachment"
    __table_args__ = (UniqueConstraint("observation_id", "position"),)

    id: Mapped[int] = mapped_column(
        RANDOM_ID_TYPE, primary_key=True, autoincrement=False, default=random_id
    )
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), index=True
    )
    # Handed out under the observation's lock (services/attachments.py).
    position: Mapped[int]
    sender: Mapped[Sender] = mapped_column(enum_type(Sender, length=16))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), default=None)
    added_on: Mapped[date] = mapped_column(default=today)
    # Random name of the ciphertext file in the instance's blob folder.
    blob_name: Mapped[str] = mapped_column(String(64), unique=True)
    # Size of the ciphertext (padded), for limits; the real size is in ``meta``.
    stored_size: Mapped[int] = mapped_column(BigInteger)
    # Encrypted JSON: original file name, type, size, whether metadata was removed.
    meta: Mapped[bytes] = mapped_column(LargeBinary)


class BlobChunk(Base):
    """A piece of a blob's ciphertext, where the database is PostgreSQL.

    There the blob named by an :class:`Attachment` is its chunks in ``seq`` order, written
    in the transaction that adds the record (``services/storage.py``). On SQLite the blob is
    a file beside the database and this table stays empty.
    """

    __tablename__ = "blob_chunk"

    blob_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
