"""Sealing server-side secrets: round trip, context binding, tamper refusal, key derivation."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dissent.crypto.errors import DecryptionError
from dissent.crypto.secretbox import KEY_SIZE, derive_key, generate_key, open_sealed, seal

KEY = bytes(range(KEY_SIZE))
NONCE_AND_TAG = 12 + 16


def test_a_sealed_value_opens_with_its_key_and_context():
    blob = seal(b"JBSWY3DPEHPK3PXP", key=KEY, context=b"alice")

    assert open_sealed(blob, key=KEY, context=b"alice") == b"JBSWY3DPEHPK3PXP"


@pytest.mark.parametrize("data", [b"", b"x", bytes(1000)], ids=["empty", "one", "1000"])
def test_a_sealed_value_is_a_nonce_then_the_aead_ciphertext(data):
    # Values stored sealed in the database must stay readable across releases: the
    # layout is a 12-byte nonce followed by ChaCha20-Poly1305 with the context as AAD.
    blob = seal(data, key=KEY, context=b"ctx")

    assert len(blob) == len(data) + NONCE_AND_TAG
    assert ChaCha20Poly1305(KEY).decrypt(blob[:12], blob[12:], b"ctx") == data


def test_sealing_the_same_value_twice_gives_different_blobs():
    first = seal(b"secret", key=KEY)
    second = seal(b"secret", key=KEY)

    assert first[:12] != second[:12]
    assert first != second
    assert open_sealed(first, key=KEY) == open_sealed(second, key=KEY) == b"secret"


def test_a_value_sealed_for_one_context_does_not_open_for_another():
    # A TOTP secret sealed for one user must not be usable when copied to another row.
    blob = seal(b"secret", key=KEY, context=b"alice")

    with pytest.raises(DecryptionError, match="does not authenticate"):
        open_sealed(blob, key=KEY, context=b"bob")
    with pytest.raises(DecryptionError, match="does not authenticate"):
        open_sealed(blob, key=KEY)


def test_a_value_does_not_open_under_another_key():
    blob = seal(b"secret", key=KEY)

    with pytest.raises(DecryptionError, match="does not authenticate"):
        open_sealed(blob, key=generate_key())


@pytest.mark.parametrize("position", [0, 11, 12, -1])
def test_a_flipped_bit_anywhere_in_the_blob_is_refused(position):
    blob = bytearray(seal(b"secret value", key=KEY))
    blob[position] ^= 1

    with pytest.raises(DecryptionError):
        open_sealed(bytes(blob), key=KEY)


@pytest.mark.parametrize(
    ("blob_size", "key"),
    [(0, KEY), (NONCE_AND_TAG - 1, KEY), (40, KEY[:16]), (40, KEY + b"\x00"), (40, b"")],
    ids=["empty blob", "blob shorter than nonce and tag", "short key", "long key", "no key"],
)
def test_a_malformed_blob_or_key_is_a_decryption_error_not_a_crash(blob_size, key):
    with pytest.raises(DecryptionError, match="malformed"):
        open_sealed(bytes(blob_size), key=key)


def test_the_shortest_blob_is_checked_for_authenticity_not_refused_as_malformed():
    blob = seal(b"", key=KEY)

    assert len(blob) == NONCE_AND_TAG
    assert open_sealed(blob, key=KEY) == b""
    with pytest.raises(DecryptionError, match="does not authenticate"):
        open_sealed(bytes(NONCE_AND_TAG), key=KEY)


def test_generated_keys_are_fresh_32_byte_keys():
    keys = {generate_key() for _ in range(8)}

    assert len(keys) == 8
    assert all(len(key) == KEY_SIZE for key in keys)


def test_derived_keys_are_hkdf_of_the_master_under_the_dissent_salt():
    # Sessions and sealed TOTP secrets survive a restart only if the same master secret
    # always derives the same key, so the derivation is pinned to its documented inputs.
    master = b"instance secret key"
    expected = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"dissent/v1/secretbox", info=b"totp"
    ).derive(master)

    assert derive_key(master, purpose="totp") == expected


def test_derived_keys_differ_by_purpose_and_by_master():
    key = derive_key(b"master", purpose="flask-secret-key")

    assert derive_key(b"master", purpose="totp") != key
    assert derive_key(b"other master", purpose="flask-secret-key") != key
    assert derive_key(b"master", purpose="flask-secret-key") == key
