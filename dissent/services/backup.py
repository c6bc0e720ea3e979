"""``dissent backup`` and ``dissent restore`` for an instance that keeps SQLite.

A backup is one tar archive: the instance file (``dissent.json``: the instance secrets,
without which no source could log in again), a consistent copy of the database taken
with SQLite's online backup, every attachment file the copy refers to, and
``backup.json`` with the SHA-256 of each of them. Content is ciphertext throughout, but
the instance file is secret: the archive is written readable by its owner only and must
be kept like the instance folder itself.

A restore goes into a new, empty folder and checks everything before that folder
appears: only the expected members, each with its recorded hash, and a database that
passes SQLite's integrity check and is at the schema revision the backup recorded.

PostgreSQL instances are backed up with ``pg_dump`` plus the instance file and blob
folder (docs/operations.md); this module refuses them rather than pretending.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import make_url

from ..config import INSTANCE_FILE, ConfigError, Settings, load_settings, read_instance_file
from ..models import today
from .keyring import file_kinds
from .storage import BLOB_DIR, fsync_dir

FORMAT = "dissent-backup/1"
MANIFEST = "backup.json"
DATABASE = "dissent.sqlite3"
_BLOB_NAME = re.compile(r"[0-9a-f]{32}")
MIB = 1024 * 1024
_CHUNK = 1024 * 1024
# backup.json lists every file with its hash (~100 bytes each): this allows millions.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024


class BackupError(Exception):
    """The backup or restore cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class BackupSummary:
    """What an archive holds."""

    path: Path
    observations: int
    attachments: int
    revision: str


def _sqlite_path(settings: Settings) -> Path:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(
            "this instance keeps its database in PostgreSQL: back it up with pg_dump, "
            "together with the instance folder's dissent.json and blobs/ "
            "(docs/operations.md, 'Backup and restore')"
        )
    return Path(url.database)


def _check_secrets_are_in_the_file(settings: Settings) -> None:
    """Refuse when the secrets in use are not the ones in dissent.json (they can be set
    in the environment): restoring the file would then lock every source out."""
    try:
        stored = load_settings({}, {"INSTANCE_PATH": str(settings.instance_path)})
    except ConfigError as exc:
        raise BackupError(f"the instance file cannot be backed up: {exc}") from exc
    if (
        stored.secret_key != settings.secret_key
        or stored.source_salt != settings.source_salt
        or stored.recovery_recipient != settings.recovery_recipient
    ):
        raise BackupError(
            "the instance secrets in use are not the ones in dissent.json (set in the "
            "environment?); a restore of this file would lock every source out. Put the "
            "secrets in use into dissent.json, then back up."
        )


class _Hashing(io.RawIOBase):
    """A reader that hashes what passes through it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.digest.update(data)
        return data


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = 0  # the archive says nothing about when each file was written
    return info


def _add(tar: tarfile.TarFile, name: str, path: Path) -> tuple[str, int]:
    """Archive the file at ``path``; return the SHA-256 and size of what was archived.

    One open handle gives the size, the bytes and the hash, so they agree even if the
    file is replaced meanwhile (an access grant renames a new attachment file over the
    old one; the handle keeps reading the old one whole).
    """
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        reader = _Hashing(handle)
        tar.addfile(_info(name, size), reader)
    return reader.digest.hexdigest(), size


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


@contextmanager
def _private_file_in_place(target: Path) -> Iterator[IO[bytes]]:
    """Yield a new owner-only file that becomes ``target`` if the block succeeds."""
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, target)  # unlike a rename, never replaces a file that exists
        except FileExistsError as exc:
            raise BackupError(f"{target} exists already; choose a new file name") from exc
    finally:
        Path(temporary).unlink(missing_ok=True)
    fsync_dir(target.parent)


def create_backup(settings: Settings, archive: Path) -> BackupSummary:
    """Write the instance's backup to the new file ``archive``."""
    try:
        return _create_backup(settings, archive)
    except OSError as exc:
        raise BackupError(f"cannot back up to {archive}: {exc.strerror or exc}") from exc
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy the database: {exc}") from exc


