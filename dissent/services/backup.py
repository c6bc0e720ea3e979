"""``dissent backup`` and ``dissent restore``, for SQLite and PostgreSQL instances.

A backup is one tar archive: the instance file (``dissent.json``: the instance secrets,
without which no source could log in again), a consistent copy of the database, every
attachment file the copy refers to, and ``backup.json`` with the SHA-256 and size of each
of them. The copy is made with SQLite's online backup, or on PostgreSQL with ``pg_dump``
(custom format) from an exported snapshot, the same snapshot the attachment names are
read from. Content is ciphertext throughout, but the instance file is secret: the
archive is written readable by its owner only and must be kept like the instance folder.

A restore goes into a new, empty folder (and, for a PostgreSQL archive, a new, empty
database the operator names) and checks everything before that folder appears: only the
expected members, each with its recorded hash; a database that passes SQLite's integrity
check (or that ``pg_restore`` loads whole, in one transaction), is at the schema revision
the backup recorded, names exactly the archived attachment files and holds an audit
ledger that verifies. The restore is then an entry in that ledger. A refused restore
leaves no folder behind, and empties the database it had filled.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, make_url, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from ..config import INSTANCE_FILE, ConfigError, Settings, load_settings, read_instance_file
from ..database import make_engine
from ..models import BlobChunk, today
from . import audit
from .keyring import file_kinds
from .storage import BLOB_DIR, fsync_dir

FORMAT = "dissent-backup/1"
MANIFEST = "backup.json"
DATABASE = "dissent.sqlite3"
PG_DUMP = "dissent.pgdump"  # in place of DATABASE: pg_dump's custom format
_BLOB_NAME = re.compile(r"[0-9a-f]{32}")
MIB = 1024 * 1024
_CHUNK = 1024 * 1024
# backup.json lists every file with its hash (~100 bytes each): this allows millions.
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
# Owner and grants belong to the server the dump came from; the restoring role owns all.
_PG_PORTABLE = ("--no-owner", "--no-privileges")
_PG_CLIENT = "postgresql-client"  # the Debian package that holds pg_dump and pg_restore


class BackupError(Exception):
    """The backup or restore cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class BackupSummary:
    """What an archive holds."""

    path: Path
    observations: int
    attachments: int
    revision: str


