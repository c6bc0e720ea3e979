"""Blob storage: ciphertext committed together with the record that names it.

Where a blob lives depends on the database (decision 25 in docs/decisions.md):

* **SQLite**: a file in ``<instance>/blobs/`` (mode 0700) under a random name. A blob is
  written to a temporary ``.part`` file in that folder, flushed to disk, and renamed to
  its final name only when complete; the database row that names it is committed after
  the rename, and if the transaction does not commit the file is removed. So a crash
  leaves at worst a file without a record (found by :func:`find_orphans`; ``dissent
  doctor --fix`` removes it), never a record without its ciphertext.
* **PostgreSQL**: rows of :class:`~dissent.models.BlobChunk` (at most :data:`CHUNK_BYTES`
  each), inserted in the transaction that adds the record, so the record and its bytes
  commit or vanish together and every app host sees the same blobs. The upload is still
  spooled to a ``.part`` file first (ciphertext only), which is removed once its chunks
  are written. A file left in the folder from before the move to PostgreSQL is read
  until ``dissent storage migrate`` has moved it (:mod:`dissent.services.blobs`).

Only ciphertext is ever written, to either place.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from sqlalchemy import Connection, Engine, delete, exists, func, insert, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import BlobChunk
from .errors import NotFound
from .keyring import all_file_names
from .transaction import on_commit, on_rollback

BLOB_DIR = "blobs"
PART_SUFFIX = ".part"
# On PostgreSQL a blob is rows of at most this many bytes: what one row costs in memory
# while a blob is written or read, whatever the blob's size.
CHUNK_BYTES = 1024 * 1024
# A download reads its blob's chunks in one snapshot (so a concurrent rewrite, an access
# grant, is never seen half-done); the reader's transaction may wait this long between
# two chunks for a slow client (1 MiB in 5 minutes is about 3.5 KB/s).
READ_IDLE_LIMIT_S = 300
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


def _date_to_the_day(path: Path) -> None:
    """Set the access and modification times of ``path`` to midnight UTC today."""
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    os.utime(path, (midnight, midnight))


def remove_dated(path: Path) -> bool:
    """Delete the file ``path`` in the blob folder, dating the folder to the day; return
    whether it was there.

    Removing a name sets its folder's modification time to the moment, which would date
    a source's action (a removal, a refused upload's spool) to the second, as a new blob
    would (invariant 2): every blob or part file is removed here, and the folder is then
    dated to midnight UTC, as :meth:`PendingBlob.publish` dates it. (Its change time
    cannot be set back: docs/threat-model.md.)
    """
    try:
        path.unlink()
    except FileNotFoundError:
        return False  # the folder did not change
    _date_to_the_day(path.parent)
    return True


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
        _date_to_the_day(self.temp_path)
        os.replace(self.temp_path, self.path)
        self.published = True
        fsync_dir(self.folder)  # the rename itself must survive a crash
        # The folder's own time would date the newest upload just as well.
        _date_to_the_day(self.folder)
        return size

    def discard(self) -> None:
        """Close and remove the file, under whichever name it has; idempotent."""
        with contextlib.suppress(OSError):
            self.file.close()
        for path in (self.temp_path, self.path if self.published else None):
            if path is not None:
                remove_dated(path)
        self.published = False


def new_blob(settings: Settings) -> PendingBlob:
    """Return a fresh temporary blob file in the blob folder (owner-only)."""
    folder = blob_dir(settings)
    fd, temp_name = tempfile.mkstemp(prefix=".upload-", suffix=PART_SUFFIX, dir=folder)
    return PendingBlob(folder=folder, file=os.fdopen(fd, "wb"), temp_path=Path(temp_name))


def in_database(session: Session) -> bool:
    """Return whether blobs are kept in the database (PostgreSQL) rather than as files."""
    return session.get_bind().dialect.name == "postgresql"


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def store(session: Session, blob: PendingBlob) -> int:
    """Make the finished ``blob`` the stored blob of its name; return its size.

    A file is renamed into place; chunks are inserted into the session's transaction
    (replacing the chunks of a blob of the same name, as an access grant does). On
    PostgreSQL a file of the same name left from before the move is removed once the
    transaction commits, its chunks now being the blob.
    """
    if not in_database(session):
        return blob.publish()
    blob.file.flush()
    blob.file.close()
    session.execute(delete(BlobChunk).where(BlobChunk.blob_name == blob.name))
    size, seq = 0, 0
    with blob.temp_path.open("rb") as spool:
        # At least one chunk, so that even an empty blob is there under its name.
        while (piece := spool.read(CHUNK_BYTES)) or seq == 0:
            session.execute(insert(BlobChunk).values(blob_name=blob.name, seq=seq, data=piece))
            size += len(piece)
            seq += 1
            if not piece:
                break
    blob.discard()  # the spool; the chunks now belong to the transaction
    on_commit(session, functools.partial(_remove_file, blob.folder, blob.name))
    return size


def publish_with_record(session: Session, blob: PendingBlob, make_record: Callable[[int], T]) -> T:
    """Store ``blob``, then add the record ``make_record(size)`` that names it.

    The blob is complete under its final name before its record can be committed; if
    storing or ``make_record`` fails, or the transaction later ends without committing,
    the blob is removed (a file is deleted, chunks are rolled back), so neither exists
    without the other.
    """
    try:
        size = store(session, blob)
        record = make_record(size)
        session.flush()
    except BaseException:
        blob.discard()
        raise
    on_rollback(session, blob.discard)
    return record


# A download holds one slice at a time, not a whole chunk.
READ_SLICE_BYTES = 256 * 1024
_SLICE_QUERY = (
    "SELECT substring(data FROM %s FOR %s) FROM blob_chunk WHERE blob_name = %s AND seq = %s"
)


class _ChunkReader(io.RawIOBase):
    """Reads a blob's chunks in order, one at a time, from one snapshot of the database."""

    def __init__(self, engine: Engine, name: str) -> None:
        super().__init__()
        self._name = name
        self._seq = 0
        self._offset = 0  # within chunk ``_seq``
        self._piece = memoryview(b"")
        self._conn: Connection | None = engine.connect().execution_options(
            isolation_level="REPEATABLE READ"
        )
        try:
            self._conn.exec_driver_sql(
                f"SET LOCAL idle_in_transaction_session_timeout = {READ_IDLE_LIMIT_S * 1000}"
            )
            if not self._next() and self._seq == 0:  # not even an empty first chunk
                raise BlobMissing(name)
        except BaseException:
            self.close()
            raise

    def _next(self) -> bool:
        """Fetch the next slice of the blob; return False at its end."""
        assert self._conn is not None
        # A slice of a chunk, in binary format, on psycopg's own cursor: a whole 1 MiB
        # chunk as text arrives as 2 MiB of hex that is then decoded, which costs the
        # worker several MiB for the length of a download (docs/performance.md).
        # Ciphertext does not compress, so PostgreSQL keeps it as is and reads only the
        # slice asked for.
        while True:
            with self._conn.connection.dbapi_connection.cursor(binary=True) as cursor:  # type: ignore[union-attr]
                cursor.execute(
                    _SLICE_QUERY, (self._offset + 1, READ_SLICE_BYTES, self._name, self._seq)
                )
                row = cursor.fetchone()
            if row is None:
                return False
            piece = row[0]
            if len(piece) < READ_SLICE_BYTES:  # the chunk's last slice: on to the next
                self._seq += 1
                self._offset = 0
            else:
                self._offset += len(piece)
            if piece:
                self._piece = memoryview(piece)
                return True

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._conn is None:
            raise ValueError("read from a closed blob")
        if not self._piece and not self._next():
            return 0
        n = min(len(buffer), len(self._piece))
        buffer[:n] = self._piece[:n]
        self._piece = self._piece[n:]
        return n

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                conn.rollback()
            conn.close()
        super().close()


