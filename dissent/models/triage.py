"""Triage records: the history of state changes and advisers' internal notes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, enum_type, utcnow
from .observation import State
from .staff import StaffUser


class StateChange(Base):
    """One change of an observation's state, with its (encrypted, optional) reason."""

    __tablename__ = "state_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[State] = mapped_column(enum_type(State))
    to_state: Mapped[State] = mapped_column(enum_type(State))
    actor_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # Encrypted to the mission's advisers and recovery; None when no reason was given.
    reason: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)

    actor: Mapped[StaffUser] = relationship()


class Note(Base):
    """An internal note, readable by the mission's advisers (and recovery) only."""

    __tablename__ = "note"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    body: Mapped[bytes] = mapped_column(LargeBinary)

    author: Mapped[StaffUser] = relationship()


class MissionNames(Base):
    """A mission's list of names to flag in summaries, encrypted to its advisers."""

    __tablename__ = "mission_names"

    mission_id: Mapped[int] = mapped_column(
        ForeignKey("mission.id", ondelete="CASCADE"), primary_key=True
    )
    body: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
