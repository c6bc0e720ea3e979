"""access grants

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 23:20:08.416467
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "access_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("mission_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("through_observation_id", sa.Integer(), nullable=False),
        sa.Column("next_observation_id", sa.Integer(), nullable=False),
        sa.Column("unopened", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mission_id"],
            ["mission.id"],
            name=op.f("fk_access_grant_mission_id_mission"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_user.id"],
            name=op.f("fk_access_grant_staff_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grant")),
        sa.UniqueConstraint("staff_id", "mission_id", name=op.f("uq_access_grant_staff_id")),
    )
    op.create_table(
        "access_grant_pass",
        sa.Column("grant_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["access_grant.id"],
            name=op.f("fk_access_grant_pass_grant_id_access_grant"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_user.id"],
            name=op.f("fk_access_grant_pass_staff_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("grant_id", "staff_id", name=op.f("pk_access_grant_pass")),
    )


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("access_grant_pass")
    op.drop_table("access_grant")
