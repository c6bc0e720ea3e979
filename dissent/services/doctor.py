"""What ``dissent doctor`` checks: each problem of an instance, with the command that fixes it.

A finding names files, revisions, addresses and amounts only; never content, codenames
or secrets (invariants 1 and 3 in docs/architecture.md), so its line can go to a cron
mail or a monitoring system.
"""

from __future__ import annotations

import enum
import shutil
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from ..config import INSTANCE_FILE, Settings
from ..migrate import alembic_config
from ..models import AuditEntry
from .storage import (
    blob_dir,
    find_orphans,
    in_database,
    is_blob_name,
    remove_leftover,
    stale_parts,
)

GIB = 1024**3
# Below this, an attachment upload (up to 200 MiB, written while it arrives), a backup
# or a migration may not fit, and SQLite cannot finish a transaction.
MIN_FREE_DISK_BYTES = 1 * GIB
# Hosts whose clocks are kept by NTP differ by far less; deadlines count in days, so a
# clock this far behind the newest stored time went backwards.
CLOCK_TOLERANCE = timedelta(minutes=5)
# Redis is on the local network: an answer takes milliseconds or does not come.
REDIS_TIMEOUT_SECONDS = 3

UPGRADE = "dissent db upgrade"
REMOVE_LEFTOVERS = "dissent doctor --fix"


@dataclass(frozen=True)
class Finding:
    """One problem: which check found it, what it is, and the command that fixes it."""

    check: str
    problem: str
    fix: str
    # A file in the blob folder that ``dissent doctor --fix`` removes.
    leftover: Path | None = None

    @property
    def line(self) -> str:
        """Return the finding as the one line ``dissent doctor`` prints."""
        return f"{self.check}: {self.problem}; fix: {self.fix}"


class SchemaStatus(enum.Enum):
    """Where a database's schema stands against this release's migrations."""

    CURRENT = "current"
    EMPTY = "empty"  # never migrated
    BEHIND = "behind"  # `dissent db upgrade` brings it to the latest
    UNKNOWN = "unknown"  # at a revision this release does not ship (a newer one's)


@dataclass(frozen=True)
class Schema:
    """The revisions a database records and the latest this release ships."""

    current: tuple[str, ...]
    head: tuple[str, ...]
    known: bool

    @property
    def status(self) -> SchemaStatus:
        """Return where the schema stands."""
        if not self.current:
            return SchemaStatus.EMPTY
        if not self.known:
            return SchemaStatus.UNKNOWN
        if set(self.current) == set(self.head):
            return SchemaStatus.CURRENT
        return SchemaStatus.BEHIND

    def finding(self) -> Finding | None:
        """Return the problem with this schema, or ``None`` when it is the latest."""
        current, head = ", ".join(self.current), ", ".join(self.head)
        match self.status:
            case SchemaStatus.CURRENT:
                return None
            case SchemaStatus.EMPTY:
                return Finding("schema", "the database has no schema yet", UPGRADE)
            case SchemaStatus.BEHIND:
                return Finding(
                    "schema",
                    f"the database schema is at revision {current}, behind this release's {head}",
                    UPGRADE,
                )
            case SchemaStatus.UNKNOWN:
                return Finding(
                    "schema",
                    f"the database schema is at revision {current}, which this release "
                    f"(latest {head}) does not know: a newer release migrated it",
                    "install that newer release again",
                )


def schema_of(engine: Engine) -> Schema:
    """Return the schema revisions of the database behind ``engine``.

    Raises :class:`sqlalchemy.exc.SQLAlchemyError` when the database cannot be reached.
    """
    script = ScriptDirectory.from_config(alembic_config())
    known = {revision.revision for revision in script.walk_revisions()}
    with engine.connect() as connection:
        current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    return Schema(
        current=current,
        head=tuple(sorted(script.get_heads())),
        known=all(revision in known for revision in current),
    )


def unreachable_database(engine: Engine, exc: SQLAlchemyError) -> Finding:
    """Return the finding for a database that did not answer with ``exc``."""
    shown = engine.url.render_as_string(hide_password=True)
    reason = type(exc).__name__
    if isinstance(exc, DBAPIError) and str(exc.orig).strip():
        # The driver's own first line ("connection refused", "no such database"); it
        # names servers and users, never passwords.
        reason = str(exc.orig).strip().splitlines()[0]
    return Finding(
        "database",
        f"cannot reach the database {shown} ({reason})",
        f"start the database server, or correct DATABASE_URL (or database_url in {INSTANCE_FILE})",
    )


def check_database(engine: Engine) -> list[Finding]:
    """Return a finding if the database does not answer."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return [unreachable_database(engine, exc)]
    return []


def check_schema(engine: Engine) -> list[Finding]:
    """Return a finding if the schema is not this release's latest."""
    try:
        finding = schema_of(engine).finding()
    except SQLAlchemyError as exc:
        return [unreachable_database(engine, exc)]
    return [] if finding is None else [finding]


def check_secrets_file(settings: Settings) -> list[Finding]:
    """Return a finding if the instance file, which holds the secrets, is open to others."""
    path = settings.instance_path / INSTANCE_FILE
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return []  # the secrets come from the environment
    if mode & 0o077 == 0:
        return []
    return [
        Finding(
            "secrets",
            f"{path} has mode {mode:04o}, not 0600: users other than its owner may read "
            "or change the instance secrets",
            f"chmod 600 {path}",
        )
    ]