def open_blob(session: Session, settings: Settings, name: str) -> BinaryIO:
    """Open a stored blob for reading; raise :class:`BlobMissing` if it is not there.

    On PostgreSQL the reader has its own connection and snapshot, so it may outlive
    the session's transaction (a download is sent after its audit entry committed).
    """
    if not _NAME.fullmatch(name):
        raise BlobMissing(name)
    if in_database(session):
        try:
            return cast(BinaryIO, io.BufferedReader(_ChunkReader(_engine(session), name)))
        except BlobMissing:
            pass  # perhaps a file not yet moved into the database: read it from there
    try:
        return _blob_path(settings, name).open("rb")
    except FileNotFoundError as exc:
        raise BlobMissing(name) from exc


def _remove_file(folder: Path, name: str) -> None:
    remove_dated(folder / name)


def remove_blob(session: Session, settings: Settings, name: str) -> None:
    """Delete a blob whose record is gone (no error if it is gone too).

    Chunks are deleted in the session's transaction, a file right away.
    """
    if not _NAME.fullmatch(name):
        raise BlobMissing(name)
    if in_database(session):
        session.execute(delete(BlobChunk).where(BlobChunk.blob_name == name))
    _remove_file(blob_dir(settings), name)


def remove_after_commit(session: Session, settings: Settings, names: Iterable[str]) -> None:
    """Delete these blobs with the transaction that deletes their records.

    Chunks are deleted in that transaction. Files go only once their records are gone for
    good: a crash in between leaves files without records, which :func:`find_orphans`
    reports, never the other way round.
    """
    names = list(names)
    if in_database(session) and names:
        for start in range(0, len(names), 500):
            batch = names[start : start + 500]
            session.execute(delete(BlobChunk).where(BlobChunk.blob_name.in_(batch)))
    folder = blob_dir(settings)
    for name in names:
        on_commit(session, functools.partial(_remove_file, folder, name))


