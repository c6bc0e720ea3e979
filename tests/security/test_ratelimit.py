"""Rate limits per purpose and account (dissent.security.ratelimit): in memory, in the
database (shared by every worker without Redis), and in Redis."""

from __future__ import annotations

import os
import threading
import time as real_time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pyotp
import pytest
from sqlalchemy import func, insert, select

from dissent.app import create_app
from dissent.extensions import db
from dissent.models import RateLimitCounter
from dissent.security import ratelimit
from dissent.security.ratelimit import (
    CLEANUP_BATCH,
    DATABASE_LIMITS,
    PROCESS_LIMITS,
    DatabaseRateLimiter,
    MemoryRateLimiter,
    RedisRateLimiter,
)
from dissent.services import accounts, login_throttle
from dissent.services.errors import Limit
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.staff import WRONG_LOGIN, password_step

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


# --- in the database: one count for every worker -----------------------------------------

PAUSED = b"Too many attempts. Try again in"
TOTP_PAUSED = b"Too many attempts. Wait five minutes."
TOTP_REFUSED = b"That code is wrong, expired or already used. Wait for the next one."


@pytest.fixture
def second_worker(config):
    """Another application on the same database and settings: a second gunicorn worker."""
    worker = create_app(config)
    yield worker
    db.engine(worker).dispose()


@pytest.fixture
def limiter(app) -> DatabaseRateLimiter:
    """A database limiter on the test database."""
    return DatabaseRateLimiter(db.engine(app), secret=os.urandom(32))


def stored_counters(app) -> list[RateLimitCounter]:
    with app.app_context():
        return list(db.session.scalars(select(RateLimitCounter)))


def test_two_workers_together_allow_the_limit_of_wrong_passwords(
    app, second_worker, adviser, clock
):
    # New browsers of an account share one count (services/login_throttle.py).
    attempts, window = login_throttle.STAFF_LOGIN_BACKOFF[0]
    workers = [app.test_client(), second_worker.test_client()]
    for attempt in range(attempts):
        wrong = password_step(workers[attempt % 2], adviser.username, "guess guess guess")
        assert WRONG_LOGIN in wrong.data, attempt

    for worker in workers:  # the right password, on either worker
        refused = password_step(worker, adviser.username, adviser.password)
        assert refused.status_code == 400
        assert PAUSED in refused.data

    clock["now"] += window
    assert password_step(workers[1], adviser.username, adviser.password).status_code == 303


def wrong_code(secret: str) -> str:
    """Return a six-digit code that matches none of the steps the server accepts."""
    totp = pyotp.TOTP(secret)
    now = real_time.time()
    accepted = {totp.at(now + steps * totp.interval) for steps in (-2, -1, 0, 1, 2)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in accepted)


def code_step(client, code: str):
    page = client.get("/staff/2fa", base_url=BASE_URL)
    return client.post(
        "/staff/2fa", data={"csrf_token": csrf_from(page), "code": code}, base_url=BASE_URL
    )


def test_wrong_codes_count_on_every_worker_although_their_requests_roll_back(
    app, second_worker, adviser, clock
):
    # A wrong code is refused without keeping the request's changes; the count must
    # stay all the same.
    workers = [app.test_client(), second_worker.test_client()]
    for worker in workers:
        assert password_step(worker, adviser.username, adviser.password).status_code == 303
    for attempt in range(accounts.TOTP_ATTEMPTS):
        wrong = code_step(workers[attempt % 2], wrong_code(adviser.totp_secret))
        assert TOTP_REFUSED in wrong.data, attempt

    right = pyotp.TOTP(adviser.totp_secret).now()
    for worker in workers:
        refused = code_step(worker, right)
        assert refused.status_code == 400
        assert TOTP_PAUSED in refused.data


def test_database_counts_start_again_in_the_next_window(limiter, clock):
    key = f"{Limit.STAFF_LOGIN}:alice"
    assert [limiter.hit(key, limit=2, window_seconds=900) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert limiter.hit(f"{Limit.STAFF_LOGIN}:bob", limit=2, window_seconds=900), "per key"

    clock["now"] += 899
    assert not limiter.hit(key, limit=2, window_seconds=900)
    clock["now"] += 1
    assert limiter.hit(key, limit=2, window_seconds=900)


def test_the_counter_table_names_no_account(app, limiter, clock):
    limiter.hit(f"{Limit.STAFF_LOGIN}:alice", limit=10, window_seconds=900)

    [counter] = stored_counters(app)
    assert "alice" not in f"{counter.name} {counter.expires_at} {counter.count}"
    # A keyed hash: without the instance secret a list of usernames does not find it,
    # and the next window of the same account has an unrelated name.
    window = int(clock["now"]) // 900
    key = f"{Limit.STAFF_LOGIN}:alice"
    assert counter.name == limiter.counter_name(key, window_seconds=900, window=window)
    other = DatabaseRateLimiter(db.engine(app), secret=os.urandom(32))
    assert counter.name != other.counter_name(key, window_seconds=900, window=window)
    assert counter.name != limiter.counter_name(key, window_seconds=900, window=window + 1)


def test_expired_counters_are_removed_a_bounded_batch_per_attempt(app, limiter, clock):
    past = datetime.fromtimestamp(clock["now"], UTC) - timedelta(seconds=1)
    extra = 50
    with db.engine(app).begin() as conn:
        conn.execute(
            insert(RateLimitCounter),
            [
                {"name": f"{n:064x}", "expires_at": past, "count": 3}
                for n in range(CLEANUP_BATCH + extra)
            ],
        )

    def expired() -> int:
        with app.app_context():
            return db.session.scalar(
                select(func.count()).where(
                    RateLimitCounter.expires_at <= datetime.fromtimestamp(clock["now"], UTC)
                )
            )

    limiter.hit(f"{Limit.STAFF_LOGIN}:alice", limit=10, window_seconds=900)
    assert expired() == extra
    limiter.hit(f"{Limit.STAFF_TOTP}:7", limit=5, window_seconds=300)
    assert expired() == 0
    assert len(stored_counters(app)) == 2  # the two current counters are kept


def test_source_side_limits_stay_in_memory_and_never_reach_the_database(app, limiter, clock):
    results = [limiter.hit(Limit.SOURCE_LOGIN, limit=2, window_seconds=60) for _ in range(3)]

    assert results == [True, True, False]
    assert stored_counters(app) == []


def test_every_limit_says_whether_its_counts_may_be_stored():
    assert set(Limit) == DATABASE_LIMITS | PROCESS_LIMITS
    assert not DATABASE_LIMITS & PROCESS_LIMITS
    assert Limit.SOURCE_LOGIN in PROCESS_LIMITS  # invariant 2: no time of a source's action


def test_concurrent_attempts_on_one_account_are_each_counted_exactly_once(app, limiter, clock):
    threads, per_thread, limit = 8, 5, 25
    key = f"{Limit.STAFF_LOGIN}:alice"
    start = threading.Barrier(threads)
    results: list[bool] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                results.append(limiter.hit(key, limit=limit, window_seconds=900))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert results.count(True) == limit
    assert results.count(False) == threads * per_thread - limit
    assert [c.count for c in stored_counters(app)] == [threads * per_thread]
