"""Blob storage: ciphertext files beside the database, committed together with their record.

Files live in ``<instance>/blobs/`` (mode 0700) under random names. A blob is written
to a temporary ``.part`` file in that folder, flushed to disk, and renamed to its final
name only when complete; the database row that names it is committed after the rename,
and any failure on the way removes the file. So a crash leaves at worst a file without a
record (found by :func:`find_orphans`), never a record without its ciphertext
(DESIGN §5, invariant 4). Only ciphertext is ever written here.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import Attachment
from .errors import NotFound

BLOB_DIR = "blobs"
PART_SUFFIX = ".part"
_NAME_BYTES = 16  # 128 random bits: names never collide and say nothing
_NAME = re.compile(r"[0-9a-f]{32}")
# A file younger than this may belong to an upload still in flight (written and renamed,
# its row not yet committed); orphan reports leave such files out.
ORPHAN_GRACE_SECONDS = 3600

T = TypeVar("T")


class BlobMissing(NotFound):
    """A record names a blob file that is not in the blob folder."""


def blob_dir(settings: Settings) -> Path:
    """Return the blob folder, creating it (owner-only) if needed."""
    folder = settings.instance_path / BLOB_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for an existing folder.
    if folder.stat().st_mode & 0o777 != 0o700:
        folder.chmod(0o700)
    return folder


def _blob_path(settings: Settings, name: str) -> Path:
    if not _NAME.fullmatch(name):
        # Names are ours; anything else (a path, say) never reaches the file system.
        raise BlobMissing(name)
    return blob_dir(settings) / name


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class PendingBlob:
    """A blob being written: a temporary file until :meth:`publish` renames it."""

    folder: Path
    file: BinaryIO
    temp_path: Path
    name: str = field(default_factory=lambda: secrets.token_hex(_NAME_BYTES))
    published: bool = False

    @property
    def path(self) -> Path:
        """Return the final path of the blob."""
        return self.folder / self.name

    def publish(self) -> int:
        """Flush the file to disk and give it its final name; return its size."""
        self.file.flush()
        os.fsync(self.file.fileno())
        size = os.fstat(self.file.fileno()).st_size
        self.file.close()
        # A file's modification time would say to the second when a source uploaded it
        # (invariant 2: source actions are kept to the day); date it to midnight UTC.
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        os.utime(self.temp_path, (midnight.timestamp(), midnight.timestamp()))
        os.replace(self.temp_path, self.path)
        self.published = True
        fsync_dir(self.folder)  # the rename itself must survive a crash
        # The folder's own time would date the newest upload just as well.
        os.utime(self.folder, (midnight.timestamp(), midnight.timestamp()))
        return size

    def discard(self) -> None:
        """Close and remove the file, under whichever name it has; idempotent."""
        with contextlib.suppress(OSError):
            self.file.close()
        for path in (self.temp_path, self.path if self.published else None):
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        self.published = False


def new_blob(settings: Settings) -> PendingBlob:
    """Return a fresh temporary blob file in the blob folder (owner-only)."""
    folder = blob_dir(settings)
    fd, temp_name = tempfile.mkstemp(prefix=".upload-", suffix=PART_SUFFIX, dir=folder)
    return PendingBlob(folder=folder, file=os.fdopen(fd, "wb"), temp_path=Path(temp_name))


def commit_with_blob(session: Session, blob: PendingBlob, make_record: Callable[[int], T]) -> T:
    """Publish ``blob``, then commit the record ``make_record(size)`` adds to ``session``.

    The record is committed only after the file is complete under its final name; if
    publishing, ``make_record`` or the commit fails, the transaction is rolled back and
    the file removed, so neither exists without the other.
    """
    try:
        size = blob.publish()
        record = make_record(size)
        session.commit()
    except BaseException:
        session.rollback()
        blob.discard()
        raise
    return record


def open_blob(settings: Settings, name: str) -> BinaryIO:
    """Open a stored blob for reading; raise :class:`BlobMissing` if it is not there."""
    try:
        return _blob_path(settings, name).open("rb")
    except FileNotFoundError as exc:
        raise BlobMissing(name) from exc


def remove_blob(settings: Settings, name: str) -> None:
    """Delete a blob file after its record was deleted and committed (no error if gone)."""
    with contextlib.suppress(FileNotFoundError):
        _blob_path(settings, name).unlink()


@dataclass(frozen=True)
class Orphans:
    """Blob files and records that lost each other, for an operator to look into."""

    files_without_record: list[str]
    records_without_file: list[int]  # attachment ids
    partial_files: list[str]  # uploads interrupted by a crash

    @property
    def clean(self) -> bool:
        """Return whether nothing was found."""
        return not (self.files_without_record or self.records_without_file or self.partial_files)


def find_orphans(
    session: Session, settings: Settings, *, grace_seconds: int = ORPHAN_GRACE_SECONDS
) -> Orphans:
    """Compare the blob folder with the attachment records.

    Files modified in the last ``grace_seconds`` are left out: they may belong to an
    upload that is between its rename and its commit. (Published blobs are dated to
    midnight, so one caught in the milliseconds between rename and commit could be listed;
    run the report again before acting on a file from today.)
    """
    folder = blob_dir(settings)
    recent = time.time() - grace_seconds
    files: set[str] = set()
    partial: list[str] = []
    for entry in os.scandir(folder):
        if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime > recent:
            continue
        if entry.name.endswith(PART_SUFFIX):
            partial.append(entry.name)
        else:
            files.add(entry.name)
    records = {
        name: id_ for name, id_ in session.execute(select(Attachment.blob_name, Attachment.id))
    }
    missing = [
        attachment_id for name, attachment_id in records.items() if not (folder / name).is_file()
    ]
    return Orphans(
        files_without_record=sorted(files - set(records)),
        records_without_file=sorted(missing),
        partial_files=sorted(partial),
    )
