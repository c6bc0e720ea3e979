"""key confirmation: a second person confirms a newcomer's key before it counts

A member's key is read by (advisers) or offered to (leaders) a mission only once a
second person confirmed it (``services/confirmation.py``). Keys that existed before
this step had been reading all along; they are recorded as confirmed at their
enrolment, by "before key confirmation", so nothing changes for them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("staff_mission") as batch:
        batch.add_column(sa.Column("confirmed_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("confirmed_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("confirmed_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("created_by", sa.String(length=64), nullable=True))
    staff_user = sa.table(
        "staff_user",
        sa.column("id", sa.Integer()),
        sa.column("recipient", sa.Text()),
        sa.column("enrolled_at", sa.DateTime()),
    )
    staff_mission = sa.table(
        "staff_mission",
        sa.column("staff_id", sa.Integer()),
        sa.column("confirmed_key", sa.Text()),
        sa.column("confirmed_by", sa.String()),
        sa.column("confirmed_at", sa.DateTime()),
    )
    owner = staff_user.c.id == staff_mission.c.staff_id
    op.execute(
        staff_mission.update()
        .where(
            sa.select(staff_user.c.id).where(owner, staff_user.c.recipient.is_not(None)).exists()
        )
        .values(
            confirmed_key=sa.select(staff_user.c.recipient).where(owner).scalar_subquery(),
            confirmed_by="before key confirmation",
            confirmed_at=sa.select(staff_user.c.enrolled_at).where(owner).scalar_subquery(),
        )
    )


def downgrade() -> None:
    """Undo this migration."""
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("created_by")
    with op.batch_alter_table("staff_mission") as batch:
        batch.drop_column("confirmed_at")
        batch.drop_column("confirmed_by")
        batch.drop_column("confirmed_key")
