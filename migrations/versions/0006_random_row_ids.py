"""random row ids: a source's messages and files cannot be ordered against staff rows

Messages and attachments took the next number of one sequence each, so a database dump
placed a source's message (dated to the day) between staff rows whose times are exact
(issue 15, finding 6). Their ids become random 63-bit numbers (BIGINT on PostgreSQL,
whose sequences are dropped; SQLite's INTEGER already holds 64 bits), and each row gets
``position``, its place in its observation's conversation or list of files, taken from
today's id order. Existing rows are numbered afresh at random, except files an audit
entry names by id (``attachment_add``, ``attachment_download``): the ledger is
immutable and must keep pointing at them. On SQLite the session table loses its hidden
row number, which listed sessions in the order they began.

Downgrading numbers the rows 1, 2, ... in the order of their observation and position,
so the old code, which orders by id, shows every conversation as it was.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 21:00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("message", "attachment")
_ID_MAX = 2**63 - 1


def _random_ids(count: int, taken: set[int]) -> list[int]:
    """Return ``count`` distinct random positive 63-bit ids, none of them in ``taken``."""
    out: list[int] = []
    while len(out) < count:
        candidate = secrets.randbelow(_ID_MAX) + 1
        if candidate not in taken:
            taken.add(candidate)
            out.append(candidate)
    return out


def _named_by_the_ledger(bind: sa.Connection) -> set[int]:
    """Return the ids of the attachments an audit entry names ("REF/ID")."""
    subjects = bind.execute(
        sa.text(
            "SELECT subject FROM audit_entry "
            "WHERE action IN ('attachment_add', 'attachment_download')"
        )
    ).scalars()
    tails = (subject.rpartition("/")[2] for subject in subjects)
    return {int(tail) for tail in tails if tail.isascii() and tail.isdigit()}


def _renumber(bind: sa.Connection, table: str, new_ids: dict[int, int]) -> None:
    update = sa.text(f"UPDATE {table} SET id = :new WHERE id = :old")  # noqa: S608
    for old, new in new_ids.items():
        bind.execute(update, {"old": old, "new": new})


def upgrade() -> None:
    """Apply this migration."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("position", sa.Integer(), nullable=True))
        # The place of each row in its observation, in the order of today's ids.
        op.execute(
            f"UPDATE {table} SET position = (SELECT count(*) FROM {table} AS earlier "  # noqa: S608
            f"WHERE earlier.observation_id = {table}.observation_id AND earlier.id <= {table}.id)"
        )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("position", existing_type=sa.Integer(), nullable=False)
            batch.create_unique_constraint(
                batch.f(f"uq_{table}_observation_id"), ["observation_id", "position"]
            )
        if postgres:
            sequence = bind.execute(
                sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table}
            ).scalar()
            op.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
            op.alter_column(table, "id", type_=sa.BigInteger(), existing_type=sa.Integer())
            if sequence:
                op.execute(f"DROP SEQUENCE {sequence}")
        ids = set(bind.execute(sa.text(f"SELECT id FROM {table}")).scalars())  # noqa: S608
        keep = _named_by_the_ledger(bind) if table == "attachment" else set()
        moving = sorted(ids - keep)
        _renumber(bind, table, dict(zip(moving, _random_ids(len(moving), set(ids)), strict=True)))
    if not postgres:
        # A table keyed by anything but an INTEGER primary key has a hidden row number
        # that lists its rows in the order they were written; without it, SQLite keeps
        # the rows in the order of their (random) key.
        with op.batch_alter_table(
            "stored_session", recreate="always", table_kwargs={"sqlite_with_rowid": False}
        ):
            pass


def downgrade() -> None:
    """Undo this migration."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if not postgres:
        with op.batch_alter_table("stored_session", recreate="always"):
            pass
    for table in TABLES:
        rows = bind.execute(
            sa.text(f"SELECT id FROM {table} ORDER BY observation_id, position")  # noqa: S608
        ).scalars()
        ordered = list(rows)
        # Out of the way first, so that no new number meets an old one.
        op.execute(f"UPDATE {table} SET id = -id")  # noqa: S608
        _renumber(bind, table, {-old: new for new, old in enumerate(ordered, 1)})
        if postgres:
            op.alter_column(table, "id", type_=sa.Integer(), existing_type=sa.BigInteger())
            op.execute(f"CREATE SEQUENCE {table}_id_seq OWNED BY {table}.id")
            op.execute(
                f"SELECT setval('{table}_id_seq', "  # noqa: S608
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
            op.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{table}_id_seq')")
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(batch.f(f"uq_{table}_observation_id"), type_="unique")
            batch.drop_column("position")