def _redis_address(url: str) -> str:
    """Return where ``url`` points (host and port, or a socket), without its password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def check_redis(settings: Settings) -> list[Finding]:
    """Return a finding if Redis is configured and does not answer."""
    if not settings.redis_url:
        return []
    import redis

    client = redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return [
            Finding(
                "redis",
                f"cannot reach Redis at {_redis_address(settings.redis_url)} "
                f"({type(exc).__name__}): no sessions or logins work",
                f"start Redis, or correct REDIS_URL (or redis_url in {INSTANCE_FILE})",
            )
        ]
    finally:
        client.close()
    return []


def _existing(path: Path) -> Path:
    """Return ``path`` or its nearest folder that exists."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def check_disk(settings: Settings, *, min_free_bytes: int = MIN_FREE_DISK_BYTES) -> list[Finding]:
    """Return a finding if the disk of the instance folder has less than ``min_free_bytes``."""
    folder = _existing(settings.instance_path)
    free = shutil.disk_usage(folder).free
    if free >= min_free_bytes:
        return []
    return [
        Finding(
            "disk",
            f"{free / GIB:.2f} GiB free on the disk of {folder}, under "
            f"{min_free_bytes / GIB:.2f} GiB: uploads, backups and migrations may fail",
            "free space on that disk (move backups and exports elsewhere; `dissent purge` "
            "deletes what your retention rule allows)",
        )
    ]


def _duration(delta: timedelta) -> str:
    """Return ``delta`` in words an operator reads at a glance ("3 h 12 min")."""
    minutes = int(delta.total_seconds() // 60)
    if minutes >= 24 * 60:
        return f"{minutes // (24 * 60)} day(s)"
    if minutes >= 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes} min"


def check_clock(session: Session, *, now: datetime) -> list[Finding]:
    """Return a finding if ``now`` (the system clock) is before the newest audit entry.

    A clock that went backwards makes deadlines late and sessions outlive their limit.
    """
    newest = session.scalar(select(func.max(AuditEntry.at)))
    if newest is None or now >= newest - CLOCK_TOLERANCE:
        return []
    return [
        Finding(
            "clock",
            f"the system clock is {_duration(newest - now)} behind the newest audit entry: "
            "it went backwards, and deadlines and session limits go wrong",
            "timedatectl set-ntp true, then check the time with timedatectl status",
        )
    ]


def _stale_part(folder: Path, name: str) -> Finding:
    return Finding(
        "blobs",
        f"{folder / name} is left from an upload that did not finish",
        REMOVE_LEFTOVERS,
        leftover=folder / name,
    )


def check_parts(settings: Settings, *, now: datetime) -> list[Finding]:
    """Return a finding for each part file of an upload that ended without finishing."""
    folder = blob_dir(settings)
    return [_stale_part(folder, name) for name in stale_parts(settings, now=now.timestamp())]


def check_blobs(session: Session, settings: Settings, *, now: datetime) -> list[Finding]:
    """Return a finding for each blob file without a record, part file left by an
    unfinished upload, record without its file, and file that is not dissent's."""
    folder = blob_dir(settings)
    orphans = find_orphans(session, settings, now=now.timestamp())
    findings = []
    for name in orphans.files_without_record:
        if is_blob_name(name):
            where = (
                f"blob {name} in the database"
                if in_database(session) and not (folder / name).exists()
                else str(folder / name)
            )
            findings.append(
                Finding(
                    "blobs",
                    f"{where} has no record (left by a crash or an interrupted deletion)",
                    REMOVE_LEFTOVERS,
                    leftover=folder / name,
                )
            )
        else:
            findings.append(
                Finding(
                    "blobs",
                    f"{folder / name} is not a file dissent made",
                    f"move it out of {folder}",
                )
            )
    findings += [_stale_part(folder, name) for name in orphans.partial_files]
    if in_database(session):
        findings += [
            Finding(
                "blobs",
                f"record {record_id} names a blob missing from the database and from {folder}",
                "restore the latest backup (dissent restore), or copy the file into "
                f"{folder} from its blobs/ folder and run dissent storage migrate",
            )
            for record_id in orphans.records_without_file
        ]
    else:
        findings += [
            Finding(
                "blobs",
                f"record {record_id} names a file that is missing from {folder}",
                f"copy the file back into {folder} from the latest backup's blobs/ folder",
            )
            for record_id in orphans.records_without_file
        ]
    return findings


def examine(
    session: Session,
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None = None,
    min_free_bytes: int = MIN_FREE_DISK_BYTES,
) -> list[Finding]:
    """Return every problem found with the instance (an empty list when it is healthy).

    The checks that read the database run only once it answers and has the latest
    schema (before, they would fail on what is missing); the stale part files are
    found without it. ``now`` stands in for the system clock.
    """
    now = now or datetime.now(UTC)
    findings = check_database(engine) or check_schema(engine)
    if findings:
        findings += check_parts(settings, now=now)
    else:
        findings += check_clock(session, now=now)
        findings += check_blobs(session, settings, now=now)
    findings += check_secrets_file(settings)
    findings += check_redis(settings)
    findings += check_disk(settings, min_free_bytes=min_free_bytes)
    return findings


def remove_leftovers(
    settings: Settings, findings: list[Finding], session: Session | None = None
) -> list[Finding]:
    """Delete the blobs of the findings ``dissent doctor --fix`` fixes; return those
    whose blob was removed. With a session, chunks without a record go in its
    transaction, which the caller commits."""
    return [
        finding
        for finding in findings
        if finding.leftover is not None
        and remove_leftover(settings, finding.leftover.name, session)
    ]
