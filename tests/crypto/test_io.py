"""BufferedSource: lines, peeks and exact reads over streams that hand out data unevenly."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissent.crypto._io import BufferedSource

BIG = 64 * 1024  # reads at least this large bypass the buffer


class Trickle:
    """A readable that returns 1 to 7 bytes per call, like a slow socket."""

    def __init__(self, data: bytes, seed: int = 0) -> None:
        self._data = data
        self._pos = 0
        self._rng = random.Random(seed)
        self.calls_after_end = 0

    def read(self, size: int = -1, /) -> bytes:
        if self._pos >= len(self._data):
            self.calls_after_end += 1
        n = self._rng.randint(1, 7) if size < 0 else min(self._rng.randint(1, 7), size)
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out


class Flood:
    """A readable that ignores ``size`` and hands over everything it has at once."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1, /) -> bytes:
        out, self._data = self._data, b""
        return out


def data_of(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def test_readline_returns_each_line_with_its_line_feed_then_the_rest_then_nothing():
    source = BufferedSource(Trickle(b"age-encryption.org/v1\n-> X25519 abc\n\x00\x01tail"))

    assert source.readline(100) == b"age-encryption.org/v1\n"
    assert source.readline(100) == b"-> X25519 abc\n"
    assert source.readline(100) == b"\x00\x01tail"
    assert source.readline(100) == b""


@pytest.mark.parametrize(
    ("limit", "first", "rest"),
    [(6, b"abcde\n", b"xyz"), (5, b"abcde", b"\nxyz"), (3, b"abc", b"de\nxyz")],
    ids=["line fits exactly", "line feed just past the limit", "long line"],
)
def test_readline_never_returns_more_than_its_limit(limit, first, rest):
    source = BufferedSource(Trickle(b"abcde\nxyz"))

    assert source.readline(limit) == first
    assert source.read() == rest


def test_peek_does_not_consume():
    source = BufferedSource(Trickle(b"-----BEGIN AGE ENCRYPTED FILE-----\n"))

    assert source.peek(5) == b"-----"
    assert source.peek(200) == b"-----BEGIN AGE ENCRYPTED FILE-----\n"
    assert source.readline(100) == b"-----BEGIN AGE ENCRYPTED FILE-----\n"
    assert source.peek(5) == b""


@pytest.mark.parametrize("size", [1, 16, BIG - 1, BIG, BIG + 16, 3 * BIG + 5])
def test_a_read_returns_exactly_the_size_asked_even_from_a_trickling_stream(size):
    data = data_of(4 * BIG)
    source = BufferedSource(Trickle(data, seed=size))

    assert source.read(size) == data[:size]
    assert source.read(size) == data[size : 2 * size]


def test_a_read_past_the_end_returns_what_is_left_and_then_nothing():
    source = BufferedSource(io.BytesIO(b"0123456789"))
    source.read(4)

    assert source.read(BIG) == b"456789"
    assert source.read(16) == b""
    assert source.read() == b""


def test_a_large_read_after_a_peek_keeps_the_peeked_bytes_first():
    # The header parser peeks and reads lines; the payload is then read in large
    # chunks that bypass the buffer: no byte may be lost or repeated at the seam.
    data = b"header line\n" + data_of(3 * BIG)
    source = BufferedSource(Trickle(data))
    source.peek(40)
    assert source.readline(100) == b"header line\n"

    assert source.read(BIG + 16) + source.read(BIG + 16) + source.read() == data[12:]


def test_a_stream_that_hands_over_more_than_asked_loses_nothing():
    data = data_of(3 * BIG + 7)
    source = BufferedSource(Flood(data))

    parts = [source.read(BIG), source.read(BIG + 1), source.read(10), source.read()]
    assert b"".join(parts) == data
    assert [len(p) for p in parts] == [BIG, BIG + 1, 10, BIG - 4]


def test_read_all_returns_everything_left():
    data = data_of(2 * BIG + 3)
    source = BufferedSource(Trickle(data))
    source.read(10)

    assert source.read() == data[10:]
    assert source.read() == b""


def test_the_underlying_stream_is_not_read_again_once_it_has_ended():
    raw = Trickle(b"short")
    source = BufferedSource(raw)
    assert source.read(100) == b"short"

    source.read(100)
    source.readline(100)
    source.peek(100)
    source.read()

    assert raw.calls_after_end == 1


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=2 * BIG + 50),
    ops=st.lists(
        st.tuples(st.sampled_from(["read", "readline", "peek"]), st.integers(1, BIG + 20)),
        min_size=1,
        max_size=12,
    ),
    seed=st.integers(0, 1000),
)
def test_any_mix_of_calls_reads_the_stream_in_order(size, ops, seed):
    data = data_of(size, seed).replace(b"\xff", b"\n")
    source = BufferedSource(Trickle(data, seed=seed))
    got = bytearray()

    for op, n in ops:
        if op == "peek":
            assert source.peek(n) == data[len(got) : len(got) + n]
        else:
            out = source.read(n) if op == "read" else source.readline(n)
            assert len(out) <= n
            got += out
    got += source.read()

    assert bytes(got) == data
