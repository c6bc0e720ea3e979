"""Tests for dissent.crypto.Encryptor: push-style encryption equal to encrypt_stream."""

from __future__ import annotations

import io
import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissent.crypto import (
    Encryptor,
    KeyKind,
    PayloadError,
    decrypt,
    encrypt_stream,
    generate_identity,
    iter_decrypt,
    padded_size,
    split_header,
)
from dissent.crypto import age as age_module

CHUNK = 64 * 1024
SEALED_CHUNK = CHUNK + 16
PAYLOAD_NONCE = 16
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1, 3 * CHUNK, 200_001]

ALICE = generate_identity(KeyKind.X25519)
BOB = generate_identity(KeyKind.HYBRID)


def plaintext(size: int, seed: int = 0) -> bytes:
    """Return reproducible pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


def pieces(data: bytes, sizes: list[int]) -> list[bytes]:
    """Cut ``data`` into pieces of the given sizes (cycled), keeping zero-length ones."""
    out, start = [], 0
    for size in itertools.cycle(sizes):
        if start >= len(data) and size:
            break
        out.append(data[start : start + size])
        start += size
        if len(out) > 2 * len(data) + 100:
            raise AssertionError("piece sizes make no progress")
    return out


def encrypt_pushed(data_pieces, *, pad: bool = False, recipients=(ALICE.recipient,)) -> bytes:
    """Return the Encryptor's output for ``data_pieces`` written one by one."""
    sink = io.BytesIO()
    encryptor = Encryptor(sink, recipients=list(recipients), pad=pad)
    for piece in data_pieces:
        assert encryptor.write(piece) == len(piece)
    encryptor.close()
    return sink.getvalue()


@pytest.fixture
def fixed_randomness(monkeypatch):
    """Make the file key and payload nonce repeat, so two encryptions can be compared."""
    draws = {16: b"\x01" * 16}

    def fake_random(size: int) -> bytes:
        return draws.get(size, bytes(range(size)))

    monkeypatch.setattr(age_module, "_random", fake_random)


