"""Creating an instance: secrets, the recovery key ceremony, the database."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import inspect, make_url
from sqlalchemy.exc import SQLAlchemyError

from ..config import (
    INSTANCE_FILE,
    ConfigError,
    add_to_instance_file,
    parse_public_url,
    write_instance_file,
)
from ..crypto import (
    KeyKind,
    PublicKeyRecipient,
    SigningKey,
    VerifyKey,
    generate_identity,
    parse_recipient,
)
from ..crypto.shamir import format_share, split_secret
from ..database import make_engine

DEMO_MARKER = ".demo-instance"


@dataclass(frozen=True)
class RecoveryCeremony:
    """A new recovery key: its public recipient and the printed shares of its secret."""

    recipient: PublicKeyRecipient
    threshold: int
    shares: list[str] = field(repr=False)


def create_recovery_key(*, kind: KeyKind, threshold: int, custodians: int) -> RecoveryCeremony:
    """Generate a recovery identity and split it k-of-n; the secret is then dropped."""
    identity = generate_identity(kind)
    shares = split_secret(identity.secret_bytes(), threshold=threshold, shares=custodians)
    return RecoveryCeremony(
        recipient=identity.recipient,
        threshold=threshold,
        shares=[format_share(s) for s in shares],
    )


@dataclass(frozen=True)
class NewInstance:
    """What ``dissent init`` created."""

    path: Path
    recovery: RecoveryCeremony | None
    recovery_recipient: PublicKeyRecipient
    report_key: VerifyKey  # the public half of the key that signs evaluators' copies


def _refuse_a_used_database(url: str) -> None:
    """Raise :class:`ConfigError` unless the database at ``url`` is empty.

    New secrets over an existing database would lock everyone out: codenames are
    derived with the instance's salt, staff second factors are sealed with its key.
    A second host of an instance shares the first host's secrets instead.
    """
    if url.startswith("sqlite") and not Path(make_url(url).database or "").exists():
        return  # a new file: nothing to check, and nothing to create yet
    engine = make_engine(url)
    try:
        tables = inspect(engine).get_table_names()
    except SQLAlchemyError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise ConfigError(f"cannot reach the database {shown} ({type(exc).__name__})") from exc
    finally:
        engine.dispose()
    if tables:
        shown = make_url(url).render_as_string(hide_password=True)
        raise ConfigError(
            f"the database {shown} is in use already ({len(tables)} tables); dissent init "
            "creates new secrets and would lock out every source and staff member of the "
            f"instance there. To add a host to that instance, copy its {INSTANCE_FILE} "
            "(mode 0600) to the new host instead (docs/operations.md, 'Adding a host'); "
            "for a new instance, name an empty database"
        )


def initialise_instance(
    path: Path,
    *,
    kind: KeyKind,
    threshold: int,
    custodians: int,
    recovery_recipient: str | None = None,
    database_url: str | None = None,
    public_url: str | None = None,
) -> NewInstance:
    """Create instance secrets, the recovery key (unless given) and the database;
    ``public_url`` is kept with the secrets if given (``dissent serve`` needs one)."""
    if public_url is not None:
        public_url = parse_public_url(public_url)
    if (path / INSTANCE_FILE).exists():
        raise ConfigError(f"{path / INSTANCE_FILE} exists already; refusing to overwrite it")
    url = database_url or f"sqlite:///{path / 'dissent.sqlite3'}"
    _refuse_a_used_database(url)
    ceremony: RecoveryCeremony | None = None
    if recovery_recipient:
        recipient = parse_recipient(recovery_recipient)
        if recipient.kind is not kind:
            raise ConfigError("the recovery recipient is not of the chosen key kind")
    else:
        ceremony = create_recovery_key(kind=kind, threshold=threshold, custodians=custodians)
        recipient = ceremony.recipient
    report_key = SigningKey.generate()
    values: dict[str, str] = {
        "secret_key": base64.b64encode(os.urandom(32)).decode(),
        "source_salt": base64.b64encode(os.urandom(32)).decode(),
        "key_kind": kind.value,
        "recovery_recipient": recipient.encode(),
        "report_key": base64.b64encode(report_key.seed_bytes()).decode(),
    }
    if database_url:
        values["database_url"] = database_url
    if public_url:
        values["public_url"] = public_url
    write_instance_file(path, values)
    (path / "recovery-recipient.txt").write_text(recipient.encode() + "\n", encoding="ascii")
    from ..migrate import upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return NewInstance(
        path=path,
        recovery=ceremony,
        recovery_recipient=recipient,
        report_key=report_key.verify_key,
    )


def add_report_key(path: Path) -> VerifyKey:
    """Add a report key to the instance file of an instance made before there was one;
    return its public key. Every host of the instance needs the updated file."""
    key = SigningKey.generate()
    add_to_instance_file(path, "report_key", base64.b64encode(key.seed_bytes()).decode())
    return key.verify_key
