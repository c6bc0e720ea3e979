"""Fixed-window rate limits keyed by purpose and account, never by IP address.

Sources reach us through Tor, where every visitor has the same address, and keeping
addresses would break invariant 2. Limits therefore name what is attempted
("staff-login:alice", "source-login") rather than who attempts it.
"""

from __future__ import annotations

import time
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from ..models import RateLimitCounter


class RateLimiter(Protocol):
    """Counts attempts per key per window."""

    def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        """Record an attempt; return ``False`` if the limit for this window is exceeded."""


class DatabaseRateLimiter:
    """Counters in the application database."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory

    def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        """Record an attempt; return whether it is within the limit."""
        window = int(time.time()) // window_seconds
        with self._factory.begin() as session:
            row = session.get(RateLimitCounter, key, with_for_update=True)
            if row is None:
                session.add(RateLimitCounter(key=key, window=window, count=1))
                return True
            if row.window != window:
                row.window, row.count = window, 1
                return True
            row.count += 1
            return row.count <= limit


class RedisRateLimiter:
    """Counters in Redis, shared by every worker and host."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        """Record an attempt; return whether it is within the limit."""
        window = int(time.time()) // window_seconds
        name = f"dissent:rl:{key}:{window}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window_seconds)
        count, _ = pipe.execute()
        return int(count) <= limit
