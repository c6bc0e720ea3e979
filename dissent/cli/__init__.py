"""The ``dissent`` command line (also reachable as ``flask --app dissent``)."""

from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup

from .age import age
from .audit import audit
from .instance import demo, init, serve
from .manage import db_group, mission, totp, user
from .recovery import recovery
from .report import report


def _create_app() -> object:
    from ..app import create_app

    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
def cli() -> None:
    """dissent: a confidential channel for what official reporting leaves out."""


for command in (age, init, demo, serve, mission, user, db_group, totp, recovery, audit, report):
    cli.add_command(command)


def main() -> None:
    """Run the ``dissent`` command line; every failure is one ``error:`` line."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