def _backend(url: str) -> str:
    """Return ``"sqlite"`` or ``"postgresql"`` for a database URL; refuse any other."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise BackupError("the database URL cannot be read") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        return backend
    if backend == "postgresql" and parsed.database:
        return backend
    raise BackupError(
        f"cannot back up or restore a {backend} database: dissent backs up an SQLite "
        "file or a named PostgreSQL database"
    )


def _shown(url: str) -> str:
    """Return ``url`` as it may be shown: without its password."""
    return make_url(url).render_as_string(hide_password=True)


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
    except SQLAlchemyError as exc:
        # The type only: a driver's message can quote the statement and its values.
        raise BackupError(
            f"cannot read the database {_shown(settings.database_url)} ({type(exc).__name__})"
        ) from exc


def _create_backup(settings: Settings, archive: Path) -> BackupSummary:
    if _backend(settings.database_url) == "postgresql":
        _tool("pg_dump")  # before anything is written
    if archive.exists():
        raise BackupError(f"{archive} exists already; choose a new file name")
    if not archive.parent.is_dir():
        raise BackupError(f"{archive.parent} is not a folder")
    instance_file = settings.instance_path / INSTANCE_FILE
    if not instance_file.is_file():
        raise BackupError(f"{instance_file} is missing; a backup without it cannot be used")
    _check_secrets_are_in_the_file(settings)
    with tempfile.TemporaryDirectory(prefix=".dissent-backup-", dir=archive.parent) as work:
        copy, names, chunked, observations, revision = _copy_database(
            settings.database_url, Path(work)
        )
        blobs = settings.instance_path / BLOB_DIR
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
        members = {INSTANCE_FILE: instance_file, copy.name: copy}
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
                "attachments": len(names) + chunked,
                "members": hashes,
                # Sizes let a restore refuse a too-large member, or a full disk, before
                # writing anything (archives without them are still restored).
                "sizes": sizes,
            }
            _add_bytes(tar, MANIFEST, (json.dumps(manifest) + "\n").encode())
    return BackupSummary(archive, observations, len(names) + chunked, revision)


def _copy_database(url: str, work: Path) -> tuple[Path, list[str], int, int, str]:
    """Copy the live database at ``url`` consistently into ``work``; return the copy, the
    blob files it names, its number of observations and its schema revision."""
    if _backend(url) == "postgresql":
        copy = work / PG_DUMP
        with _exported_snapshot(url) as (connection, snapshot):
            names, chunked, observations, revision = _contents_of(connection)
            _dump(url, snapshot, copy)
    else:
        copy = work / DATABASE
        _snapshot(Path(str(make_url(url).database)), copy)
        names, observations, revision = _contents(copy)
        chunked = 0  # SQLite keeps every blob as a file
    return copy, names, chunked, observations, revision


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


# --- PostgreSQL ---------------------------------------------------------------------------


def _tool(name: str) -> str:
    """Return the path of the PostgreSQL client program ``name``, or say how to get it."""
    program = shutil.which(name)
    if program is None:
        raise BackupError(
            f"{name} is not installed: install {_PG_CLIENT} (apt-get install {_PG_CLIENT}), "
            "at least the PostgreSQL server's version"
        )
    return program


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """Return ``url`` as libpq reads it, without its password, and the environment that
    carries the password to the child (a command line is visible to every local user)."""
    parsed: URL = make_url(url)
    environment = dict(os.environ)
    if parsed.password is not None:
        environment["PGPASSWORD"] = str(parsed.password)
    # URL.set cannot take a password away (None there means "unchanged").
    plain = URL.create(
        "postgresql",
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return plain.render_as_string(hide_password=False), environment


def _run(tool: str, *arguments: str, url: str, after: str) -> None:
    """Run the client program ``tool`` against the database at ``url``; refuse on failure,
    saying what ``after`` the failure is true (what was left behind)."""
    program = _tool(tool)
    target, environment = _libpq(url)
    try:
        # Its output is not shown, not even on failure: pg_restore quotes the rows it
        # could not load.
        completed = subprocess.run(  # noqa: S603 - a fixed program, no shell
            [program, "--no-password", f"--dbname={target}", *arguments],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    except OSError as exc:
        raise BackupError(f"cannot run {program}: {exc.strerror or exc}") from exc
    if completed.returncode != 0:
        raise BackupError(
            f"{tool} failed with exit code {completed.returncode} on {_shown(url)}; {after}. "
            f"Run {tool} by hand to see why (a common cause: a {tool} older than the server)"
        )


@contextmanager
def _exported_snapshot(url: str) -> Iterator[tuple[Connection, str]]:
    """Yield a read-only connection to the live database and the name of its snapshot.

    pg_dump is given the snapshot, so the dump holds exactly the rows the connection
    sees, and the attachment names read here are the ones the dump names.
    """
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            with connection.begin():
                # The transaction idles while pg_dump runs, for as long as the dump
                # takes; a server that ends idle transactions would end it too early.
                connection.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
                snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                yield connection, str(snapshot)
    finally:
        engine.dispose()


def _named_blobs(connection: Connection | Session) -> tuple[list[str], int]:
    """Return the name of every blob the database refers to that is kept as a file, and
    the number of those kept in the database itself (on PostgreSQL, whose dump holds
    them)."""
    names: list[str] = []
    for kind in file_kinds():
        names += [name for name in connection.scalars(select(kind.column)) if name is not None]
    bind = connection if isinstance(connection, Connection) else connection.get_bind()
    if (
        bind.dialect.name != "postgresql"
        or not connection.execute(text("SELECT to_regclass('blob_chunk') IS NOT NULL")).scalar()
    ):
        return names, 0
    in_database = set(connection.scalars(select(BlobChunk.blob_name).distinct()))
    files = [name for name in names if name not in in_database]
    return files, len(names) - len(files)


def _contents_of(connection: Connection) -> tuple[list[str], int, int, str]:
    """Return the blob file names, the number of blobs in the database, the number of
    observations and the revision."""
    names, chunked = _named_blobs(connection)
    observations = connection.execute(text("SELECT count(*) FROM observation")).scalar_one()
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if revision is None:
        raise BackupError("the database has no schema revision; run `dissent db upgrade`")
    return names, chunked, int(observations), str(revision)


def _dump(url: str, snapshot: str, target: Path) -> None:
    """Dump the database at ``url`` as it is in ``snapshot`` to ``target``, owner-only."""
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    _run(
        "pg_dump",
        "--format=custom",
        *_PG_PORTABLE,
        f"--snapshot={snapshot}",
        f"--file={target}",
        url=url,
        after="nothing was written",
    )


# Everything a restore could have created, in the schemas a database's users create
# things in, as (kind, quoted name) to drop: other schemas whole, then what is in public.
_USER_OBJECTS = text(
    r"""
    SELECT 'SCHEMA', format('%I', nspname) FROM pg_namespace
     WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\_%'
    UNION ALL
    SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'c' THEN 'TYPE'
                ELSE 'TABLE' END,
           format('%I.%I', n.nspname, c.relname)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
    UNION ALL
    SELECT 'ROUTINE', format('%I.%I(%s)', n.nspname, p.proname,
                             pg_get_function_identity_arguments(p.oid))
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'public'
    UNION ALL
    SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END,
           format('%I.%I', n.nspname, t.typname)
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = 'public' AND t.typtype IN ('d', 'e', 'r', 'm')
    """
)


def _refuse_a_used_database(url: str) -> None:
    """Refuse unless the database at ``url`` exists, can be reached and is empty."""
    try:
        engine = make_engine(url)  # ImportError: a driver that is not installed
        try:
            with engine.connect() as connection:
                found = connection.execute(_USER_OBJECTS).all()
        finally:
            engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        raise BackupError(
            f"cannot reach the database {_shown(url)} ({type(exc).__name__}); create it "
            "(createdb) and check the URL"
        ) from exc
    if found:
        raise BackupError(
            f"the database {_shown(url)} is not empty ({len(found)} tables, sequences or "
            "other objects); restore into a new, empty database (createdb NEWDB)"
        )


def _load_dump(dump: Path, url: str) -> None:
    """Load the dump into the (empty) database at ``url``: all of it or, failing, nothing."""
    _run(
        "pg_restore",
        *_PG_PORTABLE,
        "--single-transaction",
        "--exit-on-error",
        str(dump),
        url=url,
        after="nothing was restored",
    )


def _empty_again(url: str) -> bool:
    """Drop everything in the database at ``url`` (which was empty before the restore
    filled it); return whether that worked."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for kind, name in connection.execute(_USER_OBJECTS).all():
                # Quoted by the server (format %I); IF EXISTS: a CASCADE took it already.
                connection.execute(text(f"DROP {kind} IF EXISTS {name} CASCADE"))
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return True


