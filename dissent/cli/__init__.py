"""The ``dissent`` command line (also reachable as ``flask --app dissent``)."""

from __future__ import annotations

import sys

import click
from flask.cli import FlaskGroup

from .age import age, decrypt
from .audit import audit
from .backup import backup, restore
from .doctor import doctor
from .export import export
from .instance import demo, init, serve
from .manage import db_group, mission, totp, user
from .notify import notify
from .purge import purge
from .recovery import recovery
from .report import report
from .storage import storage


def _create_app() -> object:
    from ..app import create_app
    from ..config import ConfigError
    from .age import CommandError

    try:
        # `dissent serve` and `dissent demo` make their own, serving application.
        return create_app(serving=False)
    except ConfigError as exc:  # no instance yet, or a broken one: one line, no traceback
        raise CommandError(str(exc)) from exc


class _Commands(FlaskGroup):
    """Flask's command group without its application lookup for listing commands.

    Every dissent command is registered on this group itself; Flask's default would
    build the application (which needs an initialised instance) just to list them, and
    print a traceback for ``dissent --help`` on a machine where ``dissent init`` has not
    run yet. Commands that need the application still load it (``with_appcontext``).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return this group's own commands."""
        return click.Group.list_commands(self, ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Return one of this group's own commands, or ``None`` (a usage error)."""
        return click.Group.get_command(self, ctx, name)


@click.group(
    cls=_Commands,
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
def cli() -> None:
    """dissent: a confidential channel for what official reporting leaves out."""


for command in (
    age,
    init,
    demo,
    serve,
    mission,
    user,
    db_group,
    totp,
    recovery,
    audit,
    report,
    export,
    backup,
    restore,
    purge,
    doctor,
    storage,
    notify,
):
    cli.add_command(command)
# The documented name is `dissent decrypt`; it is also `dissent age decrypt`, next to
# the other age commands.
cli.add_command(decrypt, name="decrypt")


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
