"""Creating an instance: the recovery key ceremony, the instance file and the database."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import inspect

from dissent.config import INSTANCE_FILE, ConfigError, load_settings
from dissent.crypto import KeyKind, generate_identity, identity_from_secret
from dissent.crypto.shamir import NotEnoughSharesError, combine_shares, parse_share
from dissent.database import make_engine
from dissent.services.instance import create_recovery_key, initialise_instance


def recovered(ceremony, indexes, kind):
    shares = [parse_share(ceremony.shares[i]) for i in indexes]
    return identity_from_secret(combine_shares(shares), kind=kind)


def tables_of(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_ceremony_prints_one_share_per_custodian_and_any_threshold_recovers_the_key():
    ceremony = create_recovery_key(kind=KeyKind.X25519, threshold=2, custodians=4)

    assert len(ceremony.shares) == 4
    assert len(set(ceremony.shares)) == 4
    assert ceremony.threshold == 2
    for pair in [(0, 1), (1, 3), (2, 0)]:
        assert recovered(ceremony, pair, KeyKind.X25519).recipient == ceremony.recipient
    with pytest.raises(NotEnoughSharesError):
        recovered(ceremony, [2], KeyKind.X25519)


def test_the_ceremony_does_not_show_its_shares_when_printed_or_logged():
    ceremony = create_recovery_key(kind=KeyKind.X25519, threshold=2, custodians=3)

    for share in ceremony.shares:
        assert share not in repr(ceremony)


def test_a_new_instance_has_fresh_secrets_its_recovery_key_and_a_migrated_database(tmp_path):
    path = tmp_path / "inst"

    created = initialise_instance(path, kind=KeyKind.X25519, threshold=2, custodians=3)

    assert created.recovery is not None
    assert created.recovery_recipient == created.recovery.recipient
    values = json.loads((path / INSTANCE_FILE).read_text())
    assert len(base64.b64decode(values["secret_key"])) == 32
    assert len(base64.b64decode(values["source_salt"])) == 32
    assert values["secret_key"] != values["source_salt"]
    assert values["recovery_recipient"] == created.recovery_recipient.encode()
    assert (path / "recovery-recipient.txt").read_text() == values["recovery_recipient"] + "\n"
    settings = load_settings({}, {"INSTANCE_PATH": str(path)})
    assert settings.key_kind is KeyKind.X25519
    assert {"mission", "observation", "audit_entry"} <= tables_of(settings.database_url)
    # The secret of the recovery key itself is not kept anywhere in the instance.
    for share in created.recovery.shares:
        for file in path.iterdir():
            if file.is_file():
                assert share.encode() not in file.read_bytes()


def test_two_instances_never_share_secrets(tmp_path):
    for name in ("one", "two"):
        initialise_instance(tmp_path / name, kind=KeyKind.X25519, threshold=2, custodians=3)

    one, two = (json.loads((tmp_path / n / INSTANCE_FILE).read_text()) for n in ("one", "two"))

    assert one["secret_key"] != two["secret_key"]
    assert one["source_salt"] != two["source_salt"]
    assert one["recovery_recipient"] != two["recovery_recipient"]


def test_a_given_recovery_recipient_is_used_and_no_ceremony_held(tmp_path):
    existing = generate_identity(KeyKind.X25519).recipient.encode()

    created = initialise_instance(
        tmp_path / "inst",
        kind=KeyKind.X25519,
        threshold=2,
        custodians=3,
        recovery_recipient=existing,
    )

    assert created.recovery is None
    assert created.recovery_recipient.encode() == existing
    values = json.loads((tmp_path / "inst" / INSTANCE_FILE).read_text())
    assert values["recovery_recipient"] == existing


def test_a_recovery_recipient_of_the_other_key_kind_is_refused_before_anything_is_written(
    tmp_path,
):
    hybrid = generate_identity(KeyKind.HYBRID).recipient.encode()

    with pytest.raises(ConfigError, match="key kind"):
        initialise_instance(
            tmp_path / "inst",
            kind=KeyKind.X25519,
            threshold=2,
            custodians=3,
            recovery_recipient=hybrid,
        )

    assert not (tmp_path / "inst").exists()


def test_a_given_database_is_named_in_the_instance_file_and_migrated(tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"

    initialise_instance(
        tmp_path / "inst", kind=KeyKind.X25519, threshold=2, custodians=3, database_url=url
    )

    assert load_settings({}, {"INSTANCE_PATH": str(tmp_path / "inst")}).database_url == url
    assert "observation" in tables_of(url)
    assert not (tmp_path / "inst" / "dissent.sqlite3").exists()


def test_a_database_in_use_is_refused_before_anything_is_written(tmp_path, database_url):
    # database_url: a migrated database, as a running instance's would be (SQLite or
    # PostgreSQL). New secrets over it would lock every source and staff member out.
    with pytest.raises(ConfigError) as refused:
        initialise_instance(
            tmp_path / "second-host",
            kind=KeyKind.X25519,
            threshold=2,
            custodians=3,
            database_url=database_url,
        )

    message = str(refused.value)
    assert "in use already" in message and "Adding a host" in message
    assert INSTANCE_FILE in message
    assert not (tmp_path / "second-host" / INSTANCE_FILE).exists()


def test_the_second_init_against_the_same_database_keeps_the_first_instance_working(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    initialise_instance(
        tmp_path / "a", kind=KeyKind.X25519, threshold=2, custodians=3, database_url=url
    )
    first = load_settings({}, {"INSTANCE_PATH": str(tmp_path / "a")})

    with pytest.raises(ConfigError, match="in use already"):
        initialise_instance(
            tmp_path / "b", kind=KeyKind.X25519, threshold=2, custodians=3, database_url=url
        )

    assert (
        load_settings({}, {"INSTANCE_PATH": str(tmp_path / "a")}).source_salt == first.source_salt
    )
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_a_database_that_cannot_be_reached_is_named_without_its_password(tmp_path):
    url = "postgresql+psycopg://dissent:hunter2-secret@127.0.0.1:1/nowhere"

    with pytest.raises(ConfigError) as refused:
        initialise_instance(
            tmp_path / "inst", kind=KeyKind.X25519, threshold=2, custodians=3, database_url=url
        )

    assert "cannot reach the database" in str(refused.value)
    assert "hunter2" not in str(refused.value)
    assert not (tmp_path / "inst" / INSTANCE_FILE).exists()
