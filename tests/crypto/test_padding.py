"""Tests for dissent.crypto.padding: Padmé buckets, ISO 7816-4 padding, streaming unpad."""

from __future__ import annotations

import io
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissent.crypto import (
    MIN_PADDED_SIZE,
    DecryptionError,
    KeyKind,
    PaddingError,
    decrypt,
    encrypt,
    encrypt_stream,
    generate_identity,
    iter_decrypt,
    padded_size,
)
from dissent.crypto.padding import PaddedReader, pad, padme, unpad, unpad_chunks

ALICE = generate_identity(KeyKind.X25519)
BOB = generate_identity(KeyKind.X25519)

lengths = st.integers(min_value=0, max_value=2**40)
contents = st.binary(max_size=3000) | st.builds(
    lambda head, tail: head + tail,
    st.binary(max_size=50),
    st.sampled_from([b"\x80", b"\x80\x00", b"\x00", b"\x00\x00\x00", b"\x80\x80\x00\x00"]),
)


def paper_low_bits(length: int) -> int:
    """Return how many low bits Padmé clears for ``length`` (the PETS 2019 paper's z).

    E = floor(log2 L), S = floor(log2 E) + 1, z = E - S.
    """
    e = length.bit_length() - 1
    s = e.bit_length()
    return e - s


# --- buckets ----------------------------------------------------------------------------


@given(lengths)
def test_a_bucket_holds_the_length_it_was_chosen_for(length) -> None:
    assert padme(length) >= length


@given(lengths, lengths)
def test_buckets_grow_with_the_length(a, b) -> None:
    a, b = sorted((a, b))
    assert padme(a) <= padme(b)
    assert padded_size(a) <= padded_size(b)


@given(lengths)
def test_a_bucket_is_its_own_bucket(length) -> None:
    bucket = padme(length)
    assert padme(bucket) == bucket


@given(st.integers(min_value=2, max_value=2**40))
def test_buckets_follow_the_padme_formula(length) -> None:
    z = paper_low_bits(length)
    bucket = padme(length)
    assert bucket % (1 << z) == 0
    assert bucket - length < 1 << z


@given(st.integers(min_value=1, max_value=2**40))
def test_padme_overhead_is_at_most_12_percent(length) -> None:
    assert padme(length) - length <= 0.12 * length


@given(st.integers(min_value=MIN_PADDED_SIZE, max_value=2**40))
def test_padded_overhead_is_at_most_12_percent_above_the_minimum(length) -> None:
    assert padded_size(length) - length <= 0.12 * length


def test_lengths_leak_only_a_few_bits_per_power_of_two() -> None:
    # Within [2^E, 2^(E+1)) there are at most 2^S + 1 buckets, S = floor(log2 E) + 1.
    for e in range(12, 18):
        buckets = {padded_size(n) for n in range(1 << e, 1 << (e + 1))}
        assert len(buckets) <= (1 << e.bit_length()) + 1


@given(lengths)
def test_padded_size_leaves_room_for_the_marker_and_the_minimum(length) -> None:
    size = padded_size(length)
    assert size >= length + 1
    assert size >= MIN_PADDED_SIZE


def test_every_short_text_is_padded_to_the_same_size() -> None:
    assert {padded_size(n) for n in range(MIN_PADDED_SIZE)} == {MIN_PADDED_SIZE}
    assert padded_size(MIN_PADDED_SIZE) > MIN_PADDED_SIZE


def test_short_texts_give_ciphertexts_of_one_length() -> None:
    recipients = [ALICE.recipient, BOB.recipient]
    sizes = {
        len(encrypt(bytes(n), recipients=recipients, pad=True)) for n in range(MIN_PADDED_SIZE)
    }
    assert len(sizes) == 1
    # Unpadded, the same texts would each reveal their length.
    assert len(encrypt(b"yes", recipients=recipients)) != len(
        encrypt(b"a named incident", recipients=recipients)
    )


def test_a_ciphertext_reveals_only_the_bucket() -> None:
    recipients = [ALICE.recipient]
    first = encrypt(bytes(5000), recipients=recipients, pad=True)
    second = encrypt(bytes(padded_size(5000) - 1), recipients=recipients, pad=True)
    assert len(first) == len(second)


# --- pad / unpad ------------------------------------------------------------------------


@given(contents)
def test_pad_then_unpad_gives_the_content_back(data) -> None:
    padded = pad(data)
    assert len(padded) == padded_size(len(data))
    assert padded.startswith(data)
    assert unpad(padded) == data


