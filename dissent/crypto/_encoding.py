"""Canonical unpadded base64 and Bech32, as the age specification uses them."""

from __future__ import annotations

import base64
import binascii
import re

from .errors import KeyFormatError

_B64_ALPHABET = re.compile(rb"\A[A-Za-z0-9+/]*\Z")


def b64encode(data: bytes) -> str:
    """Return the canonical unpadded standard base64 of ``data``."""
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str | bytes) -> bytes:
    """Decode canonical unpadded base64; raise ``ValueError`` on anything else.

    The specification requires rejecting ``=`` padding and non-canonical encodings
    (where the unused low bits of the last character are not zero), because a
    malleable encoding would let the same header have several byte forms.
    """
    raw = text.encode("ascii") if isinstance(text, str) else text
    if not _B64_ALPHABET.match(raw):
        raise ValueError("invalid base64 character")
    if len(raw) % 4 == 1:
        raise ValueError("invalid base64 length")
    try:
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid base64") from exc
    if b64encode(data).encode("ascii") != raw:
        raise ValueError("non-canonical base64")
    return data


# Bech32 (BIP 173), without the 90-character limit: age's post-quantum recipients
# are almost two thousand characters long.
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_MAP = {c: i for i, c in enumerate(_CHARSET)}
_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GENERATORS):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or (acc << (to_bits - bits)) & maxv:
        raise KeyFormatError("invalid Bech32 padding")
    return out


def bech32_encode(hrp: str, data: bytes) -> str:
    """Return the lowercase Bech32 string of ``data`` under the human-readable part."""
    hrp = hrp.lower()
    values = _convert_bits(data, 8, 5, pad=True)
    checksum_input = _hrp_expand(hrp) + values + [0] * 6
    polymod = _polymod(checksum_input) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[v] for v in values + checksum)


def bech32_decode(text: str) -> tuple[str, bytes]:
    """Decode a Bech32 string into its lowercase human-readable part and data.

    Raises :class:`KeyFormatError` for mixed case, a bad character or a checksum that
    does not match (which is how a mistyped key is caught).
    """
    if text.lower() != text and text.upper() != text:
        raise KeyFormatError("Bech32 string mixes upper and lower case")
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise KeyFormatError("Bech32 string has a character outside printable ASCII")
    lower = text.lower()
    sep = lower.rfind("1")
    if sep < 1 or sep + 7 > len(lower):
        raise KeyFormatError("Bech32 string has no separator or is too short")
    hrp = lower[:sep]
    try:
        values = [_CHARSET_MAP[c] for c in lower[sep + 1 :]]
    except KeyError as exc:
        raise KeyFormatError("Bech32 string has an invalid character") from exc
    if _polymod(_hrp_expand(hrp) + values) != 1:
        raise KeyFormatError("Bech32 checksum does not match (is there a typo?)")
    return hrp, bytes(_convert_bits(values[:-6], 5, 8, pad=False))
