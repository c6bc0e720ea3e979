"""The age payload: STREAM with ChaCha20-Poly1305 over 64 KiB chunks."""

from __future__ import annotations

from collections.abc import Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ._io import Readable
from ._primitives import hkdf_sha256
from .errors import PayloadError

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
NONCE_SIZE = 16
_ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """Return the payload key for a file key and payload nonce."""
    return hkdf_sha256(file_key, salt=nonce, info=b"payload")


def _chunk_nonce(counter: int, *, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _read_full(source: Readable, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at the end of the stream."""
    data = source.read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = source.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def encrypt_chunks(key: bytes, source: Readable) -> Iterator[bytes]:
    """Yield the encrypted chunks of everything ``source`` holds, in constant memory."""
    aead = ChaCha20Poly1305(key)
    counter = 0
    current = _read_full(source, CHUNK_SIZE)
    while True:
        following = _read_full(source, CHUNK_SIZE) if len(current) == CHUNK_SIZE else b""
        last = not following
        yield aead.encrypt(_chunk_nonce(counter, last=last), current, None)
        if last:
            return
        current = following
        counter += 1


class ChunkSealer:
    """Seals payload chunks one at a time, for writers that are handed data (push style).

    The caller decides which chunk is the last; :func:`encrypt_chunks` is the same
    sequence for a source that can be read from (pull style).
    """

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._counter = 0
        self._finished = False

    def seal(self, chunk: bytes, *, last: bool) -> bytes:
        """Return the next encrypted chunk; after the last one, nothing more is accepted."""
        if self._finished:
            raise ValueError("the final chunk was already sealed")
        if len(chunk) > CHUNK_SIZE or (not last and len(chunk) != CHUNK_SIZE):
            raise ValueError("only the final chunk may be shorter than 64 KiB")
        sealed = self._aead.encrypt(_chunk_nonce(self._counter, last=last), chunk, None)
        self._counter += 1
        self._finished = last
        return sealed


def decrypt_chunks(key: bytes, source: Readable) -> Iterator[bytes]:
    """Yield each plaintext chunk as soon as its tag verifies.

    Raises :class:`PayloadError` when the stream is truncated, a chunk is forged, or
    data follows the final chunk. Chunks already yielded were authentic, but the file
    as a whole is not until the generator finishes without error: callers that must
    not keep partial plaintext use :func:`dissent.crypto.decrypt_to_path`.
    """
    aead = ChaCha20Poly1305(key)
    counter = 0
    while True:
        chunk = _read_full(source, _ENCRYPTED_CHUNK_SIZE)
        if not chunk:
            raise PayloadError("payload ends without a final chunk")
        if len(chunk) < TAG_SIZE:
            raise PayloadError("payload chunk is shorter than its tag")
        if len(chunk) == _ENCRYPTED_CHUNK_SIZE:
            # A full chunk is normally not the last; try that first, as the reference
            # implementation does, so a final full chunk costs one extra tag check.
            try:
                yield aead.decrypt(_chunk_nonce(counter, last=False), chunk, None)
                counter += 1
                continue
            except InvalidTag:
                pass
        try:
            plaintext = aead.decrypt(_chunk_nonce(counter, last=True), chunk, None)
        except InvalidTag as exc:
            raise PayloadError(f"payload chunk {counter} failed authentication") from exc
        if not plaintext and counter > 0:
            raise PayloadError("final chunk is empty")
        yield plaintext
        if source.read(1):
            raise PayloadError("trailing data after the final chunk")
        return