# --- restore ------------------------------------------------------------------------------


def restore_backup(
    archive: Path, instance: Path, *, database_url: str | None = None
) -> BackupSummary:
    """Restore ``archive`` into the new (or empty) folder ``instance``; an archive of a
    PostgreSQL instance goes into the new, empty database at ``database_url``."""
    try:
        return _restore_backup(archive, instance, database_url)
    except OSError as exc:
        raise BackupError(
            f"cannot restore {archive} into {instance}: {exc.strerror or exc}"
        ) from exc


def _restore_backup(archive: Path, instance: Path, database_url: str | None) -> BackupSummary:
    if instance.exists() and (not instance.is_dir() or any(instance.iterdir())):
        raise BackupError(f"{instance} is not an empty folder; restore into a new one")
    if not instance.parent.is_dir():
        raise BackupError(f"{instance.parent} is not a folder")
    if database_url is not None and _backend(database_url) != "postgresql":
        raise BackupError(
            "--database-url names the new PostgreSQL database to restore into "
            "(postgresql+psycopg://USER@HOST/NEWDB)"
        )
    try:
        with tarfile.open(archive, mode="r:") as tar:
            manifest = _read_manifest(tar)
            _check_database_to_restore_into(manifest, database_url)
            work = Path(tempfile.mkdtemp(prefix=f".{instance.name}.restore-", dir=instance.parent))
            filled: str | None = None  # the database the restore has written to
            try:
                _check_space(manifest, instance.parent)
                _extract(tar, manifest, work)
                _point_at_restored_database(work, database_url)
                if database_url is None:
                    _check_sqlite(work / DATABASE)
                    restored = f"sqlite:///{work / DATABASE}"
                else:
                    filled = database_url
                    _load_dump(work / PG_DUMP, database_url)
                    (work / PG_DUMP).unlink()  # the database holds it now
                    restored = database_url
                _check_and_record_restore(restored, manifest["revision"], _blob_members(manifest))
                fsync_dir(work / BLOB_DIR)
                fsync_dir(work)
                if instance.exists():
                    instance.rmdir()
                os.replace(work, instance)
            except BaseException as exc:
                shutil.rmtree(work, ignore_errors=True)
                if filled and not _empty_again(filled) and isinstance(exc, BackupError):
                    raise BackupError(
                        f"{exc}; and the database {_shown(filled)} could not be "
                        "emptied again: drop it and create it anew before retrying"
                    ) from exc
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
    if (
        not isinstance(members, dict)
        or INSTANCE_FILE not in members
        or (DATABASE in members) == (PG_DUMP in members)
    ):
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
        if name in (INSTANCE_FILE, DATABASE, PG_DUMP):
            continue
        folder, _, blob = name.partition("/")
        if folder != BLOB_DIR or not _BLOB_NAME.fullmatch(blob):
            raise BackupError(f"the archive names an unexpected file: {name!r}")
    return manifest


