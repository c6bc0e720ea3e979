"""notifications: an outbox of content-free mails to staff, and what each person wants

Staff accounts get an optional mail address, a language for their mails and the kinds
of notification they turned off. ``notification`` is the outbox: one row per person,
kind and record (observation, escalation or access grant), random ids and days only,
as rows written with a source's action must not date it finer than the action itself.
``notification_run`` keeps how sending went (one row). The audit ledger gets an index
on its subject: who opened a case is read from it. Every observation gets a random
mail reference, unrelated to its id and its page address, for instances that name
cases in their mails.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-16 10:00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_KINDS = (
    "new_observation",
    "source_message",
    "ack_due_soon",
    "ack_overdue",
    "feedback_due_soon",
    "feedback_overdue",
    "escalation_received",
    "response_due_soon",
    "response_overdue",
    "response_received",
    "access_waiting",
)


def _reference() -> str:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def upgrade() -> None:
    """Apply this migration."""
    bind = op.get_bind()
    random_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "notification",
        sa.Column("id", random_id, autoincrement=False, nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(*_KINDS, name="notificationkind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_notification_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_user.id"],
            name=op.f("fk_notification_staff_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index(op.f("ix_notification_staff_id"), "notification", ["staff_id"])
    op.create_index("ix_notification_subject", "notification", ["kind", "subject_id"])
    op.create_index(
        "uq_notification_pending",
        "notification",
        ["staff_id", "kind", "subject_id"],
        unique=True,
        sqlite_where=sa.text("sent_on IS NULL"),
        postgresql_where=sa.text("sent_on IS NULL"),
    )
    run = op.create_table(
        "notification_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.Column("last_problem", sa.String(length=32), nullable=True),
        sa.Column("failed_runs", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_notification_run_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_run")),
    )
    op.bulk_insert(run, [{"id": 1, "failed_runs": 0}])
    # Who opened a case is read from the ledger by the case's reference.
    op.create_index(op.f("ix_audit_entry_subject"), "audit_entry", ["subject"])

    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("notify_off", sa.Text(), server_default="", nullable=False))

    with op.batch_alter_table("observation") as batch:
        batch.add_column(sa.Column("mail_ref", sa.String(length=9), nullable=True))
    ids = bind.execute(sa.text("SELECT id FROM observation")).scalars().all()
    for observation_id in ids:
        bind.execute(
            sa.text("UPDATE observation SET mail_ref = :ref WHERE id = :id"),
            {"ref": _reference(), "id": observation_id},
        )
    with op.batch_alter_table("observation") as batch:
        batch.alter_column("mail_ref", existing_type=sa.String(length=9), nullable=False)


def downgrade() -> None:
    """Undo this migration."""
    with op.batch_alter_table("observation") as batch:
        batch.drop_column("mail_ref")
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("notify_off")
        batch.drop_column("language")
        batch.drop_column("email")
    op.drop_index(op.f("ix_audit_entry_subject"), table_name="audit_entry")
    op.drop_table("notification_run")
    op.drop_index("uq_notification_pending", table_name="notification")
    op.drop_index("ix_notification_subject", table_name="notification")
    op.drop_index(op.f("ix_notification_staff_id"), table_name="notification")
    op.drop_table("notification")
