"""The age v1 header: parsing, serialisation and the header MAC."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256

from ._encoding import b64decode, b64encode
from ._io import BufferedSource
from ._primitives import hkdf_sha256
from .errors import HeaderError, HeaderMACError

VERSION_LINE = b"age-encryption.org/v1\n"
_VERSION_PREFIX = b"age-encryption.org/"
_COLUMNS = 64
# A header is a few lines per recipient: a hybrid stanza is about 1.6 KiB, so 1 MiB
# leaves room for hundreds of recipients while stopping a hostile upload from making
# us buffer an unbounded "header".
MAX_HEADER_SIZE = 1024 * 1024
_MAX_LINE = 16 * 1024
_MAC_PREFIX = b"---"


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: its arguments (the first names the type) and its body."""

    args: tuple[str, ...]
    body: bytes

    @property
    def type(self) -> str:
        """Return the stanza type, its first argument."""
        return self.args[0]


@dataclass(frozen=True)
class Header:
    """A parsed header: the stanzas, the MAC, and the bytes the MAC covers."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes

    def verify_mac(self, file_key: bytes) -> None:
        """Raise :class:`HeaderMACError` unless the MAC matches under ``file_key``."""
        expected = header_mac(file_key, self.mac_input)
        if not hmac.compare_digest(expected, self.mac):
            raise HeaderMACError("header MAC does not verify")


def header_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """Return the HMAC-SHA-256 of the header up to and including ``---``."""
    key = hkdf_sha256(file_key, salt=b"", info=b"header")
    return hmac.new(key, mac_input, sha256).digest()


_VCHARS = re.compile(rb"[\x21-\x7e]+")


def _is_vchar_arg(arg: bytes) -> bool:
    return _VCHARS.fullmatch(arg) is not None


def encode_header(stanzas: list[Stanza], file_key: bytes) -> bytes:
    """Serialise stanzas into a complete header, MAC line included."""
    parts = [VERSION_LINE]
    for stanza in stanzas:
        parts.append(b"-> " + " ".join(stanza.args).encode("ascii") + b"\n")
        body = b64encode(stanza.body).encode("ascii")
        for i in range(0, len(body), _COLUMNS):
            parts.append(body[i : i + _COLUMNS] + b"\n")
        if len(body) % _COLUMNS == 0:
            parts.append(b"\n")  # the body must end with a line shorter than 64 columns
    mac_input = b"".join(parts) + _MAC_PREFIX
    return mac_input + b" " + b64encode(header_mac(file_key, mac_input)).encode("ascii") + b"\n"


def read_header(source: BufferedSource) -> tuple[Header, bytes]:
    """Parse a header from ``source``; return it with its exact bytes.

    Leaves ``source`` positioned at the first byte of the payload. Any deviation from
    the specification's grammar raises :class:`HeaderError`.
    """
    raw = bytearray()

    def next_line() -> bytes:
        line = source.readline(_MAX_LINE)
        raw.extend(line)
        if len(raw) > MAX_HEADER_SIZE:
            raise HeaderError("header is larger than the limit")
        if not line.endswith(b"\n"):
            raise HeaderError("header ends before the MAC line")
        return line

    first = next_line()
    if first != VERSION_LINE:
        if first.startswith(_VERSION_PREFIX):
            raise HeaderError("unsupported age format version")
        raise HeaderError("not an age file")

    stanzas: list[Stanza] = []
    while True:
        line = next_line()
        if line.startswith(b"-> "):
            stanzas.append(_read_stanza(line, next_line))
        elif line.startswith(_MAC_PREFIX):
            mac_input = bytes(raw[: len(raw) - len(line) + len(_MAC_PREFIX)])
            mac = _parse_mac_line(line)
            break
        else:
            raise HeaderError("malformed header line")
    if not stanzas:
        raise HeaderError("header has no recipient stanza")
    return Header(stanzas=tuple(stanzas), mac=mac, mac_input=mac_input), bytes(raw)


def _read_stanza(arg_line: bytes, next_line: Callable[[], bytes]) -> Stanza:
    args = arg_line[3:-1].split(b" ")
    if not all(_is_vchar_arg(a) for a in args):
        raise HeaderError("malformed stanza arguments")
    body_b64 = bytearray()
    while True:
        line = next_line()[:-1]
        if len(line) > _COLUMNS:
            raise HeaderError("stanza body line is longer than 64 columns")
        body_b64 += line
        if len(line) < _COLUMNS:
            break
    try:
        body = b64decode(bytes(body_b64))
    except ValueError as exc:
        raise HeaderError(f"stanza body: {exc}") from exc
    return Stanza(args=tuple(a.decode("ascii") for a in args), body=body)


def _parse_mac_line(line: bytes) -> bytes:
    if not line.startswith(b"--- ") or len(line) != 4 + 43 + 1:
        raise HeaderError("malformed MAC line")
    try:
        mac = b64decode(line[4:-1])
    except ValueError as exc:
        raise HeaderError(f"MAC: {exc}") from exc
    if len(mac) != 32:
        raise HeaderError("MAC has the wrong length")
    return mac
