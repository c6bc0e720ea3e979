"""``dissent backup`` and ``dissent restore`` (instances that keep SQLite or PostgreSQL)."""

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
@click.option(
    "--database-url",
    "database_url",
    metavar="URL",
    help=(
        "For a backup of a PostgreSQL instance: the new, empty database to restore it "
        "into (postgresql+psycopg://USER@HOST/NEWDB); the restored instance uses it."
    ),
)
def restore(archive: Path, instance: Path, database_url: str | None) -> None:
    """Restore a backup ARCHIVE into a new instance folder, checking every file first.

    The restore is recorded in the restored instance's audit ledger.
    """
    from sqlalchemy import make_url

    from ..services.backup import BackupError, restore_backup

    try:
        restored = restore_backup(archive, instance, database_url=database_url)
    except BackupError as exc:
        raise CommandError(str(exc)) from exc
    into = str(instance)
    if database_url is not None:
        shown = make_url(database_url).render_as_string(hide_password=True)
        into += f" and the database {shown}"
    click.echo(
        f"Restored {_counts(restored)} into {into}. Run "
        f"`DISSENT_INSTANCE={instance} dissent db upgrade`, then serve it."
    )
