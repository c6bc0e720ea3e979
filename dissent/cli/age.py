"""``dissent age``: keygen, encrypt and decrypt, compatible with the ``age`` tool.

Errors are one line on standard error and a non-zero exit, never a traceback: a
person at a terminal during a key ceremony needs to know what to fix, nothing else.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import click

from ..crypto import (
    DecryptionError,
    Identity,
    KeyFormatError,
    KeyKind,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    Stanza,
    decrypt_stream,
    decrypt_to_path,
    encrypt_stream,
    format_identity_file,
    generate_identity,
    parse_identity_file,
    parse_recipient,
)

PASSPHRASE_ENV = "DISSENT_PASSPHRASE"  # noqa: S105 (a variable name)


class CommandError(click.ClickException):
    """A failure reported as a single ``error: …`` line."""

    def show(self, file: object = None) -> None:
        """Print the one-line message to standard error."""
        click.echo(f"error: {self.format_message()}", err=True)


@contextlib.contextmanager
def _input(path: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; only open() errors are "cannot read"
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        yield handle


def _read_passphrase(*, confirm: bool) -> str:
    value = os.environ.get(PASSPHRASE_ENV)
    if value is not None:
        if not value:
            raise CommandError(f"{PASSPHRASE_ENV} is set but empty")
        return value
    try:
        first = getpass.getpass("Passphrase: ")
        if confirm and getpass.getpass("Confirm passphrase: ") != first:
            raise CommandError("the passphrases do not match")
    except (EOFError, OSError) as exc:
        raise CommandError(f"no passphrase: set {PASSPHRASE_ENV} or run from a terminal") from exc
    if not first:
        raise CommandError("the passphrase is empty")
    return first


class _PromptingScryptIdentity(Identity):
    """Asks for the passphrase only once the header turns out to be a passphrase file."""

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """Prompt and try the passphrase if the file has an scrypt stanza."""
        if not any(s.type == "scrypt" for s in stanzas):
            raise CommandError("the file is encrypted to a key: pass -i IDENTITY_FILE")
        return ScryptIdentity(_read_passphrase(confirm=False)).unwrap(stanzas)


def _refuse_existing(path: str) -> None:
    if Path(path).exists():
        raise CommandError(f"{path} already exists; not overwriting it")


@click.group()
def age() -> None:
    """Work with age files offline (compatible with the age tool)."""


@age.command()
@click.option("--pq", is_flag=True, help="Make a post-quantum hybrid (age1pq1…) identity.")
@click.option("-o", "--output", "output", metavar="FILE", help="Write the identity to FILE.")
def keygen(pq: bool, output: str | None) -> None:
    """Generate an identity file (secret key with its public key as a comment)."""
    identity = generate_identity(KeyKind.HYBRID if pq else KeyKind.X25519)
    text = format_identity_file(identity)
    if output is None:
        click.echo(text, nl=False)
        return
    _refuse_existing(output)
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text)
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror}") from exc
    click.echo(f"Public key: {identity.recipient.encode()}", err=True)


@age.command()
@click.option(
    "-r",
    "--recipient",
    "recipient_texts",
    multiple=True,
    metavar="RECIPIENT",
    help="Encrypt to RECIPIENT (age1… or age1pq1…); repeatable.",
)
@click.option(
    "-p",
    "--passphrase",
    "use_passphrase",
    is_flag=True,
    help=f"Encrypt with a passphrase (from {PASSPHRASE_ENV} or the terminal).",
)
@click.option("-a", "--armor", is_flag=True, help="Write ASCII armor instead of binary.")
@click.option("-o", "--output", "output", metavar="OUT", help="Write to OUT (default: stdout).")
@click.argument("input_path", metavar="[IN]", default="-")
def encrypt(
    recipient_texts: tuple[str, ...],
    use_passphrase: bool,
    armor: bool,
    output: str | None,
    input_path: str,
) -> None:
    """Encrypt IN (default: stdin) to recipients or a passphrase."""
    if use_passphrase == bool(recipient_texts):
        raise CommandError("give either -p or at least one -r RECIPIENT")
    recipients: list[Recipient] = []
    for number, text in enumerate(recipient_texts, start=1):
        try:
            recipients.append(parse_recipient(text))
        except KeyFormatError as exc:
            # Never echo the text: it may be a secret key pasted by mistake.
            raise CommandError(f"recipient {number} is not a valid age recipient: {exc}") from exc
    if use_passphrase:
        recipients = [ScryptRecipient(_read_passphrase(confirm=True))]
    if output is None and not armor and sys.stdout.isatty():
        raise CommandError("refusing to write binary to a terminal; use -a or -o")
    with _input(input_path) as source:
        try:
            if output is None:
                encrypt_stream(source, sys.stdout.buffer, recipients=recipients, armor=armor)
                sys.stdout.buffer.flush()
            else:
                _encrypt_to_file(source, output, recipients=recipients, armor=armor)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"cannot write standard output: {exc.strerror}") from exc


def _encrypt_to_file(
    source: BinaryIO, output: str, *, recipients: Sequence[Recipient], armor: bool
) -> None:
    """Write to a temporary file beside OUT and rename: OUT is replaced only on success."""
    target = Path(output)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".dissent-", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as sink:
            encrypt_stream(source, sink, recipients=recipients, armor=armor)
        os.replace(tmp_name, target)
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)


@age.command()
@click.option(
    "-i",
    "--identity",
    "identity_files",
    multiple=True,
    metavar="IDENTITY_FILE",
    help="Use the identities in IDENTITY_FILE; repeatable.",
)
@click.option(
    "-o",
    "--output",
    "output",
    metavar="OUT",
    help="Write to OUT, only once the whole file has authenticated.",
)
@click.option(
    "--unpad",
    is_flag=True,
    help="Remove dissent's length-hiding padding (for files from dissent export).",
)
@click.argument("input_path", metavar="[IN]", default="-")
def decrypt(
    identity_files: tuple[str, ...], output: str | None, unpad: bool, input_path: str
) -> None:
    """Decrypt IN (default: stdin) with identity files, or a passphrase if none is given."""
    identities: list[Identity] = []
    for path in identity_files:
        try:
            identities.extend(parse_identity_file(Path(path).read_text(encoding="utf-8")))
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        except (KeyFormatError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: not an identity file ({exc})") from exc
    if not identities:
        identities = [_PromptingScryptIdentity()]
    with _input(input_path) as source:
        try:
            if output is None:
                decrypt_stream(source, sys.stdout.buffer, identities=identities, padded=unpad)
                sys.stdout.buffer.flush()
            else:
                decrypt_to_path(source, output, identities=identities, padded=unpad)
        except DecryptionError as exc:
            raise CommandError(f"decryption failed: {exc}") from exc
        except OSError as exc:
            raise CommandError(
                f"cannot write {output or 'standard output'}: {exc.strerror}"
            ) from exc