WRITE_PATTERNS = {
    "one write": [10**9],
    "bytes": [1],
    "odd": [7, 1000, 3],
    "chunk": [CHUNK],
    "chunk+1": [CHUNK + 1],
    "chunk-1": [CHUNK - 1],
    "two chunks": [2 * CHUNK],
    "zero-length writes between": [0, 5000, 0, 0, CHUNK, 0],
    "werkzeug-like": [65_536 - 120, 65_536],
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("pattern", sorted(WRITE_PATTERNS))
@pytest.mark.parametrize("pad", [False, True])
def test_output_is_what_encrypt_stream_writes(fixed_randomness, size, pattern, pad):
    data = plaintext(size, seed=size)

    pushed = encrypt_pushed(pieces(data, WRITE_PATTERNS[pattern]), pad=pad)
    pulled = io.BytesIO()
    encrypt_stream(io.BytesIO(data), pulled, recipients=[ALICE.recipient], pad=pad)

    # Same file key and nonce: the payloads must be identical byte for byte. (The
    # headers differ only in the recipients' fresh ephemeral shares.)
    assert split_header(pushed)[1] == split_header(pulled.getvalue())[1]
    assert len(pushed) == len(pulled.getvalue())
    assert decrypt(pushed, identities=[ALICE], padded=pad) == data


@pytest.mark.parametrize("size", SIZES)
def test_payload_has_the_chunk_layout_of_the_format(size):
    data = plaintext(size)

    payload = split_header(encrypt_pushed([data]))[1][PAYLOAD_NONCE:]

    # Full chunks, then one final chunk: empty only when the whole plaintext is empty,
    # never empty after a full chunk (a multiple of 64 KiB ends in a full final chunk).
    chunks = max(1, -(-size // CHUNK))
    assert len(payload) == size + 16 * chunks


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(min_value=0, max_value=3 * CHUNK + 10),
    cuts=st.lists(st.integers(min_value=0, max_value=CHUNK + 2), min_size=1, max_size=6),
    pad=st.booleans(),
)
def test_any_write_pattern_round_trips(size, cuts, pad):
    if not any(cuts):
        cuts = [*cuts, 1]
    data = plaintext(size, seed=len(cuts))

    blob = encrypt_pushed(pieces(data, cuts), pad=pad)

    assert b"".join(iter_decrypt(io.BytesIO(blob), identities=[ALICE], padded=pad)) == data


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 100_000, 3 * CHUNK])
def test_padded_ciphertext_size_depends_only_on_the_bucket(size):
    blob = encrypt_pushed([plaintext(size)], pad=True)
    payload = split_header(blob)[1]

    padded = padded_size(size)
    chunks = -(-padded // CHUNK)
    assert len(payload) == PAYLOAD_NONCE + padded + 16 * chunks
    assert decrypt(blob, identities=[ALICE], padded=True) == plaintext(size)


def test_memoryview_and_bytearray_are_accepted():
    data = plaintext(CHUNK * 2 + 17)

    blob = encrypt_pushed([bytearray(data[:100]), memoryview(data)[100:]])

    assert decrypt(blob, identities=[ALICE]) == data


def test_several_recipients_each_decrypt():
    data = plaintext(CHUNK + 5)
    carol = generate_identity(KeyKind.HYBRID)

    blob = encrypt_pushed([data], recipients=(BOB.recipient, carol.recipient), pad=True)

    for identity in (BOB, carol):
        assert decrypt(blob, identities=[identity], padded=True) == data


def test_header_is_written_at_once_and_a_full_chunk_is_held_back():
    sink = io.BytesIO()
    encryptor = Encryptor(sink, recipients=[ALICE.recipient])
    header_and_nonce = len(sink.getvalue())
    assert header_and_nonce > PAYLOAD_NONCE

    encryptor.write(plaintext(CHUNK))
    assert len(sink.getvalue()) == header_and_nonce  # might be the last chunk
    encryptor.write(b"x")
    assert len(sink.getvalue()) == header_and_nonce + SEALED_CHUNK  # now it is not
    encryptor.close()
    assert len(sink.getvalue()) == header_and_nonce + SEALED_CHUNK + 1 + 16


def test_memory_held_is_at_most_one_chunk():
    encryptor = Encryptor(io.BytesIO(), recipients=[ALICE.recipient])

    encryptor.write(plaintext(5 * CHUNK + 3))

    assert len(encryptor._buffer) <= CHUNK
    assert encryptor.written == 5 * CHUNK + 3


def test_close_is_idempotent_and_write_after_close_fails():
    sink = io.BytesIO()
    encryptor = Encryptor(sink, recipients=[ALICE.recipient])
    encryptor.write(b"data")
    encryptor.close()
    size = len(sink.getvalue())

    encryptor.close()

    assert len(sink.getvalue()) == size
    assert encryptor.closed
    with pytest.raises(ValueError):
        encryptor.write(b"more")


def test_an_exception_in_the_block_leaves_a_truncated_file():
    sink = io.BytesIO()
    with pytest.raises(RuntimeError), Encryptor(sink, recipients=[ALICE.recipient]) as enc:
        enc.write(plaintext(3 * CHUNK + 10))
        raise RuntimeError("upload interrupted")

    assert not enc.closed
    with pytest.raises(PayloadError):
        decrypt(sink.getvalue(), identities=[ALICE])


def test_context_manager_closes_on_success():
    sink = io.BytesIO()
    with Encryptor(sink, recipients=[ALICE.recipient], pad=True) as encryptor:
        encryptor.write(b"attachment")

    assert decrypt(sink.getvalue(), identities=[ALICE], padded=True) == b"attachment"


def test_recipient_rules_are_the_same_as_encrypt():
    with pytest.raises(ValueError):
        Encryptor(io.BytesIO(), recipients=[])
    with pytest.raises(ValueError):
        Encryptor(io.BytesIO(), recipients=[ALICE.recipient, BOB.recipient])
