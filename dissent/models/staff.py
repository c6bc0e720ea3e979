"""Staff accounts (advisers, leaders, operators) and their enrolment links."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, LargeBinary, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, enum_type, utcnow
from .mission import Mission

USERNAME_MAX = 64
EMAIL_MAX = 254
LANGUAGE_MAX = 8


class Role(enum.StrEnum):
    """What a staff account may do. One role per account: separation of duties."""

    ADVISER = "adviser"
    LEADERSHIP = "leadership"
    ADMIN = "admin"
    # Above leadership (an inspector-general): sees only the escalations that went up
    # the ladder in its missions (services/ladder.py), read-only, and may respond.
    OVERSIGHT = "oversight"


# Membership of a mission. A member's key is read by (advisers) or offered to (leaders)
# the mission only once a second person confirmed it: ``confirmed_key`` is the recipient
# they compared with the newcomer, so a key replaced later is not confirmed by it
# (``services/confirmation.py``).
staff_mission = Table(
    "staff_mission",
    Base.metadata,
    Column("staff_id", ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True),
    Column("mission_id", ForeignKey("mission.id", ondelete="CASCADE"), primary_key=True),
    Column("confirmed_key", Text, nullable=True),
    Column("confirmed_by", String(USERNAME_MAX), nullable=True),
    Column("confirmed_at", UTCDateTime(), nullable=True),
)


class StaffUser(Base):
    """A staff account. Keys exist once enrolment is complete."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    role: Mapped[Role] = mapped_column(enum_type(Role, length=16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The operator account that made this one ("cli" from the command line): the
    # operator who made an adviser cannot also confirm their key.
    created_by: Mapped[str | None] = mapped_column(String(USERNAME_MAX), default=None)
    enrolled_at: Mapped[datetime | None] = mapped_column(default=None)
    # Argon2id, for checking the password at login.
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    # TOTP secret sealed under an instance key; the last accepted time step, so a
    # code cannot be used twice.
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    totp_last_step: Mapped[int] = mapped_column(default=0)
    # The age identity, as an age scrypt file under the password (exportable).
    wrapped_identity: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    recipient: Mapped[str | None] = mapped_column(Text, default=None)
    # Ed25519 key that verifies this person's escalation signatures (base64).
    verify_key: Mapped[str | None] = mapped_column(String(64), default=None)
    # Where notification digests go (optional; personal data of staff, never logged),
    # in which language, and the kinds this person turned off (space-separated kinds of
    # NotificationKind: a kind added later reaches everyone it applies to).
    email: Mapped[str | None] = mapped_column(String(EMAIL_MAX), default=None)
    language: Mapped[str | None] = mapped_column(String(LANGUAGE_MAX), default=None)
    notify_off: Mapped[str] = mapped_column(Text, default="", server_default="")

    missions: Mapped[list[Mission]] = relationship(secondary=staff_mission, lazy="selectin")

    @property
    def enrolled(self) -> bool:
        """Return whether the account has a password, TOTP and keys."""
        return self.enrolled_at is not None


class Enrolment(Base):
    """A one-time enrolment link for a staff account."""

    __tablename__ = "enrolment"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    # Only a hash of the token is stored: a database reader cannot enrol.
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)

    staff: Mapped[StaffUser] = relationship(lazy="joined")


class AccessGrant(Base):
    """An adviser waiting for access to the files a mission held before they had a key.

    Content is encrypted to the advisers active when it was written; one who enrols
    later (or again, with new keys, or is reactivated) cannot open the earlier files
    until a colleague who can adds a stanza for them (granting access re-wraps
    the file key). The server cannot do this on its own: it holds no key.
    The row exists while the grant is pending and is deleted when it is complete; the
    audit ledger keeps who granted it.
    """

    __tablename__ = "access_grant"
    __table_args__ = (UniqueConstraint("staff_id", "mission_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    mission_id: Mapped[int] = mapped_column(ForeignKey("mission.id", ondelete="CASCADE"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The newest observation when access was requested (later ones include the
    # adviser already) and how far the grant has come: observations with a lower id
    # than ``next_observation_id`` are done. A grant runs in steps of bounded size.
    through_observation_id: Mapped[int] = mapped_column(default=0)
    next_observation_id: Mapped[int] = mapped_column(default=0)
    # Files this pass could not give (the granter's key does not open them, or they
    # are missing or of another key kind); a pass that leaves any keeps the grant open.
    unopened: Mapped[int] = mapped_column(default=0)

    staff: Mapped[StaffUser] = relationship(lazy="joined")
    mission: Mapped[Mission] = relationship(lazy="joined")


# Colleagues who went through a grant and could not open all its files: it is not
# offered to them again until their own access grows (a grant of theirs completes).
access_grant_pass = Table(
    "access_grant_pass",
    Base.metadata,
    Column("grant_id", ForeignKey("access_grant.id", ondelete="CASCADE"), primary_key=True),
    Column("staff_id", ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True),
)
