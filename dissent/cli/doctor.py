"""``dissent doctor``: what is wrong with the instance, and the command that fixes each."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command()
@click.option(
    "--fix", is_flag=True, help="Remove blob files without a record and stale partial uploads."
)
@with_appcontext
def doctor(fix: bool) -> None:
    """Check the instance: one line per problem, with the command that fixes it.

    Checks the database (reachable, latest schema), the clock against the audit
    ledger, the blob folder against the records, the secrets file's mode, Redis when
    configured, and the free disk space. Exits 1 when a problem is left, 0 otherwise.
    """
    from ..extensions import current_context, db
    from ..services.doctor import Finding, examine, remove_leftovers

    settings = current_context().settings
    findings = examine(db.session, db.engine(current_app), settings)
    for finding in findings:
        click.echo(finding.line)
    removed: list[Finding] = []
    if fix:
        with db.unit():
            removed = remove_leftovers(settings, findings, db.session)
    for finding in removed:
        click.echo(f"removed {finding.leftover}")
    if [finding for finding in findings if finding not in removed]:
        sys.exit(1)
    click.echo("no problems left" if removed else "no problems found")
