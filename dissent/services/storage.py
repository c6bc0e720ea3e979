"""Blob storage: ciphertext files beside the database, committed together with their record.

Files live in ``<instance>/blobs/`` (mode 0700) under random names. A blob is written
to a temporary ``.part`` file in that folder, flushed to disk, and renamed to its final
name only when complete; the database row that names it is committed after the rename,
and if the transaction does not commit the file is removed. So a crash leaves at worst a
file without a record (found by :func:`find_orphans`), never a record without its
ciphertext. Only ciphertext is ever written here.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, TypeVar

from sqlalchemy.orm import Session

from ..config import Settings
from .errors import NotFound
from .keyring import all_file_names
from .transaction import on_commit, on_rollback

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
        # (invariant 2 in docs/architecture.md: a source's actions are kept to the day);
        # date it to midnight UTC.
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


def publish_with_record(session: Session, blob: PendingBlob, make_record: Callable[[int], T]) -> T:
    """Publish ``blob``, then add the record ``make_record(size)`` that names it.

    The file is complete under its final name before its record can be committed; if
    publishing or ``make_record`` fails, or the transaction later ends without
    committing, the file is removed, so neither exists without the other.
    """
    try:
        size = blob.publish()
        record = make_record(size)
        session.flush()
    except BaseException:
        blob.discard()
        raise
    on_rollback(session, blob.discard)
    return record


def open_blob(settings: Settings, name: str) -> BinaryIO:
    """Open a stored blob for reading; raise :class:`BlobMissing` if it is not there."""
    try:
        return _blob_path(settings, name).open("rb")
    except FileNotFoundError as exc:
        raise BlobMissing(name) from exc


def remove_blob(settings: Settings, name: str) -> None:
    """Delete a blob file whose record is gone (no error if the file is gone too)."""
    with contextlib.suppress(FileNotFoundError):
        _blob_path(settings, name).unlink()


def remove_after_commit(session: Session, settings: Settings, names: Iterable[str]) -> None:
    """Delete these blob files once the transaction that deletes their records commits.

    Files go only once their records are gone for good: a crash in between leaves files
    without records, which :func:`find_orphans` reports, never the other way round.
    """
    for name in list(names):
        on_commit(session, functools.partial(remove_blob, settings, name))


@dataclass(frozen=True)
class Orphans:
    """Blob files and records that lost each other, for an operator to look into."""

    files_without_record: list[str]
    records_without_file: list[int]  # ids of the records (attachments) that name them
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
    records = all_file_names(session)
    missing = [
        record_id for name, (_, record_id) in records.items() if not (folder / name).is_file()
    ]
    return Orphans(
        files_without_record=sorted(files - set(records)),
        records_without_file=sorted(missing),
        partial_files=sorted(partial),
    )
