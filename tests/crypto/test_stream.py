"""The STREAM payload: chunk layout and nonces per the spec, official vectors, and refusals."""

from __future__ import annotations

import hashlib
import io
import random

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from dissent.crypto._header import read_header
from dissent.crypto._io import BufferedSource
from dissent.crypto._stream import (
    CHUNK_SIZE,
    TAG_SIZE,
    ChunkSealer,
    decrypt_chunks,
    encrypt_chunks,
    payload_key,
)
from dissent.crypto.errors import PayloadError
from tests.helpers.vectors import file_key, vector_id, vectors

KEY = bytes(range(32))
SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 5]

# stream_no_nonce and stream_short_nonce break before the payload key exists: reading
# the nonce is the caller's job (dissent.crypto.age), so they are not payload cases here.
STREAM_VECTORS = [v for v in vectors("stream_") if "nonce" not in v.name]


class Trickle:
    """A readable that hands out 1 to 4000 bytes per call."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._rng = random.Random(len(data))

    def read(self, size: int = -1, /) -> bytes:
        n = min(self._rng.randint(1, 4000), size if size >= 0 else len(self._data))
        out, self._data = self._data[:n], self._data[n:]
        return out


def data_of(size: int) -> bytes:
    return random.Random(size).randbytes(size)


def spec_nonce(counter: int, *, last: bool) -> bytes:
    """The 12-byte chunk nonce as the age spec words it, built independently."""
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def open_all(key: bytes, payload: bytes) -> tuple[bytes, PayloadError | None]:
    """Return what decrypt_chunks released and the error it ended with, if any."""
    released = bytearray()
    try:
        for chunk in decrypt_chunks(key, io.BytesIO(payload)):
            released += chunk
    except PayloadError as exc:
        return bytes(released), exc
    return bytes(released), None


# --- official vectors -------------------------------------------------------------------


def test_the_vectors_include_the_stream_cases():
    assert len(STREAM_VECTORS) >= 25


@pytest.mark.parametrize("vector", STREAM_VECTORS, ids=vector_id)
def test_every_official_payload_opens_or_fails_as_expected_releasing_the_recorded_bytes(vector):
    source = BufferedSource(io.BytesIO(vector.body))
    read_header(source)
    key = payload_key(file_key(vector), source.read(16))

    released = hashlib.sha256()
    error = None
    try:
        for chunk in decrypt_chunks(key, source):
            released.update(chunk)
    except PayloadError as exc:
        error = exc

    assert (error is None) is (vector.expect == "success"), repr(error)
    assert released.hexdigest() == vector.payload_sha256


# --- the format -------------------------------------------------------------------------


def test_the_payload_key_is_hkdf_of_the_file_key_salted_with_the_nonce():
    one = payload_key(b"file key 16 byte", b"n" * 16)

    assert len(one) == 32
    assert payload_key(b"file key 16 byte", b"m" * 16) != one
    assert payload_key(b"other key 16 byt", b"n" * 16) != one


@pytest.mark.parametrize("size", SIZES)
def test_chunks_are_64_kib_and_sealed_with_the_counter_and_final_flag_nonces(size):
    data = data_of(size)

    chunks = list(encrypt_chunks(KEY, io.BytesIO(data)))

    aead = ChaCha20Poly1305(KEY)
    expected_count = max(1, -(-size // CHUNK_SIZE))
    assert len(chunks) == expected_count
    opened = [
        aead.decrypt(spec_nonce(i, last=i == len(chunks) - 1), chunk, None)
        for i, chunk in enumerate(chunks)
    ]
    assert b"".join(opened) == data
    assert all(len(p) == CHUNK_SIZE for p in opened[:-1])
    # The final chunk is empty only when the whole payload is.
    assert (len(opened[-1]) == 0) is (size == 0)


def test_a_trickling_source_gives_the_same_chunks_as_a_file():
    data = data_of(2 * CHUNK_SIZE + 100)

    assert list(encrypt_chunks(KEY, Trickle(data))) == list(encrypt_chunks(KEY, io.BytesIO(data)))


@pytest.mark.parametrize("size", SIZES)
def test_the_push_sealer_gives_the_same_chunks_as_encrypt_chunks(size):
    data = data_of(size)
    pieces = [data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)] or [b""]
    sealer = ChunkSealer(KEY)

    pushed = [sealer.seal(p, last=i == len(pieces) - 1) for i, p in enumerate(pieces)]

    assert pushed == list(encrypt_chunks(KEY, io.BytesIO(data)))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("source", [io.BytesIO, Trickle], ids=["file", "trickle"])
def test_decrypting_gives_back_the_data(size, source):
    data = data_of(size)
    payload = b"".join(encrypt_chunks(KEY, io.BytesIO(data)))

    assert b"".join(decrypt_chunks(KEY, source(payload))) == data


# --- the push sealer's rules -------------------------------------------------------------


def test_nothing_is_sealed_after_the_final_chunk():
    sealer = ChunkSealer(KEY)
    sealer.seal(b"end", last=True)

    with pytest.raises(ValueError, match="already sealed"):
        sealer.seal(b"more", last=True)


@pytest.mark.parametrize(
    ("size", "last"),
    [(CHUNK_SIZE - 1, False), (0, False), (CHUNK_SIZE + 1, False), (CHUNK_SIZE + 1, True)],
    ids=["short non-final", "empty non-final", "oversize", "oversize final"],
)
def test_only_the_final_chunk_may_be_short_and_none_may_exceed_64_kib(size, last):
    sealer = ChunkSealer(KEY)

    with pytest.raises(ValueError, match="shorter than 64 KiB"):
        sealer.seal(bytes(size), last=last)
    # A refused chunk does not use up a counter value.
    assert sealer.seal(b"ok", last=True) == next(encrypt_chunks(KEY, io.BytesIO(b"ok")))


# --- refusals ---------------------------------------------------------------------------


def sealed(*chunks: tuple[bytes, bool]) -> bytes:
    """Seal chunks with ChunkSealer-independent nonces, so invalid layouts can be built."""
    aead = ChaCha20Poly1305(KEY)
    return b"".join(
        aead.encrypt(spec_nonce(i, last=last), data, None) for i, (data, last) in enumerate(chunks)
    )


FULL = bytes(CHUNK_SIZE)


@pytest.mark.parametrize(
    ("payload", "released", "message"),
    [
        (b"", b"", "ends without a final chunk"),
        (sealed((FULL, False)), FULL, "ends without a final chunk"),
        (sealed((b"abc", False)), b"", "chunk 0 failed authentication"),
        (sealed((FULL, False), (b"", True)), FULL, "final chunk is empty"),
        (sealed((b"abc", True)) + b"x", b"", "chunk 0 failed authentication"),
        (sealed((FULL, True)) + b"x", FULL, "trailing data"),
        (sealed((FULL, True)) + sealed((b"abc", True))[:20], FULL, "trailing data"),
        (sealed((FULL, False), (b"abc", True))[: CHUNK_SIZE + TAG_SIZE + 10], FULL, "shorter"),
        (sealed((b"abc", True), (b"abc", True)), b"", "chunk 0 failed"),
    ],
    ids=[
        "empty",
        "no final chunk",
        "short chunk not marked final",
        "empty final chunk after a full one",
        "a byte glued to a short final chunk",
        "a byte after a full final chunk",
        "a chunk after a full final chunk",
        "second chunk shorter than a tag",
        "two final chunks",
    ],
)
def test_a_payload_outside_the_format_is_refused_after_releasing_only_authentic_chunks(
    payload, released, message
):
    got, error = open_all(KEY, payload)

    assert error is not None
    assert message in str(error)
    assert got == released


def test_the_empty_payload_is_one_empty_final_chunk():
    assert open_all(KEY, sealed((b"", True))) == (b"", None)


def test_a_full_final_chunk_is_accepted():
    assert open_all(KEY, sealed((FULL, False), (FULL, True))) == (FULL + FULL, None)


def test_reordered_chunks_and_a_wrong_key_are_refused():
    first, second = FULL, b"\x01" * CHUNK_SIZE
    payload = sealed((first, False), (second, False), (b"end", True))
    size = CHUNK_SIZE + TAG_SIZE
    swapped = payload[size : 2 * size] + payload[:size] + payload[2 * size :]

    for key, blob in [(KEY, swapped), (bytes(32), payload)]:
        released, error = open_all(key, blob)
        assert released == b""
        assert "chunk 0 failed authentication" in str(error)
