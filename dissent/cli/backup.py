"""``dissent backup`` and ``dissent restore`` (instances that keep SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask.cli import with_appcontext

from .age import CommandError

if TYPE_CHECKING:
    from ..services.backup import BackupSummary


def _counts(summary: BackupSummary) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}" + ("" if n == 1 else "s")

    return (
        f"{plural(summary.observations, 'observation')} and "
        f"{plural(summary.attachments, 'attachment file')}"
    )


@click.command()
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(path_type=Path),
    metavar="ARCHIVE",
    help="A new file to write the backup to (a tar archive; it must not exist yet).",
)
@with_appcontext
def backup(output: Path) -> None:
    """Back up the instance: its secrets, database and attachment files, in one archive.

    The archive holds the instance secrets: keep it as carefully as the instance folder.
    """
    from ..extensions import current_context, db
    from ..services import audit
    from ..services.backup import BackupError, create_backup

    try:
        made = create_backup(current_context().settings, output)
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
    with db.unit():
        audit.record(db.session, actor="cli", action=audit.Action.BACKUP)
    click.echo(f"Backed up {_counts(made)} to {output} (schema {made.revision}).")


@click.command()
@click.argument("archive", type=click.Path(path_type=Path))
@click.option(
    "--instance",
    "instance",
    required=True,
    type=click.Path(path_type=Path),
    help="A new or empty folder to restore the instance into.",
)
def restore(archive: Path, instance: Path) -> None:
    """Restore a backup ARCHIVE into a new instance folder, checking every file first."""
    from ..services.backup import BackupError, restore_backup

    try:
        restored = restore_backup(archive, instance)
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
    click.echo(
        f"Restored {_counts(restored)} into {instance}. Run "
        f"`DISSENT_INSTANCE={instance} dissent db upgrade`, then serve it."
    )