def _check_database_to_restore_into(manifest: dict[str, Any], database_url: str | None) -> None:
    """Refuse, before anything is written, a restore whose database has nowhere to go."""
    if PG_DUMP not in manifest["members"]:
        if database_url is not None:
            raise BackupError(
                "the archive holds an SQLite database, which is restored into the instance "
                "folder; leave out --database-url"
            )
        return
    if database_url is None:
        raise BackupError(
            "the archive holds a PostgreSQL database: name a new, empty database to "
            "restore it into with --database-url postgresql+psycopg://USER@HOST/NEWDB"
        )
    _tool("pg_restore")
    _refuse_a_used_database(database_url)


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


def _check_sqlite(database: Path) -> None:
    """Check the restored SQLite file with SQLite's own integrity and reference checks."""
    connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
        dangling = connection.execute("PRAGMA foreign_key_check").fetchall()
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


def _check_and_record_restore(url: str, revision: str, blobs: set[str]) -> None:
    """Check the restored database against backup.json, the attachment files and its own
    audit ledger; then record the restore in that ledger."""
    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            found = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if found != revision:
                raise BackupError(
                    "the database in the archive is not at the revision backup.json names"
                )
            named = set(_named_blobs(session)[0])
            if named != blobs:
                missing, extra = sorted(named - blobs), sorted(blobs - named)
                raise BackupError(
                    f"the database and the attachment files in the archive disagree: "
                    f"{len(missing)} file(s) named but not in the archive, {len(extra)} in "
                    "the archive but not named"
                )
            ledger = audit.verify_chain(session)
            if not ledger.ok:
                # A restore would start a new history on top of a broken one.
                raise BackupError(
                    f"the audit ledger in the archive does not verify ({ledger.problem}); "
                    "run `dissent audit verify` on the instance it came from. Nothing "
                    "was restored"
                )
            audit.record(session, actor="cli", action=audit.Action.RESTORE)
    except SQLAlchemyError as exc:
        # The type only: a driver's message can quote the statement and its values.
        raise BackupError(
            f"the database in the archive cannot be read ({type(exc).__name__})"
        ) from exc
    finally:
        engine.dispose()


def _point_at_restored_database(work: Path, database_url: str | None) -> None:
    """Check the restored instance file, and make it name the restored database: the new
    PostgreSQL database given, or (no ``database_url`` in the file) the SQLite file in
    the instance folder, where the default URL finds it."""
    try:
        values = read_instance_file(work)
    except ConfigError as exc:
        raise BackupError(f"the instance file in the archive is damaged: {exc}") from exc
    if database_url is not None:
        values["database_url"] = database_url
    elif "database_url" in values:
        del values["database_url"]
    else:
        return
    path = work / INSTANCE_FILE
    replacement = work / (INSTANCE_FILE + ".new")
    fd = os.open(replacement, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(values, indent=2) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(replacement, path)
