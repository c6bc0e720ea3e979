"""observation revision: refuse a change based on a page a colleague has overtaken

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("observation") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    """Undo this migration."""
    with op.batch_alter_table("observation") as batch:
        batch.drop_column("revision")
