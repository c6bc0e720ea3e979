"""Proposals, escalations with their immutable signed versions, and responses."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, LargeBinary, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, enum_type, utcnow
from .mission import Mission
from .observation import Observation
from .staff import StaffUser


class ProposalStatus(enum.StrEnum):
    """Where a proposed summary stands with the source (consent "ask me first")."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    SENT = "sent"


class Proposal(Base):
    """A de-identified summary proposed to the source before it is escalated."""

    __tablename__ = "proposal"

    id: Mapped[int] = mapped_column(primary_key=True)
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), index=True
    )
    adviser_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[ProposalStatus] = mapped_column(
        enum_type(ProposalStatus, length=16), default=ProposalStatus.PENDING
    )
    decided_on: Mapped[date | None] = mapped_column(default=None)  # the source's day
    # Encrypted to advisers, recovery and the source.
    body: Mapped[bytes] = mapped_column(LargeBinary)

    observation: Mapped[Observation] = relationship()
    adviser: Mapped[StaffUser] = relationship()


class EscalationState(enum.StrEnum):
    """Where an escalation stands with leadership."""

    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    RESPONDED = "responded"


escalation_recipient = Table(
    "escalation_recipient",
    Base.metadata,
    Column("escalation_id", ForeignKey("escalation.id", ondelete="CASCADE"), primary_key=True),
    Column("staff_id", ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True),
)


class Escalation(Base):
    """A summary sent into the official reporting line, under a ledger number."""

    __tablename__ = "escalation"
    __table_args__ = (UniqueConstraint("mission_id", "ledger_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("mission.id"), index=True)
    observation_id: Mapped[int] = mapped_column(ForeignKey("observation.id"), index=True)
    ledger_number: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[EscalationState] = mapped_column(
        enum_type(EscalationState, length=16), default=EscalationState.SENT
    )
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id"), default=None
    )
    # The last days leadership may acknowledge and answer before it goes up the ladder
    # (``services/ladder.py``), fixed when it is sent from the mission's limits then: a
    # limit changed later applies to escalations sent after the change.
    ladder_ack_due: Mapped[date]
    ladder_response_due: Mapped[date]

    mission: Mapped[Mission] = relationship(lazy="joined")
    observation: Mapped[Observation] = relationship()
    recipients: Mapped[list[StaffUser]] = relationship(
        secondary=escalation_recipient, lazy="selectin"
    )
    versions: Mapped[list[EscalationVersion]] = relationship(
        back_populates="escalation", order_by="EscalationVersion.version", lazy="selectin"
    )
    responses: Mapped[list[Response]] = relationship(
        back_populates="escalation", order_by="Response.id", lazy="selectin"
    )
    ladder_steps: Mapped[list[LadderStep]] = relationship(
        back_populates="escalation", order_by="LadderStep.id", lazy="selectin"
    )

    @property
    def label(self) -> str:
        """Return the ledger label, e.g. ``EUPOL-0007``."""
        return f"{self.mission.slug.upper()}-{self.ledger_number:04d}"


class EscalationVersion(Base):
    """One immutable, signed version of an escalated summary."""

    __tablename__ = "escalation_version"
    __table_args__ = (UniqueConstraint("escalation_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id", ondelete="CASCADE"))
    version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    # Encrypted to the chosen leaders, the mission's advisers, recovery and the source.
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    verify_key: Mapped[str] = mapped_column(String(64))  # the signer's key at signing time
    # The adviser's signed statement whether the summary contradicts an official report or
    # figure (which one is in the sealed body; its SHA-256 here, like the text's). Both
    # None: a version signed before advisers were asked (services/official_record.py).
    contradicts_record: Mapped[bool | None] = mapped_column(default=None)
    record_sha256: Mapped[str | None] = mapped_column(String(64), default=None)

    escalation: Mapped[Escalation] = relationship(back_populates="versions")
    author: Mapped[StaffUser] = relationship()


class ResponseKind(enum.StrEnum):
    """What leadership decided."""

    ACTION_TAKEN = "action_taken"
    ACTION_PLANNED = "action_planned"
    DECLINED = "declined"


class RecordDecision(enum.StrEnum):
    """What leadership decided about an official report or figure an escalation contradicts."""

    CORRECTED = "corrected"
    CORRECTION_PLANNED = "correction_planned"
    NOT_CORRECTED = "not_corrected"


class Response(Base):
    """Leadership's response to an escalation."""

    __tablename__ = "response"

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(
        ForeignKey("escalation.id", ondelete="CASCADE"), index=True
    )
    responder_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[ResponseKind] = mapped_column(enum_type(ResponseKind, length=16))
    planned_for: Mapped[date | None] = mapped_column(default=None)
    # For an escalation that contradicts the official record: the decision about it, and
    # for a planned correction its date (the reference or the reason is in the body).
    record_decision: Mapped[RecordDecision | None] = mapped_column(
        enum_type(RecordDecision, length=24), default=None
    )
    correction_due: Mapped[date | None] = mapped_column(default=None)
    # Encrypted to the escalation's leaders, the mission's advisers and recovery.
    body: Mapped[bytes] = mapped_column(LargeBinary)

    escalation: Mapped[Escalation] = relationship(back_populates="responses")
    responder: Mapped[StaffUser] = relationship()


class LadderReason(enum.StrEnum):
    """Why an escalation went one step up the ladder, to the mission's oversight."""

    NOT_ACKNOWLEDGED = "not_acknowledged"
    NOT_ANSWERED = "not_answered"


class LadderStep(Base):
    """One step of an escalation up the ladder above leadership (``services/ladder.py``).

    At most one per escalation and reason, ever: the unique constraint is what keeps two
    overlapping runs of ``dissent notify`` from taking a step twice. Kept to the day.
    """

    __tablename__ = "ladder_step"
    __table_args__ = (UniqueConstraint("escalation_id", "reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(
        ForeignKey("escalation.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[LadderReason] = mapped_column(enum_type(LadderReason, length=24))
    taken_on: Mapped[date]

    escalation: Mapped[Escalation] = relationship(back_populates="ladder_steps")