def stored_names(session: Session, settings: Settings) -> set[str]:
    """Return the name of every blob stored, as chunks or as a file (part files aside)."""
    names = {entry.name for entry in os.scandir(blob_dir(settings)) if _NAME.fullmatch(entry.name)}
    if in_database(session):
        names.update(session.scalars(select(BlobChunk.blob_name).distinct()))
    return names


def chunks_stored(session: Session, name: str) -> bool:
    """Return whether the blob ``name`` has chunks in the database."""
    return bool(session.scalar(select(exists().where(BlobChunk.blob_name == name))))


def chunk_count(session: Session) -> int:
    """Return how many blobs have chunks in the database."""
    return session.scalar(select(func.count(BlobChunk.blob_name.distinct()))) or 0


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
    """Compare the stored blobs (files, and chunks on PostgreSQL) with their records.

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
    if in_database(session):
        # Chunks are committed with their record, so none should lack one; a file is
        # one not yet moved into the database (``dissent storage migrate``).
        files.update(session.scalars(select(BlobChunk.blob_name).distinct()))
    present = stored_names(session, settings)
    missing = [record_id for name, (_, record_id) in records.items() if name not in present]
    return Orphans(
        files_without_record=sorted(files - set(records)),
        records_without_file=sorted(missing),
        partial_files=sorted(partial),
    )


def is_blob_name(name: str) -> bool:
    """Return whether ``name`` is one dissent gives a blob file."""
    return _NAME.fullmatch(name) is not None


def remove_leftover(settings: Settings, name: str, session: Session | None = None) -> bool:
    """Delete the blob or part file ``name``; return whether it was there.

    Only for blobs :func:`find_orphans` reported: a part file, or a blob without a
    record. Given a session on PostgreSQL, the blob's chunks go too (in its transaction).
    """
    if not (is_blob_name(name) or (name.endswith(PART_SUFFIX) and Path(name).name == name)):
        # Anything else in the folder is not ours to delete.
        raise ValueError(f"{name!r} is not a blob or part file name")
    if session is not None and is_blob_name(name) and in_database(session):
        deleted = session.execute(delete(BlobChunk).where(BlobChunk.blob_name == name))
        if getattr(deleted, "rowcount", 0):
            _remove_file(blob_dir(settings), name)
            return True
    return remove_dated(blob_dir(settings) / name)


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
