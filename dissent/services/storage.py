"""Blob storage: ciphertext files beside the database, committed together with their record.

Files live in ``<instance>/blobs/`` (mode 0700) under random names. A blob is written
to a temporary ``.part`` file in that folder, flushed to disk, and renamed to its final
name only when complete; the database row that names it is committed after the rename,
and if the transaction does not commit the file is removed. So a crash leaves at worst a
file without a record (found by :func:`find_orphans`; ``dissent doctor --fix`` removes
it), never a record without its ciphertext. Only ciphertext is ever written here.
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
# A file written to in the last hour may belong to an upload still in flight: a part
# file is written to as each piece of its upload arrives, and a renamed file's row is
# committed moments later. An older part file belongs to an upload that stopped, and an
# older file without a row was left by a crash; orphan reports and clean-ups leave
# younger files alone.
ORPHAN_GRACE_SECONDS = 3600
_DAY_SECONDS = 86400

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


def _last_written(mtime: float) -> float:
    """Return the latest moment a file in the blob folder with this modification time
    may have been written to."""
    # publish() dates a file to midnight UTC (invariant 2), and it does so a moment
    # before the rename and the commit: such a time names only the day, and the file
    # may have been written at any time up to that day's end.
    return mtime + _DAY_SECONDS if mtime % _DAY_SECONDS == 0 else mtime


def _settled_files(folder: Path, *, grace_seconds: int, now: float | None) -> list[str]:
    """Return the names of the regular files in ``folder`` untouched for ``grace_seconds``."""
    recent = (time.time() if now is None else now) - grace_seconds
    settled = []
    for entry in os.scandir(folder):
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue  # an upload that ended (and removed its part) just now
        if _last_written(mtime) <= recent:
            settled.append(entry.name)
    return sorted(settled)


def find_orphans(
    session: Session,
    settings: Settings,
    *,
    grace_seconds: int = ORPHAN_GRACE_SECONDS,
    now: float | None = None,
) -> Orphans:
    """Compare the blob folder with the attachment records.

    Files written to in the last ``grace_seconds`` (before ``now``, a POSIX time,
    default the current one) are left out: they may belong to an upload in flight. A
    published blob is dated to midnight, so it counts as written at the end of its day.
    """
    folder = blob_dir(settings)
    files: set[str] = set()
    partial: list[str] = []
    for name in _settled_files(folder, grace_seconds=grace_seconds, now=now):
        if name.endswith(PART_SUFFIX):
            partial.append(name)
        else:
            files.add(name)
    records = all_file_names(session)
    missing = [
        record_id for name, (_, record_id) in records.items() if not (folder / name).is_file()
    ]
    return Orphans(
        files_without_record=sorted(files - set(records)),
        records_without_file=sorted(missing),
        partial_files=sorted(partial),
    )


def is_blob_name(name: str) -> bool:
    """Return whether ``name`` is one dissent gives a blob file."""
    return _NAME.fullmatch(name) is not None


def remove_leftover(settings: Settings, name: str) -> bool:
    """Delete the blob or part file ``name`` from the blob folder; return whether it was there.

    Only for files :func:`find_orphans` reported: a part file, or a blob without a record.
    """
    if not (is_blob_name(name) or (name.endswith(PART_SUFFIX) and Path(name).name == name)):
        # Anything else in the folder is not ours to delete.
        raise ValueError(f"{name!r} is not a blob or part file name")
    try:
        (blob_dir(settings) / name).unlink()
    except FileNotFoundError:
        return False
    return True


def stale_parts(
    settings: Settings, *, grace_seconds: int = ORPHAN_GRACE_SECONDS, now: float | None = None
) -> list[str]:
    """Return the part files of uploads that ended without finishing.

    A part file written to in the last ``grace_seconds`` belongs to an upload in flight
    and is not one of them.
    """
    return [
        name
        for name in _settled_files(blob_dir(settings), grace_seconds=grace_seconds, now=now)
        if name.endswith(PART_SUFFIX)
    ]


def remove_stale_parts(
    settings: Settings, *, grace_seconds: int = ORPHAN_GRACE_SECONDS, now: float | None = None
) -> int:
    """Delete the part files of uploads that ended without finishing; return how many."""
    stale = stale_parts(settings, grace_seconds=grace_seconds, now=now)
    return sum(remove_leftover(settings, name) for name in stale)
