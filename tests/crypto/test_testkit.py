"""Every official C2SP age test vector gives its expected result and payload hash."""

from __future__ import annotations

import hashlib
import io

import pytest

from dissent.crypto import errors
from dissent.crypto.age import iter_decrypt
from dissent.crypto.keys import Identity, ScryptIdentity, parse_identity
from tests.helpers.testkit import load_vectors

VECTORS = load_vectors()

EXPECTED_ERROR: dict[str, type[errors.DecryptionError]] = {
    "header failure": errors.HeaderError,
    "HMAC failure": errors.HeaderMACError,
    "no match": errors.NoIdentityMatchError,
    "payload failure": errors.PayloadError,
    "armor failure": errors.ArmorError,
}


def identities_for(vector) -> list[Identity]:
    ids: list[Identity] = [parse_identity(text) for text in vector.identities]
    ids += [ScryptIdentity(p) for p in vector.passphrases]
    return ids


def test_all_vectors_are_present():
    assert len(VECTORS) == 143


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_vector(vector):
    released = hashlib.sha256()
    error: Exception | None = None
    try:
        for chunk in iter_decrypt(io.BytesIO(vector.body), identities=identities_for(vector)):
            released.update(chunk)
    except errors.DecryptionError as exc:
        error = exc
    if vector.expect == "success":
        assert error is None, f"unexpected {error!r}"
    else:
        assert isinstance(error, EXPECTED_ERROR[vector.expect]), f"got {error!r}"
    if vector.payload_sha256 is not None:
        assert released.hexdigest() == vector.payload_sha256
