"""Creating an instance: secrets, the recovery key ceremony, the database."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import INSTANCE_FILE, ConfigError, write_instance_file
from ..crypto import KeyKind, PublicKeyRecipient, generate_identity, parse_recipient
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


def initialise_instance(
    path: Path,
    *,
    kind: KeyKind,
    threshold: int,
    custodians: int,
    recovery_recipient: str | None = None,
    database_url: str | None = None,
) -> NewInstance:
    """Create instance secrets, the recovery key (unless given) and the database."""
    if (path / INSTANCE_FILE).exists():
        raise ConfigError(f"{path / INSTANCE_FILE} exists already; refusing to overwrite it")
    ceremony: RecoveryCeremony | None = None
    if recovery_recipient:
        recipient = parse_recipient(recovery_recipient)
        if recipient.kind is not kind:
            raise ConfigError("the recovery recipient is not of the chosen key kind")
    else:
        ceremony = create_recovery_key(kind=kind, threshold=threshold, custodians=custodians)
        recipient = ceremony.recipient
    values: dict[str, str] = {
        "secret_key": base64.b64encode(os.urandom(32)).decode(),
        "source_salt": base64.b64encode(os.urandom(32)).decode(),
        "key_kind": kind.value,
        "recovery_recipient": recipient.encode(),
    }
    if database_url:
        values["database_url"] = database_url
    write_instance_file(path, values)
    (path / "recovery-recipient.txt").write_text(recipient.encode() + "\n", encoding="ascii")
    from ..migrate import upgrade

    url = database_url or f"sqlite:///{path / 'dissent.sqlite3'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return NewInstance(path=path, recovery=ceremony, recovery_recipient=recipient)