def _create_backup(settings: Settings, archive: Path) -> BackupSummary:
    database = _sqlite_path(settings)
    if archive.exists():
        raise BackupError(f"{archive} exists already; choose a new file name")
    if not archive.parent.is_dir():
        raise BackupError(f"{archive.parent} is not a folder")
    instance_file = settings.instance_path / INSTANCE_FILE
    if not instance_file.is_file():
        raise BackupError(f"{instance_file} is missing; a backup without it cannot be used")
    _check_secrets_are_in_the_file(settings)
    blobs = settings.instance_path / BLOB_DIR
    with tempfile.TemporaryDirectory(prefix=".dissent-backup-", dir=archive.parent) as work:
        snapshot = Path(work) / DATABASE
        _snapshot(database, snapshot)
        names, observations, revision = _contents(snapshot)
        odd = [name for name in names if not _BLOB_NAME.fullmatch(name)]
        if odd:
            raise BackupError(
                f"the database names an attachment file {odd[0]!r} "
                "that is not a blob name; nothing was written"
            )
        missing = [name for name in names if not (blobs / name).is_file()]
        if missing:
            raise BackupError(
                f"{len(missing)} attachment file(s) the database names are missing from "
                f"{blobs} (first: {missing[0]}); restore them from an earlier backup "
                "first. Nothing was written."
            )
        members = {INSTANCE_FILE: instance_file, DATABASE: snapshot}
        members.update({f"{BLOB_DIR}/{name}": blobs / name for name in names})
        hashes, sizes = {}, {}
        with (
            _private_file_in_place(archive) as handle,
            tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name, path in members.items():
                hashes[name], sizes[name] = _add(tar, name, path)
            # Last, so that it describes exactly the bytes archived above.
            manifest = {
                "format": FORMAT,
                "created_on": today().isoformat(),
                "revision": revision,
                "observations": observations,
                "attachments": len(names),
                "members": hashes,
                # Sizes let a restore refuse a too-large member, or a full disk, before
                # writing anything (archives without them are still restored).
                "sizes": sizes,
            }
            _add_bytes(tar, MANIFEST, (json.dumps(manifest) + "\n").encode())
    return BackupSummary(archive, observations, len(names), revision)


def _snapshot(database: Path, target: Path) -> None:
    """Copy the live database consistently (SQLite's online backup), owner-only."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    if not database.is_file():
        raise BackupError(f"the database {database} does not exist")
    # Opened like the server opens it (a read-only open of a WAL database can fail when
    # its -shm file is missing); the backup only reads from it.
    source = sqlite3.connect(database)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    finally:
        copy.close()
        source.close()


def _file_names(connection: sqlite3.Connection) -> list[str]:
    """Return the name of every blob file the database refers to (every kind kept as
    files, from the registry of ciphertexts)."""
    names: list[str] = []
    for kind in file_kinds():
        # Table and column names come from the models, never from input.
        query = f"SELECT {kind.column.key} FROM {kind.table}"  # noqa: S608
        names += [row[0] for row in connection.execute(query) if row[0] is not None]
    return names


def _contents(database: Path) -> tuple[list[str], int, str]:
    """Return the blob file names, the number of observations and the revision."""
    connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = _file_names(connection)
        observations = connection.execute("SELECT count(*) FROM observation").fetchone()[0]
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        connection.close()
    if row is None:
        raise BackupError("the database has no schema revision; run `dissent db upgrade`")
    return names, int(observations), str(row[0])


# --- restore ------------------------------------------------------------------------------


def restore_backup(archive: Path, instance: Path) -> BackupSummary:
    """Restore ``archive`` into the new (or empty) folder ``instance``."""
    try:
        return _restore_backup(archive, instance)
    except OSError as exc:
        raise BackupError(
            f"cannot restore {archive} into {instance}: {exc.strerror or exc}"
        ) from exc


def _restore_backup(archive: Path, instance: Path) -> BackupSummary:
    if instance.exists() and (not instance.is_dir() or any(instance.iterdir())):
        raise BackupError(f"{instance} is not an empty folder; restore into a new one")
    if not instance.parent.is_dir():
        raise BackupError(f"{instance.parent} is not a folder")
    try:
        with tarfile.open(archive, mode="r:") as tar:
            manifest = _read_manifest(tar)
            work = Path(tempfile.mkdtemp(prefix=f".{instance.name}.restore-", dir=instance.parent))
            try:
                _check_space(manifest, instance.parent)
                _extract(tar, manifest, work)
                _check_database(work / DATABASE, manifest["revision"], _blob_members(manifest))
                _point_at_restored_database(work)
                fsync_dir(work / BLOB_DIR)
                fsync_dir(work)
                if instance.exists():
                    instance.rmdir()
                os.replace(work, instance)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
    except tarfile.TarError as exc:
        raise BackupError(f"{archive} is not a dissent backup ({exc})") from exc
    fsync_dir(instance.parent)
    return BackupSummary(
        instance, int(manifest["observations"]), int(manifest["attachments"]), manifest["revision"]
    )


def _read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
    except KeyError as exc:
        raise BackupError("the archive has no backup.json: not a dissent backup") from exc
    if not member.isfile() or member.size > MAX_MANIFEST_BYTES:
        raise BackupError("backup.json in the archive is not a plain file of a sane size")
    handle = tar.extractfile(member)
    assert handle is not None  # a regular file, checked above
    try:
        manifest = json.loads(handle.read())
    except (ValueError, RecursionError) as exc:
        raise BackupError("backup.json in the archive is damaged") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"not a backup this version can restore (expected {FORMAT})")
    members = manifest.get("members")
    if not isinstance(members, dict) or INSTANCE_FILE not in members or DATABASE not in members:
        raise BackupError("backup.json in the archive does not list the instance and database")
    if not isinstance(manifest.get("revision"), str) or not all(
        isinstance(manifest.get(key), int) for key in ("observations", "attachments")
    ):
        raise BackupError("backup.json in the archive is incomplete")
    sizes = manifest.get("sizes")
    if sizes is not None and not (
        isinstance(sizes, dict)
        and set(sizes) == set(members)
        and all(isinstance(size, int) and size >= 0 for size in sizes.values())
    ):
        raise BackupError("backup.json in the archive lists sizes that do not match its files")
    for name in members:
        if name in (INSTANCE_FILE, DATABASE):
            continue
        folder, _, blob = name.partition("/")
        if folder != BLOB_DIR or not _BLOB_NAME.fullmatch(blob):
            raise BackupError(f"the archive names an unexpected file: {name!r}")
    return manifest


def _blob_members(manifest: dict[str, Any]) -> set[str]:
    prefix = BLOB_DIR + "/"
    return {name.removeprefix(prefix) for name in manifest["members"] if name.startswith(prefix)}


def _check_space(manifest: dict[str, Any], folder: Path) -> None:
    """Refuse before writing anything if the restored files would not fit."""
    sizes: dict[str, int] | None = manifest.get("sizes")
    if sizes is None:
        return
    needed, free = sum(sizes.values()), shutil.disk_usage(folder).free
    if needed > free:
        raise BackupError(
            f"the restore needs {needed / MIB:,.0f} MiB and {folder} has "
            f"{free / MIB:,.0f} MiB free; free some space or restore elsewhere"
        )


def _extract(tar: tarfile.TarFile, manifest: dict[str, Any], work: Path) -> None:
    """Write every listed member under ``work``, checking its hash; refuse anything else."""
    expected: dict[str, str] = manifest["members"]
    sizes: dict[str, int] | None = manifest.get("sizes")
    seen = set()
    (work / BLOB_DIR).mkdir(mode=0o700)
    for member in tar:
        if member.name == MANIFEST:
            continue
        if member.name not in expected or not member.isfile() or member.name in seen:
            raise BackupError(f"the archive holds an unexpected entry: {member.name!r}")
        if sizes is not None and member.size != sizes[member.name]:
            raise BackupError(f"{member.name} in the archive is not the size backup.json says")
        seen.add(member.name)
        source = tar.extractfile(member)
        assert source is not None  # a regular file, checked above
        digest = hashlib.sha256()
        fd = os.open(work / member.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected[member.name]:
            raise BackupError(f"{member.name} in the archive is damaged (its hash differs)")
    if seen != set(expected):
        missing = sorted(set(expected) - seen)
        raise BackupError(f"the archive lacks {len(missing)} listed file(s), e.g. {missing[0]}")


def _check_database(database: Path, revision: str, blobs: set[str]) -> None:
    """Check the restored database on its own and against the attachment files."""
    connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
        dangling = connection.execute("PRAGMA foreign_key_check").fetchall()
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        found = None if row is None else row[0]
        named = set(_file_names(connection))
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the database in the archive cannot be read: {exc}") from exc
    finally:
        connection.close()
    if verdict != "ok":
        raise BackupError(f"the database in the archive fails SQLite's integrity check: {verdict}")
    if dangling:
        table = dangling[0][0]
        raise BackupError(
            f"the database in the archive has {len(dangling)} row(s) that refer to rows it "
            f"does not hold (first in {table})"
        )
    if found != revision:
        raise BackupError("the database in the archive is not at the revision backup.json names")
    if named != blobs:
        missing, extra = sorted(named - blobs), sorted(blobs - named)
        raise BackupError(
            f"the database and the attachment files in the archive disagree: "
            f"{len(missing)} file(s) named but not in the archive, {len(extra)} in the "
            "archive but not named"
        )


def _point_at_restored_database(work: Path) -> None:
    """Check the restored instance file, and drop a SQLite ``database_url`` from it: the
    restored database lives in the instance folder, where the default URL finds it."""
    try:
        values = read_instance_file(work)
    except ConfigError as exc:
        raise BackupError(f"the instance file in the archive is damaged: {exc}") from exc
    if str(values.get("database_url", "")).startswith("sqlite"):
        del values["database_url"]
        path = work / INSTANCE_FILE
        replacement = work / (INSTANCE_FILE + ".new")
        fd = os.open(replacement, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(values, indent=2) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(replacement, path)
