"""``dissent export``: one observation's ciphertexts as ``.age`` files."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from .age import CommandError


@click.command()
@click.argument("ref")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(path_type=Path),
    metavar="FOLDER",
    help="A new folder to write the export into (it must not exist yet).",
)
@with_appcontext
def export(ref: str, output: Path) -> None:
    """Write observation REF's ciphertexts (.age files) and a manifest into FOLDER.

    Nothing is decrypted: open the files offline with `dissent age decrypt --unpad -i
    IDENTITY_FILE`, with an adviser's exported identity or the recovery key.
    """
    from ..extensions import current_context, db
    from ..services.errors import NotFound
    from ..services.export import ExportError, export_observation

    ref = ref.strip().upper()
    try:
        with db.unit():
            files = export_observation(
                db.session, current_context().settings, ref=ref, folder=output
            )
    except NotFound as exc:
        raise CommandError(f"no observation {ref!r}") from exc
    except ExportError as exc:
        raise CommandError(str(exc)) from exc
    click.echo(f"Exported {ref}: {len(files)} files and a manifest in {output}.")
