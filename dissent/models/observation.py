"""Sources, observations and the messages of their conversation."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import RANDOM_ID_TYPE, Base, enum_type, random_id, random_reference, today
from .mission import Mission
from .staff import StaffUser

REF_LENGTH = 9  # "XXXX-XXXX"


class State(enum.StrEnum):
    """Where an observation stands (its transitions: ``services/workflow.py``)."""

    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    IN_REVIEW = "in_review"
    ESCALATED = "escalated"
    FEEDBACK_GIVEN = "feedback_given"
    CLOSED = "closed"
    ADVICE_ONLY = "advice_only"


class Category(enum.StrEnum):
    """What an observation is about. Kept in clear: reports count by category."""

    REPORTING_ACCURACY = "reporting_accuracy"
    SAFETY_SECURITY = "safety_security"
    CONDUCT_INTEGRITY = "conduct_integrity"
    LOCAL_POPULATION = "local_population"
    RESOURCES_FEASIBILITY = "resources_feasibility"
    GENDER_INCLUSION = "gender_inclusion"
    OTHER = "other"


class Consent(enum.StrEnum):
    """What the source allows for escalation."""

    NEVER = "never"
    ASK_FIRST = "ask_first"
    SUMMARY_ALLOWED = "summary_allowed"


class Sender(enum.StrEnum):
    """Who wrote a message."""

    SOURCE = "source"
    ADVISER = "adviser"


class MessageKind(enum.StrEnum):
    """A plain message, the standard acknowledgement, or feedback on what was done; or
    a note that the source removed a file (its text is the file's name)."""

    MESSAGE = "message"
    ACKNOWLEDGEMENT = "acknowledgement"
    FEEDBACK = "feedback"
    ESCALATED = "escalated"
    FILE_REMOVED = "file_removed"


class Severity(enum.StrEnum):
    """The adviser's judgement of how serious an observation is."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Source(Base):
    """A source, known only by a lookup id derived from their codename."""

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(primary_key=True)
    lookup_id: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    recipient: Mapped[str] = mapped_column(Text)
    created_on: Mapped[date] = mapped_column(default=today)


class Observation(Base):
    """One observation. Everything the source wrote is in ``content``, encrypted."""

    __tablename__ = "observation"
    __table_args__ = (
        Index("ix_observation_mission_state", "mission_id", "state"),
        Index("ix_observation_received_on", "received_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(REF_LENGTH), unique=True)
    mission_id: Mapped[int] = mapped_column(ForeignKey("mission.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id"))
    category: Mapped[Category] = mapped_column(enum_type(Category))
    consent: Mapped[Consent] = mapped_column(enum_type(Consent))
    state: Mapped[State] = mapped_column(enum_type(State), default=State.RECEIVED)
    received_on: Mapped[date] = mapped_column(default=today)
    acknowledged_on: Mapped[date | None] = mapped_column(default=None)
    feedback_given_on: Mapped[date | None] = mapped_column(default=None)
    closed_on: Mapped[date | None] = mapped_column(default=None)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), default=None)
    severity: Mapped[Severity | None] = mapped_column(enum_type(Severity, length=16), default=None)
    # Counts the changes advisers make to the case (state, triage, summaries); a form
    # carries the count its page showed, so a change made meanwhile is not overwritten.
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    # Deferred: lists and reports never need it, and sorting rows that carry several
    # kilobytes of ciphertext each is what makes a long inbox slow.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    # Hash of the one-time token of the form that created it: a replayed or
    # double-clicked submit hits this unique constraint instead of making a twin.
    submit_token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The case's name in notification mails, when the instance names cases there at all
    # (``notify_references``): random, and never in a URL, so a mail server that learns
    # it cannot match it to the pages a source or adviser opened (``ref`` is in those).
    mail_ref: Mapped[str] = mapped_column(String(REF_LENGTH), default=random_reference)
    # How far the source has been shown the conversation: the highest message and file
    # positions. Counters, not times, so a visit leaves no date (migration 0011).
    source_seen_message: Mapped[int] = mapped_column(default=0, server_default="0")
    source_seen_attachment: Mapped[int] = mapped_column(default=0, server_default="0")

    mission: Mapped[Mission] = relationship(lazy="joined")
    source: Mapped[Source] = relationship()
    assigned_to: Mapped[StaffUser | None] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="observation", order_by="Message.position", cascade="all, delete-orphan"
    )


class Message(Base):
    """One message in an observation's conversation, encrypted.

    Its id is random and its place in the conversation is ``position`` (1, 2, ...): a
    sequential id would order a source's message against every staff row (invariant 2).
    """

    __tablename__ = "message"
    __table_args__ = (UniqueConstraint("observation_id", "position"),)

    id: Mapped[int] = mapped_column(
        RANDOM_ID_TYPE, primary_key=True, autoincrement=False, default=random_id
    )
    observation_id: Mapped[int] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), index=True
    )
    # Handed out under the observation's lock (services/conversation.py).
    position: Mapped[int]
    sender: Mapped[Sender] = mapped_column(enum_type(Sender, length=16))
    kind: Mapped[MessageKind] = mapped_column(
        enum_type(MessageKind, length=16), default=MessageKind.MESSAGE
    )
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), default=None)
    sent_on: Mapped[date] = mapped_column(default=today)
    # Exact time for staff messages only; a source's message keeps just the day.
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    body: Mapped[bytes] = mapped_column(LargeBinary)

    observation: Mapped[Observation] = relationship(back_populates="messages")
    staff: Mapped[StaffUser | None] = relationship()
