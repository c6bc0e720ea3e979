"""source_seen: how far a source has read their conversation

Two counters on ``observation``: the highest message position and the highest
attachment position the source has been shown. The inbox puts what lies beyond them
at the top ("new since your last visit"). A counter, not a time: a visit leaves no
date behind (invariant 2), only that the source has seen up to a point.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    with op.batch_alter_table("observation") as batch:
        batch.add_column(
            sa.Column("source_seen_message", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("source_seen_attachment", sa.Integer(), nullable=False, server_default="0")
        )
    # What existed before is not news: a source returning after the upgrade is shown
    # only what arrives from now on.
    op.execute(
        "UPDATE observation SET"
        " source_seen_message = COALESCE((SELECT MAX(position) FROM message"
        " WHERE message.observation_id = observation.id), 0),"
        " source_seen_attachment = COALESCE((SELECT MAX(position) FROM attachment"
        " WHERE attachment.observation_id = observation.id), 0)"
    )


def downgrade() -> None:
    """Undo this migration."""
    with op.batch_alter_table("observation") as batch:
        batch.drop_column("source_seen_attachment")
        batch.drop_column("source_seen_message")
