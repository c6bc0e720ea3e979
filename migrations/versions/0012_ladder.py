"""ladder: escalations left unacknowledged or unanswered go up to the mission's oversight

Every mission gets its ladder limits: days for leadership to acknowledge an escalation
(default 14) and months to answer it (default 3), counted from the day it was sent.
``ladder_step`` records each step an escalation took up the ladder: which escalation,
why (not acknowledged, not answered) and the day, never a time. One per escalation and
reason: the unique constraint keeps two overlapping runs from taking a step twice. The
new role ``oversight`` needs no schema change (roles are stored as text).

Each escalation keeps the two last days of its ladder (``ladder_ack_due``,
``ladder_response_due``), computed from the mission's limits when it is sent, so that a
limit changed later does not reach back. Escalations sent before this migration get
them from the default limits, as the code computed them when they were read live.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-20 10:00:00
"""

from __future__ import annotations

import calendar
import datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day ``months`` calendar months later, clamped to the month's end (a copy
    of ``deadlines.add_months`` as it was: a migration stands alone)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _as_day(value: object) -> datetime.date:
    """A stored time as its day (SQLite hands back text, PostgreSQL a datetime)."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def _fill_ladder_days() -> None:
    """Give each escalation the last days of its ladder, from its mission's limits."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT escalation.id, escalation.created_at, mission.ladder_ack_days,"
            " mission.ladder_response_months FROM escalation"
            " JOIN mission ON mission.id = escalation.mission_id"
        )
    ).all()
    for escalation_id, created_at, ack_days, response_months in rows:
        sent_on = _as_day(created_at)
        connection.execute(
            sa.text(
                "UPDATE escalation SET ladder_ack_due = :ack, ladder_response_due = :answer"
                " WHERE id = :id"
            ),
            {
                "ack": sent_on + datetime.timedelta(days=ack_days),
                "answer": _add_months(sent_on, response_months),
                "id": escalation_id,
            },
        )


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("mission") as batch:
        batch.add_column(
            sa.Column("ladder_ack_days", sa.Integer(), nullable=False, server_default="14")
        )
        batch.add_column(
            sa.Column("ladder_response_months", sa.Integer(), nullable=False, server_default="3")
        )
        batch.create_check_constraint(
            op.f("ck_mission_ladder_ack_days_positive"), "ladder_ack_days > 0"
        )
        batch.create_check_constraint(
            op.f("ck_mission_ladder_response_months_positive"), "ladder_response_months > 0"
        )
    with op.batch_alter_table("escalation") as batch:
        batch.add_column(sa.Column("ladder_ack_due", sa.Date(), nullable=True))
        batch.add_column(sa.Column("ladder_response_due", sa.Date(), nullable=True))
    _fill_ladder_days()
    with op.batch_alter_table("escalation") as batch:
        batch.alter_column("ladder_ack_due", existing_type=sa.Date(), nullable=False)
        batch.alter_column("ladder_response_due", existing_type=sa.Date(), nullable=False)
    op.create_table(
        "ladder_step",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "not_acknowledged",
                "not_answered",
                name="ladderreason",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("taken_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalation.id"],
            name=op.f("fk_ladder_step_escalation_id_escalation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ladder_step")),
        sa.UniqueConstraint("escalation_id", "reason", name=op.f("uq_ladder_step_escalation_id")),
    )
    op.create_index(op.f("ix_ladder_step_escalation_id"), "ladder_step", ["escalation_id"])


def downgrade() -> None:
    """Undo this migration."""
    op.drop_index(op.f("ix_ladder_step_escalation_id"), table_name="ladder_step")
    op.drop_table("ladder_step")
    with op.batch_alter_table("escalation") as batch:
        batch.drop_column("ladder_response_due")
        batch.drop_column("ladder_ack_due")
    with op.batch_alter_table("mission") as batch:
        batch.drop_constraint(op.f("ck_mission_ladder_response_months_positive"), type_="check")
        batch.drop_constraint(op.f("ck_mission_ladder_ack_days_positive"), type_="check")
        batch.drop_column("ladder_response_months")
        batch.drop_column("ladder_ack_days")
