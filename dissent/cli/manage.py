"""``dissent mission``, ``dissent user``, ``dissent db`` and ``dissent totp``."""

from __future__ import annotations

import time

import click
from flask import current_app, url_for
from flask.cli import with_appcontext

from ..models import Role
from .age import CommandError


@click.group()
def mission() -> None:
    """Manage missions."""


@mission.command("add")
@click.argument("slug")
@click.argument("name")
@with_appcontext
def mission_add(slug: str, name: str) -> None:
    """Create a mission with short name SLUG and full NAME."""
    from ..extensions import db
    from ..services.accounts import create_mission
    from ..services.errors import InvalidInput, MissionExists

    try:
        with db.unit():
            created = create_mission(db.session, slug=slug, name=name)
    except MissionExists as exc:
        raise CommandError(f"mission {slug!r} exists already") from exc
    except InvalidInput as exc:
        raise CommandError(str(exc)) from exc
    click.echo(f"Mission {created.slug} created.")


@mission.command("deadlines")
@click.argument("slug")
@click.option("--ack-days", type=int, required=True, help="Days to acknowledge (1 to 7).")
@click.option("--feedback-months", type=int, required=True, help="Months to feedback (1 to 3).")
@with_appcontext
def mission_deadlines(slug: str, ack_days: int, feedback_months: int) -> None:
    """Set a mission's deadlines (the law's 7 days and 3 months are the maximum)."""
    from ..extensions import db
    from ..services.accounts import set_deadlines
    from ..services.errors import InvalidInput, NotFound

    try:
        with db.unit():
            set_deadlines(db.session, slug=slug, ack_days=ack_days, feedback_months=feedback_months)
    except (NotFound, InvalidInput) as exc:
        raise CommandError(str(exc)) from exc
    click.echo(
        f"Mission {slug}: acknowledge within {ack_days} days, feedback within "
        f"{feedback_months} months."
    )


@click.group()
def user() -> None:
    """Manage staff accounts."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option(
    "--mission",
    "missions",
    multiple=True,
    metavar="SLUG",
    help="Mission of an adviser or leader; repeatable.",
)
@click.option(
    "--base-url",
    envvar="DISSENT_PUBLIC_URL",
    default="http://127.0.0.1:5000",
    show_default=True,
    help="Address staff use to reach the instance.",
)
@with_appcontext
def user_add(username: str, role: str, missions: tuple[str, ...], base_url: str) -> None:
    """Create an account and print its one-time enrolment link (valid 72 hours)."""
    from ..extensions import db
    from ..services.accounts import create_account
    from ..services.errors import AccountExists, InvalidInput

    try:
        with db.unit():
            created, token = create_account(
                db.session, username=username, role=Role(role), mission_slugs=list(missions)
            )
    except AccountExists as exc:
        raise CommandError(f"username {username!r} is taken") from exc
    except InvalidInput as exc:
        raise CommandError(str(exc)) from exc
    with current_app.test_request_context(base_url=base_url.rstrip("/")):
        link = url_for("staff.enrol", token=token, _external=True)
    click.echo(
        f"Account {created.username} ({role}) created. Enrolment link, valid 72 hours, once:"
    )
    click.echo(link)


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply all pending migrations."""
    from ..extensions import db
    from ..migrate import upgrade

    upgrade(db.engine(current_app))
    click.echo("Database is at the latest schema.")


@click.command()
@click.argument("secret")
def totp(secret: str) -> None:
    """Print the current code for a TOTP SECRET (for the demo and for testing)."""
    import pyotp

    try:
        click.echo(pyotp.TOTP(secret.replace(" ", "")).at(time.time()))
    except Exception as exc:
        raise CommandError("not a base32 TOTP secret") from exc
