"""rate limit: staff-side attempt counters shared by every worker when Redis is not used

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "rate_limit_counter",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rate_limit_counter")),
    )
    with op.batch_alter_table("rate_limit_counter") as batch:
        batch.create_index(
            batch.f("ix_rate_limit_counter_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    """Undo this migration."""
    with op.batch_alter_table("rate_limit_counter") as batch:
        batch.drop_index(batch.f("ix_rate_limit_counter_expires_at"))
    op.drop_table("rate_limit_counter")
