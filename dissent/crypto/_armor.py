"""Strict ASCII armor (RFC 7468 section 3, label ``AGE ENCRYPTED FILE``)."""

from __future__ import annotations

import base64
import binascii

from ._io import BufferedSource, Writable
from .errors import ArmorError

BEGIN_LINE = b"-----BEGIN AGE ENCRYPTED FILE-----"
END_LINE = b"-----END AGE ENCRYPTED FILE-----"
_COLUMNS = 64
_BYTES_PER_LINE = _COLUMNS // 4 * 3
_WHITESPACE = b" \t\r\n"
# Whitespace allowed around the block is bounded so a stream of blanks is not read
# forever while looking for the first line.
_MAX_SURROUNDING_WHITESPACE = 1024


class ArmorWriter:
    """A writable that armors everything written to it; call :meth:`close` at the end."""

    def __init__(self, sink: Writable) -> None:
        self._sink = sink
        self._pending = bytearray()
        self._sink.write(BEGIN_LINE + b"\n")

    def write(self, data: bytes, /) -> int:
        """Encode complete lines of ``data`` and keep the remainder for later."""
        self._pending += data
        whole = len(self._pending) - len(self._pending) % _BYTES_PER_LINE
        if whole:
            self._emit(bytes(self._pending[:whole]))
            del self._pending[:whole]
        return len(data)

    def close(self) -> None:
        """Encode the last partial line and write the end line."""
        if self._pending:
            self._emit(bytes(self._pending))
            self._pending.clear()
        self._sink.write(END_LINE + b"\n")

    def _emit(self, data: bytes) -> None:
        encoded = base64.b64encode(data)
        lines = [encoded[i : i + _COLUMNS] for i in range(0, len(encoded), _COLUMNS)]
        self._sink.write(b"\n".join(lines) + b"\n")


def looks_armored(source: BufferedSource) -> bool:
    """Return whether the stream is meant as armor (so armor errors are reported as such).

    True when it starts, after blank space, with a PEM-like line, or when it is not a
    binary age file but carries the armor's first line near its start.
    """
    head = source.peek(_MAX_SURROUNDING_WHITESPACE + len(BEGIN_LINE))
    if head.lstrip(_WHITESPACE).startswith(b"-----"):
        return True
    return not head.startswith(b"age-encryption.org/") and BEGIN_LINE in head


class ArmorReader:
    """A readable that decodes a strictly armored stream, line by line."""

    def __init__(self, source: BufferedSource) -> None:
        self._source = source
        self._decoded = bytearray()
        self._done = False
        self._line_ending: bytes | None = None
        self._skip_leading_whitespace()
        if self._next_line() != BEGIN_LINE:
            raise ArmorError("armor does not begin with the AGE ENCRYPTED FILE line")

    def _skip_leading_whitespace(self) -> None:
        head = self._source.peek(_MAX_SURROUNDING_WHITESPACE + 1)
        skip = len(head) - len(head.lstrip(_WHITESPACE))
        if skip > _MAX_SURROUNDING_WHITESPACE:
            raise ArmorError("too much blank space before the armor")
        self._source.read(skip)

    def _next_line(self) -> bytes:
        line = self._source.readline(_COLUMNS + 3)
        if not line.endswith(b"\n"):
            if len(line) > _COLUMNS + 1:
                raise ArmorError("armor line is too long")
            return line  # the end line may lack its line ending
        ending = b"\r\n" if line.endswith(b"\r\n") else b"\n"
        if self._line_ending is None:
            self._line_ending = ending
        elif ending != self._line_ending:
            raise ArmorError("armor mixes line endings")
        return line[: -len(ending)]

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` decoded bytes."""
        while not self._done and (size < 0 or len(self._decoded) < size):
            self._decode_line()
        n = len(self._decoded) if size < 0 else min(size, len(self._decoded))
        out = bytes(self._decoded[:n])
        del self._decoded[:n]
        return out

    def _decode_line(self) -> None:
        line = self._next_line()
        if line == END_LINE:
            self._finish()
            return
        if not line:
            raise ArmorError("armor has an empty line or ends early")
        if len(line) > _COLUMNS:
            raise ArmorError("armor line is longer than 64 columns")
        last = len(line) < _COLUMNS or line.endswith(b"=")
        self._decoded += _strict_b64decode(line)
        if last:
            if self._next_line() != END_LINE:
                raise ArmorError("short armor line is not followed by the end line")
            self._finish()

    def _finish(self) -> None:
        rest = self._source.read(_MAX_SURROUNDING_WHITESPACE + 1)
        if rest.strip(_WHITESPACE) or len(rest) > _MAX_SURROUNDING_WHITESPACE:
            raise ArmorError("data after the armor end line")
        self._done = True


def _strict_b64decode(line: bytes) -> bytes:
    if len(line) % 4:
        raise ArmorError("armor line is not padded base64")
    try:
        data = base64.b64decode(line, validate=True)
    except binascii.Error as exc:
        raise ArmorError("armor line is not valid base64") from exc
    if base64.b64encode(data) != line:
        raise ArmorError("armor line is not canonical base64")
    return data
