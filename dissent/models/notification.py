"""The notification outbox: what staff are to be told by mail, and the sending runs.

A row says only *that* something is waiting for one person (a kind, and the record it is
about); what it is about stays in that record. Rows are written in the transaction of the
event itself, or by ``dissent notify`` for deadlines, and sent as one digest per person.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import RANDOM_ID_TYPE, Base, enum_type, random_id

# A run's claim on a person's rows: the token of the run that holds them.
CLAIM_TOKEN_LENGTH = 32


class NotificationKind(enum.StrEnum):
    """What a notification says is waiting (who gets which: ``services/notifications.py``)."""

    NEW_OBSERVATION = "new_observation"
    SOURCE_MESSAGE = "source_message"  # a message, a file, or a decision on a proposal
    ACK_DUE_SOON = "ack_due_soon"
    ACK_OVERDUE = "ack_overdue"
    FEEDBACK_DUE_SOON = "feedback_due_soon"
    FEEDBACK_OVERDUE = "feedback_overdue"
    ESCALATION_RECEIVED = "escalation_received"
    ESCALATION_REVISED = "escalation_revised"  # a new version of its summary
    RESPONSE_DUE_SOON = "response_due_soon"
    RESPONSE_OVERDUE = "response_overdue"
    RESPONSE_RECEIVED = "response_received"
    ACCESS_WAITING = "access_waiting"
    LADDER_STEP = "ladder_step"  # to the mission's oversight
    LADDER_STEP_ADVISER = "ladder_step_adviser"  # to the advisers of the case


class Notification(Base):
    """One thing waiting for one staff member, until a digest that names it is sent.

    Its id is random and it keeps only days, never times (``created_on``, ``sent_on``):
    a row written with a source's message must not date that message finer than the
    message itself does (invariant 2). While one is pending there is at most one row
    per person, kind and subject (a second message on the same case adds nothing); a
    deadline reminder is written once per person, kind and case, ever.
    """

    __tablename__ = "notification"
    __table_args__ = (
        Index(
            "uq_notification_pending",
            "staff_id",
            "kind",
            "subject_id",
            unique=True,
            sqlite_where=text("sent_on IS NULL"),
            postgresql_where=text("sent_on IS NULL"),
        ),
        Index("ix_notification_subject", "kind", "subject_id"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    id: Mapped[int] = mapped_column(
        RANDOM_ID_TYPE, primary_key=True, autoincrement=False, default=random_id
    )
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[NotificationKind] = mapped_column(enum_type(NotificationKind))
    # The record it is about: an observation, an escalation or an access grant, by kind.
    subject_id: Mapped[int]
    created_on: Mapped[date]
    sent_on: Mapped[date | None] = mapped_column(default=None)
    # Digests to this person that failed while the row waited, and when the next may be
    # tried (exponential backoff); both cleared when it is sent.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    # The run sending it now, and until when its claim holds (a run that died leaves a
    # claim that lapses, and the next run sends the row).
    claimed_by: Mapped[str | None] = mapped_column(String(CLAIM_TOKEN_LENGTH), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)


class NotificationRun(Base):
    """How sending has gone: one row, also the lock that puts planning runs in a queue."""

    __tablename__ = "notification_run"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, default=1)
    last_run_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    last_failure_at: Mapped[datetime | None] = mapped_column(default=None)
    # What went wrong last (a code of services/mailer.py's MailProblem, never a server's
    # words, which may echo an address), and how many runs in a row failed.
    last_problem: Mapped[str | None] = mapped_column(String(32), default=None)
    failed_runs: Mapped[int] = mapped_column(default=0, server_default="0")
