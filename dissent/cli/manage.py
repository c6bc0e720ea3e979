"""``dissent mission``, ``dissent user``, ``dissent db`` and ``dissent totp``."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app, url_for
from flask.cli import with_appcontext

from ..models import Role
from ..models.staff import EMAIL_MAX
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
    help="Mission of an adviser, leader or oversight member; repeatable.",
)
@click.option(
    "--email",
    default=None,
    metavar="ADDRESS",
    help=f"Mail address for notification mails (optional; one address of at most {EMAIL_MAX} "
    "characters).",
)
@click.option(
    "--base-url",
    default=None,
    help="Address staff use to reach the instance (default: the configured public "
    "address, DISSENT_PUBLIC_URL or public_url in the instance file).",
)
@with_appcontext
def user_add(
    username: str, role: str, missions: tuple[str, ...], email: str | None, base_url: str | None
) -> None:
    """Create an account and print its one-time enrolment link (valid 72 hours)."""
    from ..extensions import current_context, db
    from ..services.accounts import create_account
    from ..services.errors import AccountExists, InvalidInput
    from ..services.notifications import set_email

    base_url = base_url or current_context().settings.public_url
    if base_url is None:
        raise CommandError(
            "no address for the enrolment link: give --base-url, or set DISSENT_PUBLIC_URL"
        )
    try:
        with db.unit():
            created, token = create_account(
                db.session, username=username, role=Role(role), mission_slugs=list(missions)
            )
            if email:
                # In the same transaction: a refused address leaves no account behind.
                set_email(db.session, staff_id=created.id, email=email, actor="cli")
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


@user.command("confirm-key")
@click.argument("username")
@click.argument("mission_slug", metavar="MISSION")
@click.option(
    "--recovery-identity",
    "identity_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The recovery identity, rebuilt by the custodians (dissent recovery combine).",
)
@click.option(
    "--fingerprint",
    prompt="Fingerprint, as the person reads it from their own screen",
    help="The fingerprint of the person's key, as they read it out.",
)
@with_appcontext
def user_confirm_key(
    username: str, mission_slug: str, identity_file: Path, fingerprint: str
) -> None:
    """Confirm USERNAME's key for MISSION as the recovery key's custodians.

    For a mission's first adviser when there is no second operator: holding the
    recovery identity is the custodians' proof that they take part.
    """
    from sqlalchemy import select

    from ..crypto import KeyFormatError, parse_identity_file
    from ..extensions import current_context, db
    from ..models import Mission, StaffUser
    from ..services import confirmation
    from ..services.errors import InvalidInput, NotFound

    try:
        identities = parse_identity_file(identity_file.read_text(encoding="ascii"))
    except (KeyFormatError, UnicodeDecodeError) as exc:
        raise CommandError(f"{identity_file} is not an identity file") from exc
    recovery = current_context().settings.recovery_recipient.encode()
    if not any(identity.recipient.encode() == recovery for identity in identities):
        raise CommandError("this is not the instance's recovery identity")
    try:
        with db.unit():
            staff = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
            mission = db.session.scalar(select(Mission).where(Mission.slug == mission_slug))
            if staff is None or mission is None:
                raise NotFound
            confirmation.confirm(
                db.session,
                confirmer=None,
                staff_id=staff.id,
                mission_id=mission.id,
                typed_fingerprint=fingerprint,
            )
    except NotFound as exc:
        raise CommandError(
            f"{username!r} is not an enrolled member of mission {mission_slug!r}"
        ) from exc
    except InvalidInput as exc:
        raise CommandError(
            "that is not the fingerprint of this person's key; nothing was confirmed"
        ) from exc
    click.echo(f"The key of {username} is confirmed for mission {mission_slug}.")


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
