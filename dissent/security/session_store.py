"""Where sealed session records live: the database by default, Redis in production."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, bindparam, delete, insert, select, update

from ..models import StoredSession, utcnow


class SessionStore(Protocol):
    """A key-value store of sealed session records with expiry."""

    def load(self, id_hash: bytes) -> tuple[bytes, datetime] | None:
        """Return the sealed record and its expiry, or ``None``."""

    def save(self, id_hash: bytes, sealed: bytes, *, expires_at: datetime, new: bool) -> bool:
        """Store ``sealed`` under ``id_hash`` until ``expires_at``; return whether it was.

        ``new`` creates the record; otherwise only an existing record is replaced, so a
        save that arrives after a logout or expiry deleted it does not bring it back.
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
        with self._engine.connect() as conn:
            row = conn.execute(_LOAD, {"id_hash": id_hash, "now": utcnow()}).first()
        return None if row is None else (row.sealed, row.expires_at)

    def save(self, id_hash: bytes, sealed: bytes, *, expires_at: datetime, new: bool) -> bool:
        """Insert a new record or replace an existing one (never re-create a deleted
        one); creating a record also drops expired ones, which keeps the table small."""
        with self._engine.begin() as conn:
            if not new:
                updated = conn.execute(
                    _UPDATE, {"key": id_hash, "sealed": sealed, "expires_at": expires_at}
                )
                return updated.rowcount == 1
            conn.execute(_INSERT, {"id_hash": id_hash, "sealed": sealed, "expires_at": expires_at})
            conn.execute(_DELETE_EXPIRED, {"now": utcnow()})
            return True

    def delete(self, id_hash: bytes) -> None:
        """Delete the record."""
        with self._engine.begin() as conn:
            conn.execute(_DELETE, {"id_hash": id_hash})

    def count(self) -> int:
        """Return the number of unexpired records (for tests and operations)."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(StoredSession.id_hash).where(StoredSession.expires_at > utcnow())
            )
            return len(rows.all())


class RedisSessionStore:
    """Session records in Redis, expiring by Redis TTL."""

    _PREFIX = "dissent:session:"

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def load(self, id_hash: bytes) -> tuple[bytes, datetime] | None:
        """Return the record if Redis still holds it."""
        key = self._PREFIX + id_hash.hex()
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
        self._redis.delete(self._PREFIX + id_hash.hex())
