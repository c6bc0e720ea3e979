"""Length hiding: plaintext is padded to a size bucket before it is encrypted.

Scheme: ``data || 0x80 || 0x00…`` (ISO/IEC 7816-4 padding) up to the bucket size.
Buckets follow Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files
and Communication with PURBs", PETS 2019): at most 12 % overhead, and a length of L
bytes leaks O(log log L) bits instead of O(log L). Below :data:`MIN_PADDED_SIZE` every
text has the same size, because short messages are where length says most (a short
"yes" versus a named incident).

Unpadding works on a stream in constant memory: only the *count* of trailing zero
bytes seen so far is held back, never the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ._io import Readable
from .errors import DecryptionError

MIN_PADDED_SIZE = 4096
_MARKER = 0x80
_ZEROS = bytes(64 * 1024)


class PaddingError(DecryptionError):
    """The decrypted plaintext does not end in valid padding."""


def padme(length: int) -> int:
    """Return the Padmé bucket for ``length``: the smallest allowed size ≥ it."""
    if length < 2:
        return length
    exponent = length.bit_length() - 1
    mantissa_bits = exponent.bit_length()
    mask = (1 << (exponent - mantissa_bits)) - 1
    return (length + mask) & ~mask


def padded_size(length: int) -> int:
    """Return the size ``length`` bytes of content occupy once padded."""
    return max(MIN_PADDED_SIZE, padme(length + 1))


def padding_for(length: int) -> bytes:
    """Return the padding bytes to append to ``length`` bytes of content."""
    return bytes([_MARKER]) + bytes(padded_size(length) - length - 1)


def iter_padding(length: int) -> Iterator[bytes]:
    """Yield the padding for ``length`` bytes of content in pieces of at most 64 KiB."""
    remaining = padded_size(length) - length - 1
    yield bytes([_MARKER])
    while remaining:
        n = min(remaining, len(_ZEROS))
        yield _ZEROS[:n]
        remaining -= n


def pad(data: bytes) -> bytes:
    """Return ``data`` padded to its bucket."""
    return data + padding_for(len(data))


def unpad(data: bytes) -> bytes:
    """Return the content of padded ``data``; raise :class:`PaddingError` if malformed."""
    return b"".join(unpad_chunks([data]))


def unpad_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Yield the content of a padded stream, holding back only the possible padding."""
    held_marker = False  # a 0x80 that may be the start of the padding
    held_zeros = 0  # zero bytes after it (or after content) not yet released
    for chunk in chunks:
        if not chunk:
            continue
        body = chunk.rstrip(b"\x00")
        if not body:
            held_zeros += len(chunk)
            continue
        # Non-zero data arrived: anything held back was content after all.
        yield from _release(held_marker, held_zeros)
        trailing = len(chunk) - len(body)
        if body[-1] == _MARKER:
            held_marker, held_zeros = True, trailing
            body = body[:-1]
        else:
            held_marker, held_zeros = False, trailing
        if body:
            yield body
    if not held_marker:
        raise PaddingError("padding marker missing")


def _release(marker: bool, zeros: int) -> Iterator[bytes]:
    if marker:
        yield bytes([_MARKER])
    while zeros:
        n = min(zeros, len(_ZEROS))
        yield _ZEROS[:n]
        zeros -= n


class PaddedReader:
    """A readable that returns ``source``'s bytes followed by their padding."""

    def __init__(self, source: Readable) -> None:
        self._source = source
        self._length = 0
        self._padding_left: int | None = None  # known once the source is exhausted
        self._marker_sent = False

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes of content, then of padding."""
        if size == 0:
            return b""
        if self._padding_left is None:
            data = self._source.read(size)
            if data:
                self._length += len(data)
                return data
            self._padding_left = padded_size(self._length) - self._length
        n = min(self._padding_left, len(_ZEROS) if size < 0 else size)
        if n <= 0:
            return b""
        self._padding_left -= n
        if not self._marker_sent:
            self._marker_sent = True
            return bytes([_MARKER]) + _ZEROS[: n - 1]
        return _ZEROS[:n]
