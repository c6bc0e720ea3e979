"""Fixed-window rate limits keyed by purpose and account, never by IP address.

Sources reach us through Tor, where every visitor has the same address, and keeping
addresses would break invariant 2 (docs/architecture.md). Limits therefore name what is
attempted ("staff-login:alice:…", "source-login") rather than who attempts it; the one
notion of a client is a staff browser's device token (``services/login_throttle.py``).

Counts are shared by every worker and host: in Redis when it is configured, otherwise in
the database (staff-side limits; decision 18 in docs/decisions.md). Limits on what
sources do are never written to the database: they stay in each process's memory.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from ..models import RateLimitCounter
from ..services.errors import Limit

# Limits counted in the database when Redis is not used, so that a password guesser gets
# the same ten tries however many workers answer: they concern staff accounts, whose
# times may be exact (invariant 2 covers sources).
DATABASE_LIMITS = frozenset({Limit.STAFF_LOGIN, Limit.STAFF_TOTP})
# Limits counted in each process's memory even then: a row would record the minute in
# which some source logged in (invariant 2). The source-login limit only sheds a flood,
# which a per-process count still does. A limit in neither set stays in memory too (a
# test makes every limit name its side).
PROCESS_LIMITS = frozenset({Limit.SOURCE_LOGIN})

# Expired counters removed per attempt: each attempt adds at most one row, so this keeps
# the table from growing while bounding what one login does.
CLEANUP_BATCH = 100


class MemoryRateLimiter:
    """Counters in this process's memory: the source-side limits without Redis.

    Nothing is written to disk: a counter would otherwise record the minute in which
    some source logged in. With several worker processes each keeps its own counts,
    so the effective limit is the limit times the number of workers.
    """

    _MAX_KEYS = 10_000

    def __init__(self) -> None:
        # key -> (window length in seconds, window number, attempts in it), least
        # recently counted first
        self._counts: OrderedDict[str, tuple[int, int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        """Record an attempt; return whether it is within the limit."""
        now = int(time.time())
        window = now // window_seconds
        with self._lock:
            if key not in self._counts and len(self._counts) >= self._MAX_KEYS:
                self._make_room(now)
            _, seen_window, count = self._counts.pop(key, (window_seconds, window, 0))
            count = count + 1 if seen_window == window else 1
            self._counts[key] = (window_seconds, window, count)
            return count <= limit

    def _make_room(self, now: int) -> None:
        """Drop counters of past windows; if a flood of fresh keys still fills the
        table, forget the least recently counted one. Refusing every new key instead
        would let one flood refuse everyone (issue 15, finding 13); what it costs is
        that a key left alone while ``_MAX_KEYS`` others are counted starts again."""
        self._counts = OrderedDict((k, v) for k, v in self._counts.items() if v[1] == now // v[0])
        while len(self._counts) >= self._MAX_KEYS:
            self._counts.popitem(last=False)


_EXPIRED = (
    select(RateLimitCounter.name)
    .where(RateLimitCounter.expires_at <= bindparam("now"))
    .limit(CLEANUP_BATCH)
    # PostgreSQL: two attempts cleaning at once skip each other's rows instead of
    # waiting on them (and deadlocking on rows locked in opposite orders). SQLite has
    # one writer at a time and renders nothing here.
    .with_for_update(skip_locked=True)
)
_DELETE_EXPIRED = delete(RateLimitCounter).where(RateLimitCounter.name.in_(_EXPIRED))


def _increment(dialect: str) -> Executable:
    """Return the one statement that adds an attempt and gives the new count.

    INSERT ... ON CONFLICT DO UPDATE ... RETURNING is atomic on both databases: two
    workers starting the same counter at once both count, neither fails on the key.
    """
    key, added = [RateLimitCounter.name], {"count": RateLimitCounter.count + 1}
    if dialect == "postgresql":
        upsert = postgresql.insert(RateLimitCounter)
        return upsert.on_conflict_do_update(index_elements=key, set_=added).returning(
            RateLimitCounter.count
        )
    if dialect == "sqlite":
        insert = sqlite.insert(RateLimitCounter)
        return insert.on_conflict_do_update(index_elements=key, set_=added).returning(
            RateLimitCounter.count
        )
    raise ValueError(f"rate limits in a {dialect} database are not supported; use Redis")


class DatabaseRateLimiter:
    """Counters in the application database, shared by every worker and host.

    Each attempt is its own short transaction on its own connection from the engine,
    not part of the request's unit of work: a refused login raises and the request's
    transaction rolls back, which must not take the attempt back with it (the count is
    the point of the limit), and the request's one commit stays its own (the count
    commits whether or not the request does). On SQLite, call it before the request
    writes: the counter would otherwise wait for the request's own write lock.
    Counters of source-side limits stay in this process's memory (``PROCESS_LIMITS``).
    """

    def __init__(self, engine: Engine, *, secret: bytes) -> None:
        self._engine = engine
        self._secret = secret
        self._increment = _increment(engine.dialect.name)
        self._local = MemoryRateLimiter()

    def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        """Record an attempt; return whether it is within the limit."""
        if key.partition(":")[0] not in DATABASE_LIMITS:
            return self._local.hit(key, limit=limit, window_seconds=window_seconds)
        now = time.time()
        window = int(now) // window_seconds
        params = {
            "name": self.counter_name(key, window_seconds=window_seconds, window=window),
            "expires_at": datetime.fromtimestamp((window + 1) * window_seconds, UTC),
            "count": 1,
        }
        with self._engine.begin() as conn:
            count: int = conn.execute(self._increment, params).scalar_one()
            conn.execute(_DELETE_EXPIRED, {"now": datetime.fromtimestamp(now, UTC)})
        return count <= limit

    def counter_name(self, key: str, *, window_seconds: int, window: int) -> str:
        """Return the stored name of ``key``'s counter in a window: a keyed hash, so
        the table holds no username and links no two windows of one account."""
        # The numbers come first and hold no colon, so no two inputs read alike.
        message = f"{window_seconds}:{window}:{key}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


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
