"""Encrypted JSON documents: who can open them, what their size gives away, what is refused."""

from __future__ import annotations

import json

import pytest

from dissent.crypto import DecryptionError, KeyKind, encrypt, generate_identity
from dissent.services.content import FORMAT_VERSION, open_document, seal_document


@pytest.fixture(scope="module")
def reader():
    return generate_identity(KeyKind.X25519)


@pytest.fixture(scope="module")
def other_reader():
    return generate_identity(KeyKind.X25519)


def test_every_recipient_opens_the_same_document(reader, other_reader):
    document = {"what": "Zoë saw the ledger — twice", "where": "", "n": 3, "tags": ["a"]}

    blob = seal_document(document, recipients=[reader.recipient, other_reader.recipient])

    for identity in (reader, other_reader):
        assert open_document(blob, identities=[identity]) == {"v": FORMAT_VERSION, **document}


def test_someone_not_among_the_recipients_cannot_open_it(reader, other_reader):
    blob = seal_document({"what": "private"}, recipients=[reader.recipient])

    with pytest.raises(DecryptionError):
        open_document(blob, identities=[other_reader])


def test_the_text_is_not_in_the_stored_bytes(reader):
    blob = seal_document({"what": "canary-4417 rounded up"}, recipients=[reader.recipient])

    assert b"canary-4417" not in blob
    assert "canary-4417".encode("utf-16-le") not in blob


def test_short_texts_of_different_lengths_are_stored_at_the_same_size(reader):
    sizes = {
        len(seal_document({"what": "x" * length}, recipients=[reader.recipient]))
        for length in (1, 100, 1000)
    }

    assert len(sizes) == 1


def test_an_altered_document_is_refused(reader):
    blob = bytearray(seal_document({"what": "text"}, recipients=[reader.recipient]))
    blob[-20] ^= 0x01

    with pytest.raises(DecryptionError):
        open_document(bytes(blob), identities=[reader])


@pytest.mark.parametrize(
    "plaintext",
    [
        b"not json at all",
        json.dumps(["v", FORMAT_VERSION]).encode(),  # JSON, but not an object
        json.dumps({"what": "no version"}).encode(),
        json.dumps({"v": FORMAT_VERSION + 1, "what": "from a later format"}).encode(),
    ],
    ids=["not-json", "not-an-object", "no-version", "unknown-version"],
)
def test_a_decryptable_blob_that_is_not_a_document_is_a_decryption_error(reader, plaintext):
    blob = encrypt(plaintext, recipients=[reader.recipient], pad=True)

    with pytest.raises(DecryptionError):
        open_document(blob, identities=[reader])
