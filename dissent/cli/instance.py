"""``dissent init``, ``dissent demo`` and ``dissent serve``."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

import click
from flask import Flask

from ..config import ConfigError, add_to_instance_file
from ..crypto import KeyKind
from ..crypto.codename import codename_wordlist
from .age import CommandError

KIND_CHOICE = click.Choice([k.value for k in KeyKind])
# The demo's staff addresses and sender: a domain reserved never to exist (RFC 2606).
DEMO_MAIL_DOMAIN = "demo.invalid"


def _print_ceremony(shares: list[str], threshold: int) -> None:
    click.echo(f"\nRecovery key: {len(shares)} shares, any {threshold} of which recover it.")
    click.echo(
        "Give each share to a different custodian, on paper. They are not stored anywhere.\n"
    )
    for number, share in enumerate(shares, start=1):
        click.echo(f"  share {number}: {share}")
    click.echo("")


@click.command()
@click.option(
    "--instance",
    "instance_path",
    type=click.Path(path_type=Path),
    default="instance",
    show_default=True,
    help="Folder for the instance secrets and SQLite database.",
)
@click.option(
    "--key-kind",
    type=KIND_CHOICE,
    default=KeyKind.HYBRID.value,
    show_default=True,
    help="Post-quantum hybrid, or X25519 for exports that age 1.1.1 can open.",
)
@click.option(
    "--threshold",
    type=click.IntRange(2, 255),
    default=3,
    show_default=True,
    help="Shares needed to recover the recovery key.",
)
@click.option(
    "--custodians",
    type=click.IntRange(2, 255),
    default=5,
    show_default=True,
    help="Number of recovery key shares.",
)
@click.option(
    "--recovery-recipient",
    default=None,
    help="Use the recipient of a recovery key made on an offline machine (see keys/README.md).",
)
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    default=None,
    help="Database (default: SQLite in the instance folder).",
)
@click.option(
    "--public-url",
    default=None,
    metavar="URL",
    help="The address staff reach the instance at, e.g. https://dissent.example.org "
    "(kept in the instance file; `dissent serve` needs it, or DISSENT_PUBLIC_URL).",
)
def init(  # noqa: PLR0917 - click passes every option as an argument
    instance_path: Path,
    key_kind: str,
    threshold: int,
    custodians: int,
    recovery_recipient: str | None,
    database_url: str | None,
    public_url: str | None,
) -> None:
    """Create instance secrets, the recovery key ceremony and the database."""
    from ..services.instance import initialise_instance

    if threshold > custodians:
        raise CommandError("--threshold cannot exceed --custodians")
    try:
        created = initialise_instance(
            instance_path.resolve(),
            kind=KeyKind(key_kind),
            threshold=threshold,
            custodians=custodians,
            recovery_recipient=recovery_recipient,
            database_url=database_url,
            public_url=public_url,
        )
    except (ConfigError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    click.echo(f"Instance created in {created.path}")
    click.echo(f"Recovery recipient: {created.recovery_recipient.encode()}")
    click.echo(
        f"Report key (public; evaluators check reports with it): {created.report_key.to_text()}"
    )
    if created.recovery is not None:
        _print_ceremony(created.recovery.shares, created.recovery.threshold)


def _demo_password() -> str:
    # The cleaned English list: a password printed for a demo is read out in meetings.
    words = codename_wordlist("en")
    return "-".join(secrets.choice(words) for _ in range(4)) + "-" + str(secrets.randbelow(100))


def _seed_demo(app: Flask) -> dict[str, dict[str, str]]:
    from ..extensions import current_context, db
    from ..models import Role
    from ..services import accounts, notifications

    logins: dict[str, dict[str, str]] = {}
    with app.app_context(), db.unit() as session:
        ctx = current_context()
        accounts.create_mission(session, slug="demo", name="Demo mission")
        for role, username in (
            (Role.ADVISER, "adviser"),
            (Role.LEADERSHIP, "leader"),
            (Role.OVERSIGHT, "oversight"),
            (Role.ADMIN, "admin"),
        ):
            user, _token = accounts.create_account(
                session,
                username=username,
                role=role,
                mission_slugs=[] if role is Role.ADMIN else ["demo"],
            )
            password, totp_secret = _demo_password(), accounts.new_totp_secret()
            accounts.enrol_directly(
                session, ctx, user=user, password=password, totp_secret=totp_secret
            )
            # Addresses that can never be delivered on the internet (RFC 2606): set
            # DISSENT_SMTP_URL to a local mail server and `dissent notify` mails them.
            notifications.set_email(
                session, staff_id=user.id, email=f"{username}@{DEMO_MAIL_DOMAIN}", actor="cli"
            )
            logins[role.value] = {
                "username": username,
                "password": password,
                "totp_secret": totp_secret,
            }
    return logins


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--instance",
    "instance_path",
    type=click.Path(path_type=Path),
    default="instance",
    show_default=True,
)
@click.option(
    "--credentials-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the demo logins to this file as JSON.",
)
@click.option("--no-serve", is_flag=True, help="Set up the demo instance, then exit.")
def demo(
    host: str, port: int, instance_path: Path, credentials_file: Path | None, no_serve: bool
) -> None:
    """A fresh demo instance with one mission and four staff logins, served locally."""
    from ..app import create_app
    from ..services.instance import DEMO_MARKER, initialise_instance

    instance_path = instance_path.resolve()
    if instance_path.exists() and any(instance_path.iterdir()):
        if not (instance_path / DEMO_MARKER).exists():
            raise CommandError(f"{instance_path} holds a real instance; the demo will not touch it")
        shutil.rmtree(instance_path)
    instance_path.mkdir(parents=True)
    (instance_path / DEMO_MARKER).write_text("created by dissent demo; safe to delete\n")
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    created = initialise_instance(
        instance_path, kind=KeyKind.HYBRID, threshold=2, custodians=3, public_url=base
    )
    assert created.recovery is not None
    # Demo only: the shares go to a file so the recovery path can be tried out.
    shares_file = instance_path / "recovery-shares.txt"
    shares_file.write_text("\n".join(created.recovery.shares) + "\n", encoding="ascii")
    shares_file.chmod(0o600)
    # Demo only: notification mails may go in clear to a mail server on this machine.
    add_to_instance_file(instance_path, "smtp_from", f"dissent@{DEMO_MAIL_DOMAIN}")
    add_to_instance_file(instance_path, "smtp_allow_plain_loopback", "yes")
    app = create_app({"INSTANCE_PATH": str(instance_path)})
    logins = _seed_demo(app)
    if credentials_file is not None:
        fd = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(logins, handle, indent=2)
    click.echo(f"\ndissent demo instance in {instance_path}\n")
    click.echo(f"  Source side:  {base}/")
    click.echo(f"  Staff login:  {base}/staff/login\n")
    for role, login in logins.items():
        click.echo(f"  {role:<11} username {login['username']:<8} password {login['password']}")
        secret = login["totp_secret"]
        click.echo(f"  {'':<11} TOTP secret {secret}  (current code: dissent totp {secret})")
    click.echo(f"\n  Recovery shares (2 of 3): {shares_file}")
    click.echo(
        f"  Notification mails go to {{adviser,leader,oversight,admin}}@{DEMO_MAIL_DOMAIN}: "
        "run a mail "
        "server on this machine, set DISSENT_SMTP_URL=smtp://127.0.0.1:PORT and run "
        "`dissent notify`\n"
    )
    if not no_serve:
        run_server(app, host=host, port=port, workers=2)


def run_server(app: Flask, *, host: str, port: int, workers: int) -> None:
    """Serve ``app`` with gunicorn: no access log, no addresses, paced reads
    (:mod:`dissent.cli.server`)."""
    from .server import serve_forever

    serve_forever(app, host=host, port=port, workers=workers)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Serve the instance with gunicorn (no access log)."""
    from ..app import create_app

    try:
        app = create_app()
    except ConfigError as exc:
        raise CommandError(str(exc)) from exc
    _prepare_to_serve(app)
    run_server(app, host=host, port=port, workers=workers)


def _prepare_to_serve(app: Flask) -> None:
    """Refuse a database without the latest schema; remove stale partial uploads.

    A server started before `dissent db upgrade` would answer every page that reads a
    changed table with an error, so it does not start.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from ..config import Settings
    from ..extensions import db
    from ..services.doctor import schema_of, unreachable_database
    from ..services.storage import remove_stale_parts

    engine = db.engine(app)
    try:
        finding = schema_of(engine).finding()
    except SQLAlchemyError as exc:
        finding = unreachable_database(engine, exc)
    finally:
        # gunicorn forks its workers from this process: none may share its connection.
        engine.dispose()
    if finding is not None:
        raise CommandError(f"not serving: {finding.problem}; fix: {finding.fix}")
    settings: Settings = app.extensions["dissent.settings"]
    removed = remove_stale_parts(settings)
    if removed:
        click.echo(f"Removed {removed} partial upload file(s) left by uploads that did not finish.")
