"""The ``dissent`` command line."""

from __future__ import annotations

import click

from .age import age


@click.group()
def cli() -> None:
    """dissent: a confidential channel for what official reporting leaves out."""


cli.add_command(age)


def main() -> None:
    """Run the ``dissent`` command line."""
    cli()
