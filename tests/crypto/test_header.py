"""The age header: grammar refusals, exact serialisation and the MAC, on the official vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dissent.crypto._header import (
    MAX_HEADER_SIZE,
    VERSION_LINE,
    Stanza,
    encode_header,
    header_mac,
    read_header,
)
from dissent.crypto._io import BufferedSource
from dissent.crypto.errors import HeaderError, HeaderMACError
from tests.helpers.vectors import file_key, vector_id, vectors

FILE_KEY = bytes(range(16))
PAYLOAD = b"\x00payload starts here"

# Vectors whose header breaks the grammar itself (the others fail, if at all, in a
# recipient type, the MAC or the payload, after the header was parsed).
GRAMMAR_FAILURES = [
    v
    for v in vectors(armored=False, expect="header failure")
    if v.name.startswith(("stanza_", "hmac_", "header_", "version_", "empty"))
    or v.name.endswith("_not_canonical_body")
]
GRAMMAR_FAILURE_NAMES = {v.name for v in GRAMMAR_FAILURES}
PARSEABLE = [v for v in vectors(armored=False) if v.name not in GRAMMAR_FAILURE_NAMES]


def parse(blob: bytes):
    """Return the header, its raw bytes and what is left in the stream after it."""
    source = BufferedSource(io.BytesIO(blob))
    header, raw = read_header(source)
    return header, raw, source.read()


def header_with(*lines: bytes) -> bytes:
    """Return a header made of ``lines`` and a well-formed MAC line, then a payload."""
    mac_input = VERSION_LINE + b"".join(lines) + b"---"
    mac = header_mac(FILE_KEY, mac_input)
    return mac_input + b" " + base64.b64encode(mac).rstrip(b"=") + b"\n" + PAYLOAD


# --- the official vectors -------------------------------------------------------------


def test_the_vectors_include_the_header_grammar_cases():
    assert len(GRAMMAR_FAILURES) >= 20


@pytest.mark.parametrize("vector", GRAMMAR_FAILURES, ids=vector_id)
def test_every_official_malformed_header_is_refused(vector):
    with pytest.raises(HeaderError):
        parse(vector.body)


@pytest.mark.parametrize("vector", PARSEABLE, ids=vector_id)
def test_every_official_header_is_reencoded_byte_for_byte_and_its_mac_checked(vector):
    header, raw, _ = parse(vector.body)
    key = file_key(vector)

    if vector.expect == "HMAC failure":
        with pytest.raises(HeaderMACError):
            header.verify_mac(key)
    else:
        header.verify_mac(key)
        assert encode_header(list(header.stanzas), key) == raw
        assert raw.endswith(b"\n") and raw.startswith(VERSION_LINE)
        assert header.mac_input == raw[: raw.rindex(b"---") + 3]


def test_the_official_stanza_with_an_empty_body_parses_to_an_empty_body():
    (vector,) = vectors("stanza_empty_body")

    header, _, _ = parse(vector.body)

    assert header.stanzas[-1] == Stanza(args=("empty",), body=b"")


# --- serialisation ---------------------------------------------------------------------


@pytest.mark.parametrize("body_size", [0, 1, 32, 47, 48, 49, 96, 200])
def test_a_header_round_trips_and_leaves_the_stream_at_the_payload(body_size):
    stanzas = [
        Stanza(args=("X25519", "c2hhcmU"), body=bytes(range(body_size))),
        Stanza(args=("example.com/other", "a", "b"), body=b"\xff" * 3),
    ]
    encoded = encode_header(stanzas, FILE_KEY)

    header, raw, rest = parse(encoded + PAYLOAD)

    assert header.stanzas == tuple(stanzas)
    assert header.stanzas[0].type == "X25519"
    assert raw == encoded
    assert rest == PAYLOAD
    header.verify_mac(FILE_KEY)


@pytest.mark.parametrize(
    ("body_size", "line_lengths"),
    [(0, [0]), (1, [2]), (47, [63]), (48, [64, 0]), (49, [64, 2]), (96, [64, 64, 0])],
)
def test_a_stanza_body_is_wrapped_at_64_columns_and_ends_with_a_shorter_line(
    body_size, line_lengths
):
    encoded = encode_header([Stanza(args=("t",), body=bytes(body_size))], FILE_KEY)

    body_lines = encoded.split(b"\n")[2:-2]

    assert [len(line) for line in body_lines] == line_lengths


def test_the_mac_is_hmac_sha256_under_the_hkdf_header_key():
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=b"header").derive(FILE_KEY)

    assert header_mac(FILE_KEY, b"abc") == hmac.new(key, b"abc", hashlib.sha256).digest()


def test_the_mac_covers_every_stanza_and_fails_under_another_file_key():
    stanza = Stanza(args=("X25519", "c2hhcmU"), body=bytes(32))
    header, _, _ = parse(encode_header([stanza], FILE_KEY))

    with pytest.raises(HeaderMACError):
        header.verify_mac(bytes(16))
    other = encode_header([Stanza(args=("X25519", "c2hhcmV"), body=bytes(32))], FILE_KEY)
    assert header.mac != parse(other)[0].mac


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "ends before the MAC line"),
        (b"hello world\n", "not an age file"),
        (b"age-encryption.org/v2\n", "unsupported age format version"),
        (VERSION_LINE + b"-> X25519 abc\nAAAA\n", "ends before the MAC line"),
        (header_with()[: -len(PAYLOAD)], "no recipient stanza"),
        (header_with(b"-> a  b\n\n"), "malformed stanza arguments"),
        (header_with(b"-> \n\n"), "malformed stanza arguments"),
        (header_with(b"-> caf\xc3\xa9\n\n"), "malformed stanza arguments"),
        (header_with(b"-> a\n" + b"A" * 65 + b"\n"), "longer than 64 columns"),
        (header_with(b"-> a\nAA=\n"), "stanza body"),
        (header_with(b"# comment\n"), "malformed header line"),
        (VERSION_LINE + b"-> a\n\n--- short\n", "malformed MAC line"),
        (VERSION_LINE + b"-> a\n\n---  " + b"A" * 42 + b"\n", "MAC"),
    ],
    ids=[
        "empty",
        "not age",
        "other version",
        "truncated",
        "no stanza",
        "empty argument",
        "no argument",
        "non-ascii argument",
        "65-column body line",
        "padded body",
        "unknown line",
        "short mac",
        "mac with bad base64",
    ],
)
def test_a_header_outside_the_grammar_is_refused_with_the_reason(blob, message):
    with pytest.raises(HeaderError, match=message):
        parse(blob)


def test_a_header_over_the_size_limit_is_refused_before_it_is_all_read():
    stanza_lines = b"-> filler\n" + b"A" * 64 + b"\n" + b"AAAA\n"
    blob = VERSION_LINE + stanza_lines * (MAX_HEADER_SIZE // len(stanza_lines) + 1)

    with pytest.raises(HeaderError, match="larger than the limit"):
        parse(blob)


def test_a_header_just_under_the_size_limit_is_accepted():
    stanza = Stanza(args=("filler",), body=bytes(48 * 20 + 3))
    one = len(encode_header([stanza], FILE_KEY)) - len(encode_header([], FILE_KEY))
    count = (MAX_HEADER_SIZE - len(encode_header([], FILE_KEY))) // one

    encoded = encode_header([stanza] * count, FILE_KEY)
    header, _, _ = parse(encoded)

    assert MAX_HEADER_SIZE - one < len(encoded) <= MAX_HEADER_SIZE
    assert len(header.stanzas) == count


def test_a_single_endless_line_is_refused_without_reading_it_all():
    class Endless:
        """A version line and the start of a stanza line that never ends."""

        def __init__(self) -> None:
            self.given = 0

        def read(self, size: int = -1, /) -> bytes:
            start = VERSION_LINE + b"-> " if self.given == 0 else b""
            self.given += size
            return (start + b"A" * size)[:size]

    raw = Endless()

    with pytest.raises(HeaderError, match="ends before the MAC line"):
        read_header(BufferedSource(raw))
    assert raw.given < 2 * MAX_HEADER_SIZE
