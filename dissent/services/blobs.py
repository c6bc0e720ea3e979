"""Moving blob files into PostgreSQL: ``dissent storage migrate``.

An instance that started on SQLite, or before attachments were kept in PostgreSQL, has
its ciphertexts as files in ``<instance>/blobs/``. Until they are moved, the app still
reads them from there (``services/storage.py``), so an instance keeps working during
the move; but only one host holds them. The move takes one file at a time, each in its
own transaction: the file's bytes go in as chunks, are read back in the same
transaction and compared by SHA-256 with the file, and the file is deleted only after
that transaction committed. A move that stops half-way (a crash, Ctrl-C, a full disk)
is taken up again by running the command once more: a file whose chunks are already in
the database is compared and then deleted, never copied twice.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import BlobChunk
from . import storage
from .keyring import all_file_names
from .storage import blob_dir, fsync_dir, in_database, is_blob_name


class StorageError(Exception):
    """The blobs cannot be moved (the database is not PostgreSQL, say)."""


@dataclass
class MoveSummary:
    """What a run of ``dissent storage migrate`` did (or, dry, would do)."""

    moved: list[str] = field(default_factory=list)
    already_there: list[str] = field(default_factory=list)  # chunks in place; file removed
    without_record: list[str] = field(default_factory=list)  # left for `dissent doctor`
    differing: list[str] = field(default_factory=list)  # chunks and file disagree: kept both
    moved_bytes: int = 0


def _chunk_digest(session: Session, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    seqs = session.scalars(
        select(BlobChunk.seq).where(BlobChunk.blob_name == name).order_by(BlobChunk.seq)
    ).all()
    for seq in seqs:  # one chunk in memory at a time
        data = session.scalar(
            select(BlobChunk.data).where(BlobChunk.blob_name == name, BlobChunk.seq == seq)
        )
        assert data is not None
        digest.update(data)
        size += len(data)
    return digest.hexdigest(), size


def _file_digest(path: os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while piece := handle.read(storage.CHUNK_BYTES):
            digest.update(piece)
    return digest.hexdigest()


def _copy_in(session: Session, name: str, path: os.PathLike[str]) -> tuple[str, int]:
    """Insert the file's bytes as chunks; return their SHA-256 and size."""
    digest, size, seq = hashlib.sha256(), 0, 0
    with open(path, "rb") as handle:
        while (piece := handle.read(storage.CHUNK_BYTES)) or seq == 0:
            session.execute(insert(BlobChunk).values(blob_name=name, seq=seq, data=piece))
            digest.update(piece)
            size += len(piece)
            seq += 1
            if not piece:
                break
    return digest.hexdigest(), size


def move_files(
    make_session: Callable[[], Session],
    settings: Settings,
    *,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> MoveSummary:
    """Move every blob file that a record names into the database; see the module text.

    ``make_session`` returns a new session; each file is moved in a transaction of its
    own. ``progress`` is told each file's name once it is done (names say nothing).
    """
    summary = MoveSummary()
    with make_session() as session:
        if not in_database(session):
            raise StorageError(
                "blobs are kept in the database only on PostgreSQL; this instance uses "
                f"{session.get_bind().dialect.name}, which keeps them as files"
            )
        named = set(all_file_names(session))
    folder = blob_dir(settings)
    names = sorted(entry.name for entry in os.scandir(folder) if is_blob_name(entry.name))
    for name in names:
        if name not in named:
            summary.without_record.append(name)
            continue
        path = folder / name
        with make_session() as session, session.begin():
            file_digest = _file_digest(path)
            existing = session.scalar(select(BlobChunk.seq).where(BlobChunk.blob_name == name))
            if existing is not None:
                stored, _ = _chunk_digest(session, name)
                if stored != file_digest:
                    summary.differing.append(name)
                    continue
                summary.already_there.append(name)
            elif dry_run:
                summary.moved.append(name)
                summary.moved_bytes += path.stat().st_size
                continue
            else:
                written, size = _copy_in(session, name, path)
                read_back, _ = _chunk_digest(session, name)
                if not written == read_back == file_digest:
                    # The file changed under us, or the database returned other bytes.
                    session.execute(delete(BlobChunk).where(BlobChunk.blob_name == name))
                    summary.differing.append(name)
                    continue
                summary.moved.append(name)
                summary.moved_bytes += size
        if dry_run:
            continue
        # Committed and verified: the chunks are the blob now.
        path.unlink(missing_ok=True)
        fsync_dir(folder)
        if progress is not None:
            progress(name)
    return summary
