"""``dissent audit verify``: check that the audit ledger's hash chain is unbroken."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from .age import CommandError


@click.group()
def audit() -> None:
    """The hash-chained audit ledger."""


@audit.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Recompute every entry's hash; exit 1 naming the first entry that does not fit."""
    from ..extensions import db
    from ..services.audit import verify_chain

    result = verify_chain(db.session)
    if not result.ok:
        raise CommandError(
            f"audit ledger broken at entry {result.broken_seq}: {result.problem}"
            f" ({result.checked} entries before it are intact)"
        )
    click.echo(f"ok: {result.checked} entries, head {result.head_seq} {result.head_hash}")
