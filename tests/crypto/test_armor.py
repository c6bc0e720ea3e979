"""Strict ASCII armor: 64-column base64 lines, the official armor vectors, and every refusal."""

from __future__ import annotations

import base64
import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissent.crypto._armor import BEGIN_LINE, END_LINE, ArmorReader, ArmorWriter, looks_armored
from dissent.crypto._io import BufferedSource
from dissent.crypto.errors import ArmorError, DecryptionError
from tests.helpers.vectors import VECTORS, vector_id, vectors

BEGIN = BEGIN_LINE + b"\n"
END = END_LINE + b"\n"
LINE_BYTES = 48  # 64 base64 columns


def armor(data: bytes, pieces: list[int] | None = None) -> bytes:
    """Return ``data`` armored by ArmorWriter, written in pieces of the given sizes."""
    sink = io.BytesIO()
    writer = ArmorWriter(sink)
    start = 0
    for size in pieces or [len(data)]:
        assert writer.write(data[start : start + size]) == len(data[start : start + size])
        start += size
    writer.write(data[start:])
    writer.close()
    return sink.getvalue()


def dearmor(blob: bytes, read_size: int = -1) -> bytes:
    """Decode ``blob`` with ArmorReader, ``read_size`` bytes at a time."""
    reader = ArmorReader(BufferedSource(io.BytesIO(blob)))
    if read_size < 0:
        return reader.read()
    out = bytearray()
    while chunk := reader.read(read_size):
        out += chunk
    return bytes(out)


def body_lines(data: bytes) -> list[bytes]:
    encoded = base64.b64encode(data)
    return [encoded[i : i + 64] for i in range(0, len(encoded), 64)]


def data_of(size: int) -> bytes:
    return random.Random(size).randbytes(size)


# --- writing --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 47, 48, 49, 96, 1000])
def test_armor_is_padded_base64_in_64_column_lines_between_the_pem_lines(size):
    data = data_of(size)

    blob = armor(data)

    assert blob == BEGIN + b"\n".join(body_lines(data)) + b"\n" + END
    lines = blob.splitlines()[1:-1]
    assert all(len(line) == 64 for line in lines[:-1])
    assert 0 < len(lines[-1]) <= 64


def test_empty_data_is_armored_as_the_two_pem_lines_only():
    assert armor(b"") == BEGIN + END


@settings(max_examples=50, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=600),
    pieces=st.lists(st.integers(min_value=0, max_value=130), max_size=8),
)
def test_the_armor_does_not_depend_on_how_the_data_was_written(size, pieces):
    data = data_of(size)

    assert armor(data, pieces) == armor(data)


def test_the_writer_emits_a_line_as_soon_as_48_bytes_are_in():
    sink = io.BytesIO()
    writer = ArmorWriter(sink)
    assert sink.getvalue() == BEGIN

    writer.write(b"a" * 47)
    assert sink.getvalue() == BEGIN
    writer.write(b"a")
    assert sink.getvalue() == BEGIN + base64.b64encode(b"a" * 48) + b"\n"


# --- reading --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 47, 48, 49, 96, 97, 1000])
@pytest.mark.parametrize("read_size", [-1, 1, 5, 48, 100])
def test_armor_reads_back_whatever_the_read_size(size, read_size):
    data = data_of(size)

    assert dearmor(armor(data), read_size) == data


