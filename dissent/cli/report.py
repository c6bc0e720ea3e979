"""``dissent report``: the periodic report as plain text or CSV, for all missions or one."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext

from .age import CommandError

ACTOR = "cli"


def _day(option: str, text: str) -> date:
    from ..web.forms import parse_day

    day = parse_day(text)
    if day is None:
        raise CommandError(f"{option}: {text!r} is not a date (YYYY-MM-DD)")
    return day


def _as_text(rows: list[tuple[str, str, str]]) -> str:
    """Return the rows grouped by section, one "key: value" line each."""
    lines: list[str] = []
    section = None
    for name, key, value in rows:
        if name != section:
            lines.append(name)
            section = name
        lines.append(f"  {key}: {value}")
    return "\n".join(lines)


@click.command()
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First day of the period.")
@click.option("--end", required=True, metavar="YYYY-MM-DD", help="Last day (included).")
@click.option("--mission", "slug", metavar="SLUG", help="Only this mission (default: all).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV (section, key, value) instead of text.")
@with_appcontext
def report(start: str, end: str, slug: str | None, as_csv: bool) -> None:
    """Print the periodic report: counts (small ones suppressed), times, escalations, ledger."""
    from sqlalchemy import select

    from ..extensions import db
    from ..models import Mission, utcnow
    from ..services import audit
    from ..services.audit import chain_head
    from ..services.errors import InvalidInput
    from ..services.report import build_report, report_csv, report_rows

    first, last = _day("--start", start), _day("--end", end)
    query = select(Mission).order_by(Mission.name)
    if slug is not None:
        query = query.where(Mission.slug == slug.strip().lower())
    missions = list(db.session.scalars(query))
    if slug is not None and not missions:
        raise CommandError(f"no mission {slug!r}")
    try:
        built = build_report(db.session, missions=missions, start=first, end=last)
    except InvalidInput as exc:
        raise CommandError(str(exc)) from exc
    kind = "csv" if as_csv else "text"
    with db.unit():
        audit.record(
            db.session,
            actor=ACTOR,
            action=audit.Action.REPORT,
            subject=f"{kind} {slug or 'all'} {first.isoformat()}/{last.isoformat()}",
        )
    # The printed head includes the entry that records this report.
    built.audit_seq, built.audit_hash = chain_head(db.session)
    generated_at = utcnow()
    if as_csv:
        click.echo(report_csv(built, generated_at=generated_at), nl=False)
    else:
        click.echo(_as_text(report_rows(built, generated_at=generated_at)))
