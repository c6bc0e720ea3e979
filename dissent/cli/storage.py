"""``dissent storage``: where attachment ciphertexts are kept, and moving them."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from .age import CommandError


@click.group("storage")
def storage() -> None:
    """Where attachments are kept: files beside SQLite, chunks in PostgreSQL."""


@storage.command("migrate")
@click.option("--dry-run", is_flag=True, help="Say what would be moved; move nothing.")
@with_appcontext
def migrate(dry_run: bool) -> None:
    """Move attachment files from the blob folder into PostgreSQL.

    For an instance that kept its attachments as files (it started on SQLite, or before
    they were kept in PostgreSQL). Each file is copied in as chunks, read back and
    compared by SHA-256 in its own transaction, and deleted once that committed. Safe
    to stop and run again: it carries on where it stopped. Until then the files are
    still read from the folder, so the instance keeps working during the move; a second
    app host sees an attachment only once it has been moved.
    """
    from ..extensions import current_context, db
    from ..services.blobs import StorageError, move_files

    engine = db.engine(current_app)
    settings = current_context().settings

    def make_session() -> Session:
        return Session(engine, expire_on_commit=False)

    try:
        summary = move_files(
            make_session,
            settings,
            dry_run=dry_run,
            progress=lambda name: click.echo(f"moved {name}"),
        )
    except StorageError as exc:
        raise CommandError(str(exc)) from exc
    verb = "would move" if dry_run else "moved"
    click.echo(
        f"{verb} {len(summary.moved)} file(s) ({summary.moved_bytes} bytes); "
        f"{len(summary.already_there)} already in the database"
        + ("" if dry_run else " (their files removed)")
    )
    for name in summary.without_record:
        click.echo(f"left {name}: no record names it (see `dissent doctor`)")
    for name in summary.differing:
        click.echo(
            f"kept {name}: the file and the database hold different bytes; "
            "compare them with the latest backup before removing either"
        )
    if summary.differing:
        raise SystemExit(1)