@pytest.mark.parametrize(
    "change",
    [
        lambda blob: blob.replace(b"\n", b"\r\n"),
        lambda blob: blob[:-1],
        lambda blob: b" \t\r\n" + blob + b"\n\n  \n",
        lambda blob: b" " * 1024 + blob + b"\n" * 1023,
    ],
    ids=["crlf", "no final line feed", "blank space around", "the most blank space around"],
)
def test_accepted_variants_of_the_armor(change):
    data = data_of(100)

    assert dearmor(change(armor(data))) == data


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"-----BEGIN PGP MESSAGE-----\nYWJj\n-----END PGP MESSAGE-----\n", "does not begin"),
        (b"garbage\n" + BEGIN + b"YWJj\n" + END, "does not begin"),
        (b" " * 1025 + BEGIN + b"YWJj\n" + END, "too much blank space"),
        (BEGIN + b"YWJj\n" + END + b"\n" * 1025, "data after"),
        (BEGIN + b"YWJj\n" + END + b"x", "data after"),
        (BEGIN + b"YWJj\r\n" + END, "mixes line endings"),
        (BEGIN + b"\n" + b"YWJj\n" + END, "empty line"),
        (BEGIN + b"YWJj\n", "not followed by the end line"),
        (BEGIN + b"YWJj\nYWJj\n" + END, "not followed by the end line"),
        (BEGIN + b"A" * 64 + b"\n", "ends early"),
        (BEGIN + b"A" * 65 + b"\n" + END, "longer than 64 columns"),
        (BEGIN + b"A" * 70 + b"\n" + END, "too long"),
        (BEGIN + b"YWI\n" + END, "not padded"),
        (BEGIN + b"YWI*\n" + END, "not valid base64"),
        (BEGIN + b"YR==\n" + END, "not canonical"),
        (BEGIN + b"YWJj\n" + b"-----END AGE ENCRYPTED FILE----- \n", "not followed"),
    ],
    ids=[
        "wrong label",
        "text before",
        "too much space before",
        "too much space after",
        "text after",
        "mixed line endings",
        "empty line",
        "no end line",
        "short line in the middle",
        "full line then end of stream",
        "65 columns",
        "overlong line",
        "unpadded",
        "invalid character",
        "non-canonical padding bits",
        "space after the end line",
    ],
)
def test_every_deviation_from_strict_armor_is_refused(blob, message):
    with pytest.raises(ArmorError, match=message):
        dearmor(blob)


def test_armor_errors_are_decryption_errors():
    # Callers catch DecryptionError for any unreadable ciphertext, armor included.
    with pytest.raises(DecryptionError):
        dearmor(b"not armor")


@pytest.mark.parametrize("vector", vectors("armor_", expect="armor failure"), ids=vector_id)
def test_every_official_armor_failure_is_an_armor_error(vector):
    with pytest.raises(ArmorError):
        dearmor(vector.body)


@pytest.mark.parametrize(
    "vector",
    [v for v in vectors(armored=True) if v.expect != "armor failure"],
    ids=vector_id,
)
def test_every_official_well_formed_armor_decodes_to_what_it_encodes(vector):
    # Such vectors fail (if at all) in the header or payload, after the armor is removed.
    lines = vector.body.strip().splitlines()
    assert lines[0] == BEGIN_LINE
    assert lines[-1] == END_LINE
    encoded = b"".join(line.rstrip(b"\r") for line in lines[1:-1])

    assert dearmor(vector.body) == base64.b64decode(encoded)


# --- detection ------------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=vector_id)
def test_official_vectors_are_recognised_as_armored_or_binary(vector):
    assert looks_armored(BufferedSource(io.BytesIO(vector.body))) is vector.armored


@pytest.mark.parametrize(
    ("head", "armored"),
    [
        (b"\n\n  -----BEGIN AGE ENCRYPTED FILE-----\n", True),
        (b"-----BEGIN SOMETHING ELSE-----\n", True),
        (b"junk line\n-----BEGIN AGE ENCRYPTED FILE-----\n", True),
        (b"age-encryption.org/v1\n-> -----BEGIN AGE ENCRYPTED FILE-----\n", False),
        (b"age-encryption.org/v1\n-> X25519 abc\n", False),
        (b"\x00\x01 binary junk", False),
        (b"", False),
    ],
    ids=[
        "armor after blank lines",
        "other pem label",
        "armor after junk",
        "begin line inside a binary header",
        "binary header",
        "binary junk",
        "empty",
    ],
)
def test_looks_armored_decides_which_error_a_bad_file_gets(head, armored):
    assert looks_armored(BufferedSource(io.BytesIO(head))) is armored


def test_looks_armored_leaves_the_stream_where_it_was():
    blob = armor(b"report")
    source = BufferedSource(io.BytesIO(blob))

    assert looks_armored(source)

    assert source.read() == blob
