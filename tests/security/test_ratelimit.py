"""Rate limits per purpose and account (dissent.security.ratelimit): in memory, and in Redis."""

from __future__ import annotations

import os
import uuid
from types import SimpleNamespace

import pytest

from dissent.security import ratelimit
from dissent.security.ratelimit import MemoryRateLimiter, RedisRateLimiter

REDIS_URL = os.environ.get("DISSENT_TEST_REDIS_URL", "")


def limiters():
    yield MemoryRateLimiter()
    if REDIS_URL:
        yield RedisRateLimiter(REDIS_URL)


@pytest.fixture
def clock(monkeypatch) -> dict[str, float]:
    """A clock the limiters read, moved by hand."""
    now = {"now": 1_800_000_000.0}  # the start of a 900-second window
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: now["now"]))
    return now


def test_rate_limit_allows_up_to_the_limit_then_refuses():
    for limiter in limiters():
        key = f"test:{uuid.uuid4().hex}"
        results = [limiter.hit(key, limit=3, window_seconds=3600) for _ in range(5)]
        assert results == [True, True, True, False, False]
        other = f"test:{uuid.uuid4().hex}"
        assert limiter.hit(other, limit=3, window_seconds=3600), "limits are per key"


def test_the_count_starts_again_in_the_next_window(clock):
    limiter = MemoryRateLimiter()
    for _ in range(2):
        assert limiter.hit("staff-login:alice", limit=2, window_seconds=900)
    assert not limiter.hit("staff-login:alice", limit=2, window_seconds=900)

    clock["now"] += 899
    assert not limiter.hit("staff-login:alice", limit=2, window_seconds=900)
    clock["now"] += 1
    assert limiter.hit("staff-login:alice", limit=2, window_seconds=900)


def test_a_full_table_forgets_only_counters_of_past_windows(clock):
    limiter = MemoryRateLimiter()
    limiter._MAX_KEYS = 3
    assert limiter.hit("old", limit=1, window_seconds=60)
    clock["now"] += 60
    assert limiter.hit("a", limit=1, window_seconds=60)
    assert limiter.hit("b", limit=1, window_seconds=60)

    assert limiter.hit("fresh", limit=1, window_seconds=60)  # "old" made room
    assert not limiter.hit("a", limit=1, window_seconds=60), "a current count was kept"


def test_a_flood_of_fresh_keys_is_refused_rather_than_forgetting_counted_limits(clock):
    limiter = MemoryRateLimiter()
    limiter._MAX_KEYS = 3
    for key in ("staff-login:alice", "x", "y"):
        assert limiter.hit(key, limit=1, window_seconds=900)

    assert not limiter.hit("z", limit=100, window_seconds=900)
    assert not limiter.hit("staff-login:alice", limit=1, window_seconds=900)


class FakePipeline:
    """The two commands RedisRateLimiter sends, on a dict."""

    def __init__(self, data: dict[str, int], expiries: dict[str, int]) -> None:
        self.data, self.expiries, self.calls = data, expiries, []

    def incr(self, name: str) -> None:
        self.calls.append(("incr", name))

    def expire(self, name: str, seconds: int) -> None:
        self.calls.append(("expire", name, seconds))

    def execute(self) -> list[object]:
        results: list[object] = []
        for call in self.calls:
            if call[0] == "incr":
                self.data[call[1]] = self.data.get(call[1], 0) + 1
                results.append(self.data[call[1]])
            else:
                self.expiries[call[1]] = call[2]
                results.append(True)
        return results


def test_redis_counters_are_named_by_key_and_window_and_expire_with_it(monkeypatch, clock):
    import redis

    data: dict[str, int] = {}
    expiries: dict[str, int] = {}
    fake = SimpleNamespace(pipeline=lambda: FakePipeline(data, expiries))
    monkeypatch.setattr(redis.Redis, "from_url", staticmethod(lambda url: fake))
    limiter = RedisRateLimiter("redis://unused")

    results = [limiter.hit("source-login", limit=2, window_seconds=900) for _ in range(3)]
    clock["now"] += 900
    next_window = limiter.hit("source-login", limit=2, window_seconds=900)

    window = 1_800_000_000 // 900
    assert results == [True, True, False]
    assert next_window
    assert data == {
        f"dissent:rl:source-login:{window}": 3,
        f"dissent:rl:source-login:{window + 1}": 1,
    }
    assert set(expiries.values()) == {900}
