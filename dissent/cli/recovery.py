"""``dissent recovery combine``: rebuild the recovery identity from custodians' shares."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..crypto import KeyFormatError, KeyKind, format_identity_file, identity_from_secret
from ..crypto.shamir import Share, combine_shares, parse_share
from .age import CommandError
from .instance import KIND_CHOICE


@click.group()
def recovery() -> None:
    """The offline recovery key."""


@recovery.command("combine")
@click.option("--key-kind", type=KIND_CHOICE, default=KeyKind.HYBRID.value, show_default=True)
@click.option(
    "--expect",
    "expected",
    default=None,
    metavar="RECIPIENT",
    help="The instance's recovery recipient, to check the result against.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Write the recovered identity file here (created with mode 0600).",
)
def combine(key_kind: str, expected: str | None, output: Path) -> None:
    """Read shares, one per line, until enough are given; write the identity file.

    Run this on an offline machine. Shares are read from standard input, so custodians
    can type them in turn; a mistyped share is reported and can be typed again.
    """
    if output.exists():
        raise CommandError(f"{output} already exists; not overwriting it")
    shares: list[Share] = []
    needed: int | None = None
    interactive = sys.stdin.isatty()
    while needed is None or len(shares) < needed:
        if interactive:
            click.echo(f"Share {len(shares) + 1}: ", nl=False, err=True)
        line = sys.stdin.readline()
        if not line:
            raise CommandError(f"only {len(shares)} shares given; {needed or 'more'} needed")
        if not line.strip():
            continue
        try:
            share = parse_share(line)
        except KeyFormatError as exc:
            if not interactive:
                raise CommandError(str(exc)) from exc
            click.echo(f"  {exc}; type it again.", err=True)
            continue
        needed = needed or share.threshold
        shares.append(share)
    try:
        secret = combine_shares(shares)
    except KeyFormatError as exc:
        raise CommandError(str(exc)) from exc
    identity = identity_from_secret(secret, kind=KeyKind(key_kind))
    if expected and identity.recipient.encode() != expected.strip():
        raise CommandError("the shares do not give the expected recovery recipient")
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(format_identity_file(identity))
    click.echo(
        f"Recovery identity for {identity.recipient.encode()[:24]}… written to {output}", err=True
    )
