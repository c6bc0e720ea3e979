"""blob chunks: on PostgreSQL, attachment ciphertext lives in the database

An attachment's ciphertext is stored as numbered chunks of at most 1 MiB in
``blob_chunk``, written in the same transaction as the record that names the blob, so a
committed record always has its bytes and a rolled-back one leaves none. SQLite
instances keep their files beside the database and leave this table empty;
``dissent storage migrate`` moves the files of an instance that moved to PostgreSQL.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table(
        "blob_chunk",
        sa.Column("blob_name", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("blob_name", "seq", name=op.f("pk_blob_chunk")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Ciphertext does not compress: store it out of line without trying to.
        op.execute("ALTER TABLE blob_chunk ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    """Revert this migration."""
    op.drop_table("blob_chunk")
