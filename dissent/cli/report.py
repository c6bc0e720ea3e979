"""``dissent report``: the periodic report as plain text or CSV, for all missions or one;
``--evaluator -o FOLDER`` writes the signed evaluator's copy; ``dissent report verify``
checks such copies on any machine (no database); ``dissent report key`` shows (or, for an
instance made before there was one, creates) the report key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

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


NO_REPORT_KEY = (
    "this instance has no report key (it was made before there was one): "
    "run `dissent report key --create` and copy the instance file to every host"
)


@click.group(invoke_without_command=True)
@click.option("--start", metavar="YYYY-MM-DD", help="First day of the period (required).")
@click.option("--end", metavar="YYYY-MM-DD", help="Last day, included (required).")
@click.option("--mission", "slug", metavar="SLUG", help="Only this mission (default: all).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV (section, key, value) instead of text.")
@click.option(
    "--evaluator",
    is_flag=True,
    help="Write the signed evaluator's copy (JSON, CSV, signature) into the -o folder.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, file_okay=False),
    help="The folder for --evaluator (new, or empty).",
)
@click.pass_context
def report(  # noqa: PLR0917 - click passes every option as an argument
    ctx: click.Context,
    start: str | None,
    end: str | None,
    slug: str | None,
    as_csv: bool,
    evaluator: bool,
    output: Path | None,
) -> None:
    """Print the periodic report: counts (small ones suppressed), times, escalations,
    the official record, the ledger; or write the evaluator's copy (--evaluator -o)."""
    if ctx.invoked_subcommand is not None:
        return
    if start is None or end is None:
        raise CommandError("give the period: --start YYYY-MM-DD --end YYYY-MM-DD")
    if evaluator != (output is not None):
        raise CommandError("--evaluator and -o FOLDER go together")
    _produce(_day("--start", start), _day("--end", end), slug, as_csv=as_csv, output=output)


@with_appcontext
def _produce(
    first: date, last: date, slug: str | None, *, as_csv: bool, output: Path | None
) -> None:
    """Build the report, record that it was made, and print or write it."""
    from sqlalchemy import select

    from ..extensions import current_context, db
    from ..models import Mission, utcnow
    from ..services import audit
    from ..services.audit import chain_head
    from ..services.errors import InvalidInput
    from ..services.evaluator import evaluator_copy, write_copy
    from ..services.report import build_report, report_csv, report_rows

    seed = current_context().settings.report_key
    if output is not None:
        if seed is None:
            raise CommandError(NO_REPORT_KEY)
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            raise CommandError(f"{output} exists and is not an empty folder")
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
    kind = "evaluator" if output is not None else "csv" if as_csv else "text"
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
    if output is not None and seed is not None:
        try:
            write_copy(output, evaluator_copy(built, generated_at=generated_at, seed=seed))
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from exc
        click.echo(f"Evaluator's copy written to {output}")
        click.echo(f"Check it with: dissent report verify {output} --key {_public(seed)}")
    elif as_csv:
        click.echo(report_csv(built, generated_at=generated_at), nl=False)
    else:
        click.echo(_as_text(report_rows(built, generated_at=generated_at)))


def _public(seed: bytes) -> str:
    from ..services.evaluator import public_key

    return public_key(seed)


@report.command("verify")
@click.argument(
    "folders", nargs=-1, required=True, type=click.Path(path_type=Path, file_okay=False)
)
@click.option("--key", "key_text", required=True, help="The instance's report key (public).")
def verify(folders: tuple[Path, ...], key_text: str) -> None:
    """Check evaluator's copies with the report key: signature, figures, ledger numbers;
    several folders also checks that they agree. Needs no database."""
    from ..services.evaluator import key_problem, parse_key, verify_series

    problem = key_problem(key_text)
    if problem is not None:
        raise CommandError(f"--key: {problem}")
    results = verify_series(list(folders), parse_key(key_text))
    failed = [(checked.name, line) for checked in results for line in checked.problems]
    for name, line in failed:
        click.echo(f"{name}: {line}", err=True)
    if failed:
        raise CommandError(f"does not verify: {len(failed)} problems, each on a line above")
    for checked in results:
        assert checked.document is not None
        period, audit = checked.document["period"], checked.document["audit"]
        click.echo(
            f"ok: {checked.name}: {period['start']} to {period['end']}, "
            f"{len(checked.document['escalations'])} escalations accounted for, "
            f"audit head {audit['head_seq']} {audit['head_hash']}"
        )


@report.command("key")
@click.option(
    "--create",
    is_flag=True,
    help="Add a report key to an instance made before there was one.",
)
@with_appcontext
def key(create: bool) -> None:
    """Print the public report key that evaluators check copies with."""
    from ..config import ConfigError
    from ..extensions import current_context
    from ..services.instance import add_report_key

    settings = current_context().settings
    if not create:
        if settings.report_key is None:
            raise CommandError(NO_REPORT_KEY)
        click.echo(f"Report key (public): {_public(settings.report_key)}")
        return
    if settings.report_key is not None:
        raise CommandError(
            f"this instance has a report key already: {_public(settings.report_key)}"
        )
    try:
        public = add_report_key(settings.instance_path)
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc
    click.echo(f"Report key (public): {public.to_text()}")
    click.echo(
        "Added to the instance file. Copy the file to every other host of the instance and "
        "restart them; give the public key to evaluators by a channel of its own."
    )
