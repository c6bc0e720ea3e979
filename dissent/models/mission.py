"""Missions: the unit to which observations, advisers and leaders belong."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

# EU Directive 2019/1937 art. 9 and the Dutch Wbk: acknowledge within 7 days,
# give feedback within 3 months.
DEFAULT_ACK_DAYS = 7
DEFAULT_FEEDBACK_MONTHS = 3
# The ladder above leadership (services/ladder.py): an escalation not acknowledged within
# these days, or not answered within these months of being sent, goes to oversight.
DEFAULT_LADDER_ACK_DAYS = 14
DEFAULT_LADDER_RESPONSE_MONTHS = 3
SLUG_MAX = 40
NAME_MAX = 120


class Mission(Base):
    """A deployment, e.g. a police-training mission."""

    __tablename__ = "mission"
    __table_args__ = (
        CheckConstraint("ack_days > 0", name="ack_days_positive"),
        CheckConstraint("feedback_months > 0", name="feedback_months_positive"),
        CheckConstraint("ladder_ack_days > 0", name="ladder_ack_days_positive"),
        CheckConstraint("ladder_response_months > 0", name="ladder_response_months_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(SLUG_MAX), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    ack_days: Mapped[int] = mapped_column(default=DEFAULT_ACK_DAYS)
    feedback_months: Mapped[int] = mapped_column(default=DEFAULT_FEEDBACK_MONTHS)
    ladder_ack_days: Mapped[int] = mapped_column(
        default=DEFAULT_LADDER_ACK_DAYS, server_default=str(DEFAULT_LADDER_ACK_DAYS)
    )
    ladder_response_months: Mapped[int] = mapped_column(
        default=DEFAULT_LADDER_RESPONSE_MONTHS, server_default=str(DEFAULT_LADDER_RESPONSE_MONTHS)
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
