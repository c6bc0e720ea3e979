"""Where sealed session records live: the database by default, Redis in production."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from ..models import StoredSession, utcnow


class SessionStore(Protocol):
    """A key-value store of sealed session records with expiry."""

    def load(self, id_hash: bytes) -> tuple[bytes, datetime] | None:
        """Return the sealed record and its expiry, or ``None``."""

    def save(self, id_hash: bytes, sealed: bytes, *, expires_at: datetime) -> None:
        """Store ``sealed`` under ``id_hash`` until ``expires_at``."""

    def delete(self, id_hash: bytes) -> None:
        """Remove the record, if any."""


class DatabaseSessionStore:
    """Session records in the application database (a separate short transaction)."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    def load(self, id_hash: bytes) -> tuple[bytes, datetime] | None:
        """Return the record if it has not expired."""
        with self._factory() as session:
            row = session.get(StoredSession, id_hash)
            if row is None or row.expires_at <= utcnow():
                return None
            return row.sealed, row.expires_at

    def save(self, id_hash: bytes, sealed: bytes, *, expires_at: datetime) -> None:
        """Insert or replace the record; also drop expired ones now and then."""
        with self._factory.begin() as session:
            row = session.get(StoredSession, id_hash)
            if row is None:
                session.add(StoredSession(id_hash=id_hash, sealed=sealed, expires_at=expires_at))
                # Cheap housekeeping on session creation keeps the table small.
                session.execute(delete(StoredSession).where(StoredSession.expires_at <= utcnow()))
            else:
                row.sealed = sealed
                row.expires_at = expires_at

    def delete(self, id_hash: bytes) -> None:
        """Delete the record."""
        with self._factory.begin() as session:
            session.execute(delete(StoredSession).where(StoredSession.id_hash == id_hash))

    def count(self) -> int:
        """Return the number of unexpired records (for tests and operations)."""
        with self._factory() as session:
            rows = session.scalars(
                select(StoredSession.id_hash).where(StoredSession.expires_at > utcnow())
            )
            return len(list(rows))


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

    def save(self, id_hash: bytes, sealed: bytes, *, expires_at: datetime) -> None:
        """Store until ``expires_at`` (Redis expires the key itself)."""
        self._redis.set(self._PREFIX + id_hash.hex(), sealed, exat=int(expires_at.timestamp()))

    def delete(self, id_hash: bytes) -> None:
        """Delete the record."""
        self._redis.delete(self._PREFIX + id_hash.hex())
