"""Receiving an uploaded file without ever writing it in clear.

Werkzeug's form parser writes a file part wherever its stream factory says; for uploads
that is an :class:`UploadSink`. The first bytes tell the type. An image or PDF is kept
in memory (up to a limit) so its metadata can be removed once it is complete; anything
else, or anything larger, goes straight into an :class:`~dissent.crypto.Encryptor`
writing a temporary blob. Past the size limit the data is counted and dropped, so the
request can be read to its end and answered with a message instead of a broken
connection.
"""

from __future__ import annotations

import errno
import re
import unicodedata
from collections.abc import Sequence
from typing import IO, cast

from ..config import Settings
from ..crypto import Encryptor, Recipient
from .metadata import SNIFF_BYTES, STRIPPABLE, FileType, sniff
from .storage import PendingBlob, new_blob

FILENAME_MAX = 120
_EXTENSION_MAX = 16
FALLBACK_FILENAME = "attachment"


_UNSAFE_CHARACTERS = re.compile(r'[<>:"|?*\\/]')
_SPACES = re.compile(r"\s+")


def sanitize_filename(raw: str | None) -> str:
    """Return a file name safe to show and to offer for saving, from what the browser sent.

    Keeps the last path component, drops control and format characters (including the
    bidirectional overrides that disguise ``exe.jpg``), characters Windows forbids and
    leading dots, and shortens it while keeping the extension.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] not in ("C", "Z") or c == " ")
    name = _SPACES.sub(" ", _UNSAFE_CHARACTERS.sub("_", name)).strip().lstrip(".").strip()
    if len(name) > FILENAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= _EXTENSION_MAX:
            name = stem[: FILENAME_MAX - len(extension) - 1].rstrip() + "." + extension
        else:
            name = name[:FILENAME_MAX].rstrip()
    return name or FALLBACK_FILENAME


class DroppedPart:
    """Where a file part goes that is read and not kept (a second file, say, or the
    files of a form refused before they were looked at): only its size is counted."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes, /) -> int:
        """Count the next piece of the part, and drop it."""
        self.size += len(data)
        return len(data)

    def seek(self, _offset: int, _whence: int = 0, /) -> int:
        """Accept the parser's rewind at the end of the part (there is nothing to reread)."""
        return 0


def disk_is_full(exc: OSError) -> bool:
    """Return whether ``exc`` says the disk (or the user's quota) is full."""
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


class UploadSink:
    """The file part of an upload: held in memory to be cleaned, or encrypted as it arrives.

    ``memory_limit`` bounds what is held for cleaning; ``max_bytes`` what is accepted.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        recipients: Sequence[Recipient],
        max_bytes: int,
        memory_limit: int,
    ) -> None:
        self._settings = settings
        self._recipients = list(recipients)
        self.max_bytes = max_bytes
        self.memory_limit = memory_limit
        self.size = 0
        self.filename: str | None = None
        self.parts = 0
        self.kind: FileType | None = None
        self.too_large = False
        self.too_large_to_strip = False
        self.out_of_space = False
        self._memory: bytearray | None = bytearray()
        self._blob: PendingBlob | None = None
        self._encryptor: Encryptor | None = None

    # Werkzeug's form parser calls this for every file part (dissent/web/receive.py).
    def open_part(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        """Return where the parser should write a file part: here for the first one."""
        self.parts += 1
        if self.parts > 1:
            return cast(IO[bytes], DroppedPart())
        self.filename = filename
        return cast(IO[bytes], self)

    def write(self, data: bytes, /) -> int:
        """Take the next piece of the file."""
        size = len(data)
        self.size += size
        if self.too_large or self.out_of_space:
            return size  # refused already: read the rest of the body, keep nothing
        if self.size > self.max_bytes:
            self.too_large = True
            self._drop()
            return size
        try:
            self._take(data)
        except OSError as exc:
            if not disk_is_full(exc):
                raise
            # The parser must still read the body to its end for the page to be
            # answered; what arrived so far is removed.
            self.out_of_space = True
            self._drop()
        return size

    def _take(self, data: bytes) -> None:
        if self._encryptor is not None:
            self._encryptor.write(data)
            return
        assert self._memory is not None
        self._memory += data
        if self.kind is None and len(self._memory) >= SNIFF_BYTES:
            self.kind = sniff(bytes(self._memory[:SNIFF_BYTES]))
            if self.kind not in STRIPPABLE:
                self._start_encrypting(self._memory)
                return
        if self.kind is not None and len(self._memory) > self.memory_limit:
            self.too_large_to_strip = True
            self._start_encrypting(self._memory)

    def seek(self, offset: int, whence: int = 0, /) -> int:
        """Accept the parser's rewind at the end of the part (there is nothing to reread)."""
        return 0

    def _start_encrypting(self, held: bytes | bytearray) -> None:
        """Encrypt ``held`` into a new blob and continue there with what follows."""
        self._memory = None
        self._blob = new_blob(self._settings)
        self._encryptor = Encryptor(self._blob.file, recipients=self._recipients, pad=True)
        self._encryptor.write(held)

    def _drop(self) -> None:
        self._memory = None
        self._encryptor = None
        if self._blob is not None:
            self._blob.discard()
            self._blob = None

    def discard(self) -> None:
        """Remove whatever was received and not handed over (idempotent)."""
        self._drop()

    def take_memory(self) -> bytes | None:
        """Return the file if it is held in memory (to be cleaned), and let go of it."""
        if self._memory is None:
            return None
        data = bytes(self._memory)
        self._memory = None
        return data

    def seal(self, cleaned: bytes | None) -> PendingBlob:
        """Finish the ciphertext and hand over its blob, which the caller then owns.

        ``cleaned`` is the file taken from memory (and cleaned); None when the file
        was encrypted as it arrived.
        """
        try:
            if cleaned is not None:
                self._start_encrypting(cleaned)
            if self._encryptor is None or self._blob is None:
                raise RuntimeError("nothing was received to seal")
            self._encryptor.close()
        except BaseException:
            self._drop()
            raise
        blob, self._blob, self._encryptor = self._blob, None, None
        return blob
