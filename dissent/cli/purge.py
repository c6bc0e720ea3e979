"""``dissent purge``: retention, deleting closed observations for good."""

from __future__ import annotations

import datetime

import click
from flask.cli import with_appcontext

from .age import CommandError


@click.command()
@click.option(
    "--closed-before",
    "closed_before",
    metavar="YYYY-MM-DD",
    help="Delete observations closed before this day that were never escalated.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def purge(closed_before: str | None, dry_run: bool, yes: bool) -> None:
    """Delete closed observations for good, by your retention rule, and spent enrolment links.

    An observation closed before the day given goes with its thread, notes, attachment
    files and its source's login (the codename then opens nothing). Escalated
    observations are kept: the escalation ledger must stay without gaps. Run the
    periodic report for a period before purging it; the audit ledger records the purge.
    """
    from ..extensions import current_context, db
    from ..services.retention import plan_purge
    from ..services.retention import purge as run_purge

    day = None
    if closed_before is not None:
        try:
            day = datetime.date.fromisoformat(closed_before)
        except ValueError as exc:
            raise CommandError(
                f"--closed-before {closed_before!r} is not a date (YYYY-MM-DD)"
            ) from exc
        if day > datetime.date.today():
            raise CommandError("--closed-before is in the future; give a day up to today")
    plan = plan_purge(db.session, closed_before=day)
    what = (
        f"{len(plan.observation_ids)} closed observation(s) with their messages, notes and "
        f"{len(plan.blob_names)} attachment file(s), and {plan.spent_enrolments} used or "
        "expired enrolment link(s)"
    )
    if plan.escalated_kept:
        click.echo(
            f"Kept: {plan.escalated_kept} escalated observation(s) closed before that day "
            "(the escalation ledger keeps them)."
        )
    if plan.empty:
        click.echo("Nothing to delete.")
        return
    if dry_run:
        click.echo(f"Would delete {what}.")
        return
    if not yes:
        click.confirm(f"Delete {what} for good?", abort=True)
    with db.unit():
        deleted = run_purge(db.session, current_context().settings, plan)
    click.echo(
        f"Deleted {deleted} observation(s) and the rest listed; recorded in the audit ledger."
    )
