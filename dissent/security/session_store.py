"""Where sealed session records live: the database by default, Redis in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, bindparam, delete, insert, select, update
from sqlalchemy import exc as sa_exc

from ..models import StoredSession, utcnow

# How long a request waits for Redis to connect or to answer before the visitor is told
# that the service is busy: a Redis that is gone (not refusing, just silent) would
# otherwise hold a server thread for redis-py's default of five seconds per attempt.
REDIS_TIMEOUT_S = 2.0
# The database errors that mean "the store cannot be reached or is busy right now": a
# dropped or refused connection, a statement ended by a timeout or the watchdog, no free
# pooled connection. Anything else (a missing table, say) is a fault, not an outage.
_DATABASE_OUTAGES = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


class SessionStoreUnavailable(Exception):
    """The session store could not be reached, or did not answer in time.

    The store's own exception is the ``__cause__``. Its text is never read: for the
    database it holds the statement and its parameters.
    """


@contextmanager
def _outage_as_unavailable(outages: tuple[type[Exception], ...]) -> Iterator[None]:
    """Turn the backend's outage errors inside the block into SessionStoreUnavailable."""
    try:
        yield
    except outages as exc:
        raise SessionStoreUnavailable from exc


class SessionStore(Protocol):
    """A key-value store of sealed session records with expiry.

    Every method raises :class:`SessionStoreUnavailable` when the store cannot be
    reached; the next call tries again, so the store comes back by itself.
    """

    def load(self, id_hash: bytes) -> tuple[bytes, datetime] | None:
        """Return the sealed record and its expiry, or ``None``."""

    def save(self, id_hash: bytes, sealed: bytes, *, expires_at: datetime, new: bool) -> bool:
        """Store ``sealed`` under ``id_hash`` until ``expires_at``; return whether it was.

        ``new`` creates the record, and only if there is none under that id yet (the
        first of two twin requests keeps its record); otherwise only an existing record
        is replaced, so a save that arrives after a logout or expiry deleted it does not
        bring it back.
        """

    def delete(self, id_hash: bytes) -> None:
        """Remove the record, if any."""


# Built once: a session record is read on every request that carries a cookie.
_LOAD = select(StoredSession.sealed, StoredSession.expires_at).where(
    StoredSession.id_hash == bindparam("id_hash"), StoredSession.expires_at > bindparam("now")
)
_UPDATE = (
    update(StoredSession)
    .where(StoredSession.id_hash == bindparam("key"))
    .values(sealed=bindparam("sealed"), expires_at=bindparam("expires_at"))
)
_INSERT = insert(StoredSession)
_DELETE = delete(StoredSession).where(StoredSession.id_hash == bindparam("id_hash"))
_DELETE_EXPIRED = delete(StoredSession).where(StoredSession.expires_at <= bindparam("now"))


class DatabaseSessionStore:
    """Session records in the application database, each access its own short
    transaction on its own connection (plain statements, no ORM: this is on the path
    of every request)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def load(self, id_hash: bytes) -> tuple[bytes, datetime] | None:
        """Return the record if it has not expired."""
        with _outage_as_unavailable(_DATABASE_OUTAGES), self._engine.connect() as conn:
            row = conn.execute(_LOAD, {"id_hash": id_hash, "now": utcnow()}).first()
        return None if row is None else (row.sealed, row.expires_at)

    def save(self, id_hash: bytes, sealed: bytes, *, expires_at: datetime, new: bool) -> bool:
        """Insert a new record or replace an existing one (never re-create a deleted
        one, never overwrite one with ``new``); creating a record also drops expired
        ones, which keeps the table small."""
        try:
            with _outage_as_unavailable(_DATABASE_OUTAGES), self._engine.begin() as conn:
                if not new:
                    updated = conn.execute(
                        _UPDATE, {"key": id_hash, "sealed": sealed, "expires_at": expires_at}
                    )
                    return updated.rowcount == 1
                conn.execute(_DELETE_EXPIRED, {"now": utcnow()})
                conn.execute(
                    _INSERT, {"id_hash": id_hash, "sealed": sealed, "expires_at": expires_at}
                )
                return True
        except sa_exc.IntegrityError:
            return False  # a record under this id exists (``new``): it is kept

    def delete(self, id_hash: bytes) -> None:
        """Delete the record."""
        with _outage_as_unavailable(_DATABASE_OUTAGES), self._engine.begin() as conn:
            conn.execute(_DELETE, {"id_hash": id_hash})

    def count(self) -> int:
        """Return the number of unexpired records (for tests and operations)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(StoredSession.id_hash).where(StoredSession.expires_at > utcnow())
            )
            return len(rows.all())


class RedisSessionStore:
    """Session records in Redis, expiring by Redis TTL.

    redis-py opens a new connection for a command whose pooled connection broke, so
    when Redis comes back the next request simply works (no restart).
    """

    _PREFIX = "dissent:session:"

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
        )
        # Every Redis error is an outage here: refused, timed out, still loading its
        # data after a restart, out of memory, a read-only replica after a failover.
        self._outages: tuple[type[Exception], ...] = (redis.RedisError,)

    def load(self, id_hash: bytes) -> tuple[bytes, datetime] | None:
        """Return the record if Redis still holds it."""
        key = self._PREFIX + id_hash.hex()
        with _outage_as_unavailable(self._outages):
            pipe = self._redis.pipeline()
            pipe.get(key)
            pipe.pttl(key)
            sealed, pttl = pipe.execute()
        if sealed is None or pttl is None or pttl < 0:
            return None
        return bytes(sealed), utcnow() + timedelta(milliseconds=int(pttl))

    def save(self, id_hash: bytes, sealed: bytes, *, expires_at: datetime, new: bool) -> bool:
        """Create (``new``) or replace an existing record until ``expires_at`` (Redis
        expires the key itself); a deleted record is not re-created."""
        with _outage_as_unavailable(self._outages):
            stored = self._redis.set(
                self._PREFIX + id_hash.hex(),
                sealed,
                exat=int(expires_at.timestamp()),
                nx=new,
                xx=not new,
            )
        return bool(stored)

    def delete(self, id_hash: bytes) -> None:
        """Delete the record."""
        with _outage_as_unavailable(self._outages):
            self._redis.delete(self._PREFIX + id_hash.hex())
