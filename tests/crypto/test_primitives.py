"""HKDF-SHA-256 and the file-key wrapping AEAD against RFC 5869 and the age test vectors."""

from __future__ import annotations

import hashlib
import io

import pytest

from dissent.crypto._encoding import b64decode
from dissent.crypto._header import read_header
from dissent.crypto._io import BufferedSource
from dissent.crypto._primitives import hkdf_sha256, open_file_key, seal_file_key
from tests.helpers.vectors import file_key, vectors

# RFC 5869, appendix A: test case 1 (salt and info) and test case 3 (both empty, as
# the age header MAC key uses an empty salt).
RFC5869_CASES = [
    (
        bytes([0x0B]) * 22,
        bytes(range(0x0D)),
        bytes(range(0xF0, 0xFA)),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    ),
    (
        bytes([0x0B]) * 22,
        b"",
        b"",
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    ),
]

SCRYPT_VECTOR = vectors("scrypt", expect="success")[0]


def scrypt_stanza_and_wrap_key():
    """Return the official scrypt vector's stanza and its wrap key, derived as the spec says."""
    header, _ = read_header(BufferedSource(io.BytesIO(SCRYPT_VECTOR.body)))
    (stanza,) = header.stanzas
    _, salt, work_factor = stanza.args
    wrap_key = hashlib.scrypt(
        SCRYPT_VECTOR.passphrases[0].encode(),
        salt=b"age-encryption.org/v1/scrypt" + b64decode(salt),
        n=2 ** int(work_factor),
        r=8,
        p=1,
        dklen=32,
    )
    return stanza, wrap_key


@pytest.mark.parametrize(("ikm", "salt", "info", "okm"), RFC5869_CASES, ids=["salt", "empty"])
def test_hkdf_gives_the_rfc_5869_output(ikm, salt, info, okm):
    assert hkdf_sha256(ikm, salt=salt, info=info, length=42).hex() == okm


def test_hkdf_gives_32_bytes_by_default_and_the_prefix_of_a_longer_output():
    key = hkdf_sha256(b"file key", salt=b"nonce", info=b"payload")

    assert len(key) == 32
    assert hkdf_sha256(b"file key", salt=b"nonce", info=b"payload", length=64)[:32] == key


def test_hkdf_separates_keys_by_salt_and_info():
    base = hkdf_sha256(b"file key", salt=b"", info=b"header")

    assert hkdf_sha256(b"file key", salt=b"", info=b"payload") != base
    assert hkdf_sha256(b"file key", salt=b"x", info=b"header") != base


def test_the_official_scrypt_stanza_opens_to_its_recorded_file_key():
    stanza, wrap_key = scrypt_stanza_and_wrap_key()

    assert open_file_key(wrap_key, stanza.body) == file_key(SCRYPT_VECTOR)


def test_sealing_the_file_key_gives_the_official_stanza_body_byte_for_byte():
    # The nonce is fixed at zero, so sealing is deterministic: a one-time wrap key is
    # what keeps it safe, and any other nonce would break every age implementation.
    stanza, wrap_key = scrypt_stanza_and_wrap_key()

    assert seal_file_key(wrap_key, file_key(SCRYPT_VECTOR)) == stanza.body


def test_a_sealed_file_key_carries_a_16_byte_tag_and_opens_again():
    wrap_key, key = bytes(range(32)), b"sixteen byte key"

    body = seal_file_key(wrap_key, key)

    assert len(body) == len(key) + 16
    assert open_file_key(wrap_key, body) == key


@pytest.mark.parametrize(
    "change",
    [
        lambda key, body: (bytes(32), body),
        lambda key, body: (key, body[:-1] + bytes([body[-1] ^ 1])),
        lambda key, body: (key, body[:1] + bytes([body[1] ^ 0x80]) + body[2:]),
        lambda key, body: (key, body[:15]),
        lambda key, body: (key, b""),
    ],
    ids=["wrong key", "flipped tag", "flipped ciphertext", "shorter than a tag", "empty"],
)
def test_a_file_key_that_does_not_authenticate_is_none_not_an_exception(change):
    wrap_key = bytes(range(32))
    body = seal_file_key(wrap_key, b"sixteen byte key")

    assert open_file_key(*change(wrap_key, body)) is None