@given(contents, st.data())
def test_unpad_is_independent_of_how_the_stream_is_chunked(data, draw) -> None:
    padded = pad(data)
    cuts = draw.draw(
        st.lists(st.integers(min_value=0, max_value=len(padded)), max_size=12), label="cuts"
    )
    bounds = [0, *sorted(cuts), len(padded)]
    chunks = [padded[a:b] for a, b in itertools.pairwise(bounds)]
    assert b"".join(unpad_chunks(chunks)) == data


def test_unpad_releases_content_before_the_stream_ends() -> None:
    # Streaming matters for large files: content must not wait for the end of input.
    released = []

    def chunks():
        yield b"first part"
        released.append(True)
        yield b"\x80" + bytes(100)

    stream = unpad_chunks(chunks())
    assert next(stream) == b"first part"
    assert released == []
    assert b"".join(stream) == b""


@pytest.mark.parametrize(
    "malformed",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"content without padding", id="no marker"),
        pytest.param(bytes(4096), id="all zeros"),
        pytest.param(b"content\x80\x00\x00x", id="data after the padding"),
        pytest.param(b"content\x81\x00\x00", id="wrong marker"),
    ],
)
def test_malformed_padding_is_a_decryption_error(malformed) -> None:
    with pytest.raises(PaddingError) as caught:
        unpad(malformed)
    assert isinstance(caught.value, DecryptionError)


@pytest.mark.parametrize("split", [1, 100, 4095])
def test_malformed_padding_is_detected_across_chunks(split) -> None:
    zeros = bytes(4096)
    with pytest.raises(PaddingError):
        b"".join(unpad_chunks([zeros[:split], zeros[split:]]))


# --- PaddedReader -----------------------------------------------------------------------


def drain(reader: PaddedReader, sizes: list[int]) -> bytes:
    out = bytearray()
    i = 0
    while True:
        chunk = reader.read(sizes[i % len(sizes)])
        i += 1
        if not chunk:
            return bytes(out)
        out += chunk


@settings(max_examples=50)
@given(contents, st.lists(st.integers(min_value=1, max_value=70_000), min_size=1, max_size=5))
def test_padded_reader_gives_exactly_the_padded_data(data, sizes) -> None:
    assert drain(PaddedReader(io.BytesIO(data)), sizes) == pad(data)


@pytest.mark.parametrize("length", [0, 1, MIN_PADDED_SIZE - 1, MIN_PADDED_SIZE, 70_000])
def test_padded_reader_read_all_gives_the_padded_data(length) -> None:
    data = random.Random(length).randbytes(length)
    reader = PaddedReader(io.BytesIO(data))
    out = b""
    while chunk := reader.read():
        out += chunk
    assert out == pad(data)


def test_padded_reader_survives_a_zero_length_read() -> None:
    # read(0) is an ordinary request for nothing; it must not end the content early.
    reader = PaddedReader(io.BytesIO(b"hello world"))
    out = reader.read(3) + reader.read(0)
    out += drain(reader, [100])
    assert out == pad(b"hello world")


# --- padded files -----------------------------------------------------------------------


@settings(deadline=None, max_examples=25)
@given(
    st.integers(min_value=0, max_value=200_000) | st.sampled_from([65535, 65536, 65537]),
    st.booleans(),
)
def test_padded_encrypt_and_decrypt_round_trip(length, armor) -> None:
    data = random.Random(length).randbytes(length)
    blob = encrypt(data, recipients=[ALICE.recipient], pad=True, armor=armor)
    assert decrypt(blob, identities=[ALICE], padded=True) == data
    # Opened without padded=True, the padding shows: the stored size is the bucket.
    assert decrypt(blob, identities=[ALICE]) == pad(data)


def test_padded_stream_encryption_matches_padded_bytes() -> None:
    data = b"x" * 70_000
    sink = io.BytesIO()
    encrypt_stream(io.BytesIO(data), sink, recipients=[ALICE.recipient], pad=True)
    assert len(sink.getvalue()) == len(encrypt(data, recipients=[ALICE.recipient], pad=True))
    assert b"".join(iter_decrypt(io.BytesIO(sink.getvalue()), identities=[ALICE], padded=True)) == (
        data
    )


def test_an_unpadded_file_opened_as_padded_is_rejected() -> None:
    blob = encrypt(b"no padding here", recipients=[ALICE.recipient])
    with pytest.raises(PaddingError):
        decrypt(blob, identities=[ALICE], padded=True)


def test_content_ending_like_padding_survives_a_padded_file() -> None:
    data = b"ends in a marker\x80\x00\x00"
    blob = encrypt(data, recipients=[ALICE.recipient], pad=True)
    assert decrypt(blob, identities=[ALICE], padded=True) == data
