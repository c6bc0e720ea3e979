"""official record: escalations say whether they contradict an official report or figure,
and leadership's response decides about it

A version of an escalated summary carries the adviser's signed statement whether it
contradicts an official report or figure (the report itself is named in the sealed
body; its SHA-256 is kept next to the text's). Versions signed before this was asked
keep both columns empty and verify as before. A response to such an escalation says
whether the record was corrected, a correction is planned (by a date) or it is not
corrected.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("escalation_version") as batch:
        batch.add_column(sa.Column("contradicts_record", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("record_sha256", sa.String(length=64), nullable=True))
    with op.batch_alter_table("response") as batch:
        batch.add_column(
            sa.Column(
                "record_decision",
                sa.Enum(
                    "corrected",
                    "correction_planned",
                    "not_corrected",
                    name="recorddecision",
                    native_enum=False,
                    length=24,
                ),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("correction_due", sa.Date(), nullable=True))


def downgrade() -> None:
    """Undo this migration."""
    with op.batch_alter_table("response") as batch:
        batch.drop_column("correction_due")
        batch.drop_column("record_decision")
    with op.batch_alter_table("escalation_version") as batch:
        batch.drop_column("record_sha256")
        batch.drop_column("contradicts_record")
