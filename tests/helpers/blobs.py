"""Stored blobs as a test sees them, wherever the database keeps them.

On SQLite a blob is a file in the instance's blob folder; on PostgreSQL it is chunks in
the database (``dissent.services.storage``). Tests that look at, damage or remove a
stored blob do it through these helpers, so they hold on both databases.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert

from dissent.extensions import current_context, db
from dissent.models import BlobChunk
from dissent.services import storage


def in_database(app: Any) -> bool:
    """Return whether this app keeps blobs in its database (PostgreSQL)."""
    with app.app_context():
        return storage.in_database(db.session)


def blob_folder(app: Any) -> Path:
    """Return the instance's blob folder (the spool of uploads on PostgreSQL)."""
    with app.app_context():
        return storage.blob_dir(current_context().settings)


def folder_dated_to_the_day(app: Any) -> bool:
    """Return whether the blob folder's modification time is midnight UTC today: what a
    source did in it (a file added, removed or refused) is dated to the day only."""
    moment = datetime.fromtimestamp(blob_folder(app).stat().st_mtime, UTC)
    return moment == datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def stored_blobs(app: Any) -> set[str]:
    """Return the names of the blobs stored (files or chunks; not part files)."""
    with app.app_context():
        return storage.stored_names(db.session, current_context().settings)


def part_files(app: Any) -> list[str]:
    """Return the part files (uploads in flight or interrupted) in the blob folder."""
    return sorted(p.name for p in blob_folder(app).iterdir() if p.name.endswith(".part"))


def read_blob(app: Any, name: str) -> bytes:
    """Return the stored ciphertext of the blob ``name``."""
    with app.app_context(), storage.open_blob(db.session, current_context().settings, name) as f:
        return f.read()


def write_blob(app: Any, name: str, data: bytes) -> None:
    """Replace the stored bytes of the blob ``name`` (to damage it, say)."""
    with app.app_context():
        if storage.in_database(db.session):
            with db.unit() as session:
                session.execute(delete(BlobChunk).where(BlobChunk.blob_name == name))
                for seq, start in enumerate(range(0, len(data), storage.CHUNK_BYTES)):
                    piece = data[start : start + storage.CHUNK_BYTES]
                    session.execute(insert(BlobChunk).values(blob_name=name, seq=seq, data=piece))
            return
    (blob_folder(app) / name).write_bytes(data)


def delete_blob(app: Any, name: str) -> None:
    """Remove the blob ``name`` behind its record's back (a lost file, say)."""
    with app.app_context():
        if storage.in_database(db.session):
            with db.unit() as session:
                session.execute(delete(BlobChunk).where(BlobChunk.blob_name == name))
    (blob_folder(app) / name).unlink(missing_ok=True)
