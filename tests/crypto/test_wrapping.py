"""Tests for dissent.crypto.wrapping: staff identities under a passphrase."""

from __future__ import annotations

import pytest

from dissent.crypto import (
    DecryptionError,
    KeyKind,
    NoIdentityMatchError,
    ScryptIdentity,
    ScryptRecipient,
    decrypt,
    encrypt,
    format_identity_file,
    generate_identity,
    split_header,
    unwrap_identity,
    wrap_identity,
)

FAST = 10  # scrypt work factor 2^10: milliseconds instead of the production 2^16
PASSPHRASE = "staff member's passphrase"


@pytest.mark.parametrize("kind", [KeyKind.X25519, KeyKind.HYBRID])
def test_a_wrapped_identity_unwraps_to_the_same_identity(kind) -> None:
    identity = generate_identity(kind)
    wrapped = wrap_identity(identity, passphrase=PASSPHRASE, work_factor=FAST)
    unwrapped = unwrap_identity(wrapped, passphrase=PASSPHRASE)
    assert unwrapped.recipient == identity.recipient
    assert unwrapped.secret_bytes() == identity.secret_bytes()


def test_a_wrong_passphrase_is_a_decryption_error() -> None:
    wrapped = wrap_identity(generate_identity(), passphrase=PASSPHRASE, work_factor=FAST)
    with pytest.raises(DecryptionError) as caught:
        unwrap_identity(wrapped, passphrase=PASSPHRASE + " ")
    assert isinstance(caught.value, NoIdentityMatchError)


def test_the_wrapped_identity_is_an_age_passphrase_file() -> None:
    identity = generate_identity(KeyKind.X25519)
    wrapped = wrap_identity(identity, passphrase=PASSPHRASE, work_factor=FAST)
    header, _ = split_header(wrapped)
    lines = header.split(b"\n")
    assert lines[0] == b"age-encryption.org/v1"
    assert lines[1].startswith(b"-> scrypt ")
    assert lines[1].endswith(b" 10")
    assert lines[3].startswith(b"--- ")

    text = decrypt(wrapped, identities=[ScryptIdentity(PASSPHRASE)]).decode("ascii")
    assert f"# public key: {identity.recipient.encode()}\n" in text
    assert identity.secret_string() in text


def test_the_default_work_factor_is_the_staff_one() -> None:
    wrapped = wrap_identity(generate_identity(KeyKind.X25519), passphrase=PASSPHRASE)
    stanza = split_header(wrapped)[0].split(b"\n")[1]
    assert stanza.endswith(b" 16")


def test_an_armored_wrapped_identity_is_text_and_unwraps() -> None:
    identity = generate_identity(KeyKind.X25519)
    wrapped = wrap_identity(identity, passphrase=PASSPHRASE, work_factor=FAST, armor=True)
    text = wrapped.decode("ascii")
    assert text.startswith("-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert text.rstrip("\n").endswith("-----END AGE ENCRYPTED FILE-----")
    assert unwrap_identity(wrapped, passphrase=PASSPHRASE).recipient == identity.recipient


def test_each_wrapping_is_different() -> None:
    identity = generate_identity(KeyKind.X25519)
    first = wrap_identity(identity, passphrase=PASSPHRASE, work_factor=FAST)
    second = wrap_identity(identity, passphrase=PASSPHRASE, work_factor=FAST)
    assert first != second


def test_a_tampered_wrapped_identity_is_refused() -> None:
    wrapped = bytearray(wrap_identity(generate_identity(), passphrase=PASSPHRASE, work_factor=FAST))
    wrapped[-1] ^= 1
    with pytest.raises(DecryptionError):
        unwrap_identity(bytes(wrapped), passphrase=PASSPHRASE)


@pytest.mark.parametrize(
    "plaintext",
    [
        pytest.param(b"just some text\n", id="not an identity"),
        pytest.param(b"\xff\xfe", id="not ascii"),
        pytest.param(b"", id="empty"),
    ],
)
def test_a_passphrase_file_without_an_identity_is_refused(plaintext) -> None:
    blob = encrypt(plaintext, recipients=[ScryptRecipient(PASSPHRASE, work_factor=FAST)])
    with pytest.raises(DecryptionError, match="does not hold an identity"):
        unwrap_identity(blob, passphrase=PASSPHRASE)


def test_a_passphrase_file_with_two_identities_is_refused() -> None:
    text = format_identity_file(generate_identity()) + format_identity_file(generate_identity())
    blob = encrypt(text.encode(), recipients=[ScryptRecipient(PASSPHRASE, work_factor=FAST)])
    with pytest.raises(DecryptionError, match="more than one"):
        unwrap_identity(blob, passphrase=PASSPHRASE)


def test_a_key_file_is_not_unwrapped_by_a_passphrase() -> None:
    holder = generate_identity(KeyKind.X25519)
    text = format_identity_file(generate_identity(KeyKind.X25519)).encode()
    blob = encrypt(text, recipients=[holder.recipient])
    with pytest.raises(NoIdentityMatchError):
        unwrap_identity(blob, passphrase=PASSPHRASE)
