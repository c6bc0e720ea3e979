"""Fixed-window rate limits keyed by purpose and account, never by IP address.

Sources reach us through Tor, where every visitor has the same address, and keeping
addresses would break invariant 2 (docs/architecture.md). Limits therefore name what is
attempted ("staff-login:alice", "source-login") rather than who attempts it.
"""

from __future__ import annotations

import threading
import time


class MemoryRateLimiter:
    """Counters in this process's memory, for a single host without Redis.

    Nothing is written to disk: a counter would otherwise record the minute in which
    some source logged in. With several worker processes each keeps its own counts,
    so the effective limit is the limit times the number of workers.
    """

    _MAX_KEYS = 10_000

    def __init__(self) -> None:
        # key -> (window length in seconds, window number, attempts in it)
        self._counts: dict[str, tuple[int, int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        """Record an attempt; return whether it is within the limit."""
        now = int(time.time())
        window = now // window_seconds
        with self._lock:
            if key not in self._counts and len(self._counts) >= self._MAX_KEYS:
                # Drop counters of past windows; if a flood of fresh keys still fills
                # the table, refuse rather than forget the limits already counted.
                self._counts = {k: v for k, v in self._counts.items() if v[1] == now // v[0]}
                if len(self._counts) >= self._MAX_KEYS:
                    return False
            _, seen_window, count = self._counts.get(key, (window_seconds, window, 0))
            count = count + 1 if seen_window == window else 1
            self._counts[key] = (window_seconds, window, count)
            return count <= limit


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
