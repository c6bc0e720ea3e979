"""Encrypting and decrypting age v1 files: streaming, bytes, and re-wrapping.

The streaming functions work in constant memory (one or two 64 KiB chunks). The
safe way to decrypt to storage is :func:`decrypt_to_path`, which writes to a
temporary file next to the destination and renames it only once the whole file has
authenticated, so a forged or truncated ciphertext never leaves partial plaintext.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._armor import ArmorReader, ArmorWriter, looks_armored
from ._header import Header, Stanza, encode_header, read_header
from ._io import BufferedSource, Readable, Writable
from ._stream import (
    CHUNK_SIZE,
    NONCE_SIZE,
    ChunkSealer,
    decrypt_chunks,
    encrypt_chunks,
    payload_key,
)
from .errors import HeaderError, NoIdentityMatchError
from .keys import (
    FILE_KEY_SIZE,
    Identity,
    PublicKeyRecipient,
    Recipient,
    ScryptRecipient,
)
from .padding import PaddedReader, iter_padding, unpad_chunks

__all__ = [
    "Encryptor",
    "OpenedHeader",
    "add_recipients",
    "add_recipients_stream",
    "decrypt",
    "decrypt_stream",
    "decrypt_to_path",
    "encrypt",
    "encrypt_stream",
    "iter_decrypt",
    "open_header",
    "rewrap",
    "rewrap_header",
    "split_header",
]


def _check_recipients(recipients: Sequence[Recipient]) -> None:
    if not recipients:
        raise ValueError("at least one recipient is required")
    if any(isinstance(r, ScryptRecipient) for r in recipients) and len(recipients) > 1:
        raise ValueError("a passphrase must be the only recipient of a file")
    kinds = {r.kind for r in recipients if isinstance(r, PublicKeyRecipient)}
    if len(kinds) > 1:
        # Mixing would make the post-quantum stanza pointless: the file could be opened
        # by breaking the X25519 stanza next to it.
        raise ValueError("recipients mix post-quantum and X25519 keys")


def _random(size: int) -> bytes:
    """Return ``size`` random bytes (file keys and payload nonces; tests replace this)."""
    return os.urandom(size)


def _new_header(file_key: bytes, recipients: Sequence[Recipient]) -> bytes:
    _check_recipients(recipients)
    stanzas: list[Stanza] = []
    for recipient in recipients:
        stanzas.extend(recipient.wrap(file_key))
    return encode_header(stanzas, file_key)


def encrypt_stream(
    source: Readable,
    sink: Writable,
    *,
    recipients: Sequence[Recipient],
    armor: bool = False,
    pad: bool = False,
) -> None:
    """Encrypt everything ``source`` holds to ``recipients``, writing to ``sink``.

    With ``pad``, the plaintext is padded to its size bucket inside the payload (see
    :mod:`dissent.crypto.padding`); open such a file with ``padded=True``.
    """
    if pad:
        source = PaddedReader(source)
    file_key = _random(FILE_KEY_SIZE)
    header = _new_header(file_key, recipients)
    out: Writable = ArmorWriter(sink) if armor else sink
    out.write(header)
    nonce = _random(NONCE_SIZE)
    out.write(nonce)
    for chunk in encrypt_chunks(payload_key(file_key, nonce), source):
        out.write(chunk)
    if isinstance(out, ArmorWriter):
        out.close()


class Encryptor:
    """Encrypts data handed to it piece by piece (push style), in constant memory.

    For producers that cannot be read from: an upload parser, say, that calls
    ``write`` as bytes arrive. The output is exactly what :func:`encrypt_stream` would
    write for the concatenation of everything written (binary, not armored). The
    header goes to ``sink`` at once; ``close`` seals the final chunk (after the
    padding, with ``pad``). Until then up to one full chunk is held back, because a
    chunk is sealed as the last one or not, and only more data or ``close`` tells.

    Used as a context manager, it closes on success only: after an exception the
    ciphertext stays without its final chunk, which every reader rejects as
    truncated, rather than becoming a valid file of part of the data.
    """

    def __init__(
        self, sink: Writable, *, recipients: Sequence[Recipient], pad: bool = False
    ) -> None:
        file_key = _random(FILE_KEY_SIZE)
        header = _new_header(file_key, recipients)
        nonce = _random(NONCE_SIZE)
        self._sink = sink
        self._sealer = ChunkSealer(payload_key(file_key, nonce))
        self._pad = pad
        self._buffer = bytearray()
        self._written = 0
        self._closed = False
        sink.write(header)
        sink.write(nonce)

    @property
    def written(self) -> int:
        """Return how many bytes of content were written so far (padding not counted)."""
        return self._written

    @property
    def closed(self) -> bool:
        """Return whether the final chunk has been sealed."""
        return self._closed

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        """Encrypt ``data`` (sealing every chunk known not to be the last); return its size."""
        if self._closed:
            raise ValueError("write to a closed Encryptor")
        size = len(data)
        self._feed(memoryview(data).cast("B"))
        self._written += size
        return size

    def _feed(self, view: memoryview) -> None:
        buffer = self._buffer
        while view:
            if len(buffer) == CHUNK_SIZE:
                # More data follows, so the held-back chunk is not the last one.
                self._sink.write(self._sealer.seal(bytes(buffer), last=False))
                buffer.clear()
            take = min(CHUNK_SIZE - len(buffer), len(view))
            buffer += view[:take]
            view = view[take:]

    def close(self) -> None:
        """Append the padding (with ``pad``) and seal the final chunk; idempotent."""
        if self._closed:
            return
        if self._pad:
            for piece in iter_padding(self._written):
                self._feed(memoryview(piece))
        self._sink.write(self._sealer.seal(bytes(self._buffer), last=True))
        self._buffer.clear()
        self._closed = True

    def __enter__(self) -> Encryptor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        if exc_type is None:
            self.close()


def encrypt(
    data: bytes, *, recipients: Sequence[Recipient], armor: bool = False, pad: bool = False
) -> bytes:
    """Return ``data`` encrypted to ``recipients`` as an age file."""
    sink = io.BytesIO()
    encrypt_stream(io.BytesIO(data), sink, recipients=recipients, armor=armor, pad=pad)
    return sink.getvalue()


@dataclass(frozen=True)
class OpenedHeader:
    """A header whose file key one of our identities unwrapped and whose MAC verified."""

    header: Header
    raw: bytes
    file_key: bytes


def _source_for(stream: Readable) -> BufferedSource:
    source = BufferedSource(stream)
    if looks_armored(source):
        return BufferedSource(ArmorReader(source))
    return source


def _unwrap(header: Header, identities: Sequence[Identity]) -> bytes:
    stanzas = header.stanzas
    if any(s.type == "scrypt" for s in stanzas) and len(stanzas) != 1:
        raise HeaderError("an scrypt stanza must be alone in the header")
    for identity in identities:
        file_key = identity.unwrap(stanzas)
        if file_key is not None:
            if len(file_key) != FILE_KEY_SIZE:
                raise HeaderError("unwrapped file key has the wrong length")
            header.verify_mac(file_key)
            return file_key
    raise NoIdentityMatchError("no identity matched any of the recipients")


def open_header(source: BufferedSource, *, identities: Sequence[Identity]) -> OpenedHeader:
    """Read and authenticate the header at the start of ``source``."""
    header, raw = read_header(source)
    return OpenedHeader(header=header, raw=raw, file_key=_unwrap(header, identities))


def iter_decrypt(
    stream: Readable, *, identities: Sequence[Identity], padded: bool = False
) -> Iterator[bytes]:
    """Yield plaintext chunks of an age file (binary or armored) as they authenticate.

    The header is read and checked before the first chunk is yielded. If a later
    chunk fails, :class:`DecryptionError` is raised mid-iteration: whoever consumes
    this (an HTTP download, say) must treat what it already got as void.
    """
    source = _source_for(stream)
    opened = open_header(source, identities=identities)
    nonce = source.read(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise HeaderError("file ends before the payload nonce")
    chunks = decrypt_chunks(payload_key(opened.file_key, nonce), source)
    yield from unpad_chunks(chunks) if padded else chunks


def decrypt_stream(
    stream: Readable, sink: Writable, *, identities: Sequence[Identity], padded: bool = False
) -> None:
    """Decrypt ``stream`` into ``sink`` chunk by chunk (see :func:`iter_decrypt`)."""
    for chunk in iter_decrypt(stream, identities=identities, padded=padded):
        sink.write(chunk)


def decrypt(data: bytes, *, identities: Sequence[Identity], padded: bool = False) -> bytes:
    """Return the plaintext of an age file held in memory."""
    return b"".join(iter_decrypt(io.BytesIO(data), identities=identities, padded=padded))


def decrypt_to_path(
    stream: Readable,
    destination: str | os.PathLike[str],
    *,
    identities: Sequence[Identity],
    padded: bool = False,
) -> None:
    """Decrypt into ``destination`` atomically: all of it, or nothing at all.

    Writes to a private temporary file in the destination's directory and renames it
    over the destination only after the last chunk authenticated; on any failure the
    temporary file is removed and the destination is untouched.
    """
    target = Path(destination)
    fd, tmp_name = tempfile.mkstemp(prefix=".dissent-", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            decrypt_stream(stream, tmp, identities=identities, padded=padded)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def rewrap(
    stream: Readable,
    sink: Writable,
    *,
    identities: Sequence[Identity],
    recipients: Sequence[Recipient],
) -> None:
    """Copy an age file to ``sink`` with a new header addressed to ``recipients``.

    ``recipients`` is the complete new set: to add an adviser pass the old set plus the
    new one, to remove one pass the set without it. The payload bytes are copied
    unchanged (they stay encrypted under the same file key), so this is cheap for large
    files. Note that removing a recipient cannot take back a file key they already
    saw; it only stops the stored file from naming them. Output is binary.
    """
    source = BufferedSource(stream)
    if looks_armored(source):
        source = BufferedSource(ArmorReader(source))
    opened = open_header(source, identities=identities)
    sink.write(_new_header(opened.file_key, recipients))
    while block := source.read(1024 * 1024):
        sink.write(block)


def rewrap_header(
    header_bytes: bytes,
    *,
    identities: Sequence[Identity],
    recipients: Sequence[Recipient],
) -> bytes:
    """Return a new header for the same file key, for storage that keeps the header apart.

    ``header_bytes`` must be exactly a header (as :func:`split_header` returns it).
    """
    source = BufferedSource(io.BytesIO(header_bytes))
    opened = open_header(source, identities=identities)
    if source.read(1):
        raise HeaderError("data after the header")
    return _new_header(opened.file_key, recipients)


def _extended_header(opened: OpenedHeader, recipients: Sequence[Recipient]) -> bytes:
    _check_recipients(recipients)
    if any(isinstance(r, ScryptRecipient) for r in recipients):
        raise ValueError("a passphrase must be the only recipient of a file")
    kept = opened.header.stanzas
    added = [stanza for r in recipients for stanza in r.wrap(opened.file_key)]
    if not {s.type for s in added} <= {s.type for s in kept}:
        # Also refuses adding to a passphrase file (its scrypt stanza must stay alone).
        raise ValueError("the added recipients are not of the kind the file was made for")
    return encode_header([*kept, *added], opened.file_key)


def add_recipients(
    data: bytes, *, identities: Sequence[Identity], recipients: Sequence[Recipient]
) -> bytes:
    """Return the binary age file ``data`` readable by ``recipients`` as well.

    Unlike :func:`rewrap`, every existing stanza is kept byte for byte, so nobody who
    could open the file loses access, and the caller needs to know nothing about who
    they are; only the MAC is recomputed. One of ``identities`` must open the header.
    The payload is unchanged. Adding someone who already has a stanza gives them a
    second one (harmless: stanzas are tried in turn).
    """
    source = BufferedSource(io.BytesIO(data))
    opened = open_header(source, identities=identities)
    return _extended_header(opened, recipients) + source.read()


def add_recipients_stream(
    stream: Readable,
    sink: Writable,
    *,
    identities: Sequence[Identity],
    recipients: Sequence[Recipient],
) -> None:
    """Copy an age file (binary or armored) to ``sink`` with stanzas for ``recipients``
    added, as :func:`add_recipients` does; in constant memory. Output is binary."""
    source = _source_for(stream)
    opened = open_header(source, identities=identities)
    sink.write(_extended_header(opened, recipients))
    while block := source.read(1024 * 1024):
        sink.write(block)


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """Split a binary age file into its header and its payload, checking only syntax."""
    _, raw = read_header(BufferedSource(io.BytesIO(data)))
    return raw, data[len(raw) :]
