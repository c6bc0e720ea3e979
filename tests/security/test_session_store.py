"""Session stores and the KDF gate: the database store, and Redis when CI provides it."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import create_engine

from dissent.extensions import db
from dissent.models import utcnow
from dissent.security.session_store import (
    DatabaseSessionStore,
    RedisSessionStore,
    SessionStoreUnavailable,
)
from dissent.services.context import KdfGate
from tests.helpers.outage import CLOSED_PORT_URL, FlakyRedis, RedisRelay

REDIS_URL = os.environ.get("DISSENT_TEST_REDIS_URL", "")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="DISSENT_TEST_REDIS_URL is not set (CI sets it; .ci/run)"
)


@pytest.fixture
def engine(app):
    return db.engine(app)


def stores(engine):
    yield DatabaseSessionStore(engine)
    if REDIS_URL:
        yield RedisSessionStore(REDIS_URL)


def test_session_store_round_trip_and_delete(engine):
    for store in stores(engine):
        key = uuid.uuid4().bytes * 2
        assert store.save(key, b"sealed", expires_at=utcnow() + timedelta(minutes=5), new=True)
        sealed, expires_at = store.load(key)
        assert expires_at > utcnow()
        assert sealed == b"sealed"
        assert store.save(key, b"resealed", expires_at=utcnow() + timedelta(minutes=5), new=False)
        assert store.load(key)[0] == b"resealed"
        store.delete(key)
        assert store.load(key) is None


def test_a_deleted_session_is_not_brought_back_by_a_late_save(engine):
    """A request still running when the session was ended (logout in another tab, an
    account deactivated) must not re-create it when it saves on its way out."""
    for store in stores(engine):
        key = uuid.uuid4().bytes * 2
        store.save(key, b"identity inside", expires_at=utcnow() + timedelta(minutes=5), new=True)
        store.delete(key)

        stored = store.save(
            key, b"identity inside", expires_at=utcnow() + timedelta(minutes=5), new=False
        )

        assert not stored
        assert store.load(key) is None


def test_a_new_record_never_replaces_one_under_the_same_id(engine):
    """The first of two twin requests keeps its record; the second is told so."""
    for store in stores(engine):
        key = uuid.uuid4().bytes * 2
        later = utcnow() + timedelta(minutes=5)
        assert store.save(key, b"first", expires_at=later, new=True)

        assert not store.save(key, b"second", expires_at=later, new=True)
        assert store.load(key)[0] == b"first"


def test_expired_database_session_records_are_not_returned(engine):
    store = DatabaseSessionStore(engine)
    key = uuid.uuid4().bytes * 2
    store.save(key, b"sealed", expires_at=utcnow() - timedelta(seconds=1), new=True)
    assert store.load(key) is None


@needs_redis
def test_redis_session_record_expires_by_ttl():
    store = RedisSessionStore(REDIS_URL)
    key = uuid.uuid4().bytes * 2
    store.save(key, b"sealed", expires_at=utcnow() + timedelta(seconds=5), new=True)
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.pexpire("dissent:session:" + key.hex(), 1)
    while client.exists("dissent:session:" + key.hex()):
        pass  # Redis expires it within milliseconds; no sleeping-to-pass
    assert store.load(key) is None


# --- outages: a store that cannot be reached says so, and comes back by itself ---------------


def every_call(store):
    """Yield each of the store's calls, ready to make."""
    key = uuid.uuid4().bytes * 2
    later = utcnow() + timedelta(minutes=5)
    yield lambda: store.load(key)
    yield lambda: store.save(key, b"sealed", expires_at=later, new=True)
    yield lambda: store.delete(key)


def test_redis_that_refuses_connections_is_unavailable_not_a_crash():
    store = RedisSessionStore(CLOSED_PORT_URL)

    for call in every_call(store):
        with pytest.raises(SessionStoreUnavailable) as caught:
            call()
        assert isinstance(caught.value.__cause__, redis.ConnectionError)


def test_a_database_that_cannot_be_opened_is_unavailable_not_a_crash(tmp_path):
    store = DatabaseSessionStore(create_engine(f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"))

    for call in every_call(store):
        with pytest.raises(SessionStoreUnavailable):
            call()


def test_the_redis_store_works_again_when_redis_comes_back():
    store = RedisSessionStore(CLOSED_PORT_URL)
    store._redis = backend = FlakyRedis()
    key = uuid.uuid4().bytes * 2
    backend.down = True

    with pytest.raises(SessionStoreUnavailable):
        store.save(key, b"sealed", expires_at=utcnow() + timedelta(minutes=5), new=True)

    backend.down = False
    assert store.save(key, b"sealed", expires_at=utcnow() + timedelta(minutes=5), new=True)
    assert store.load(key)[0] == b"sealed"


@needs_redis
def test_the_same_store_reconnects_when_the_real_redis_comes_back():
    relay = RedisRelay(REDIS_URL)
    store = RedisSessionStore(relay.url)
    key = uuid.uuid4().bytes * 2
    try:
        assert store.save(key, b"sealed", expires_at=utcnow() + timedelta(minutes=5), new=True)
        relay.cut()
        with pytest.raises(SessionStoreUnavailable):
            store.load(key)  # the pooled connection is gone, and no new one is accepted

        relay.restore()

        assert store.load(key)[0] == b"sealed"  # no restart: a new connection
    finally:
        relay.cut()
        store._redis.close()


def test_kdf_gate_bounds_concurrent_derivations(monkeypatch, app):
    """A burst of logins queues: never more derivations at once than the limit."""
    from dissent.services import context as context_module

    running = 0
    peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def slow_derive(codename, *, salt, params):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        release.wait(timeout=5)
        with lock:
            running -= 1
        return None

    monkeypatch.setattr(context_module, "derive_source_keys", slow_derive)
    gate = KdfGate(limit=2)
    settings = app.extensions["dissent.settings"]
    threads = [threading.Thread(target=gate.derive, args=("x", settings)) for _ in range(6)]
    for thread in threads:
        thread.start()
    while True:  # wait until the gate is saturated
        with lock:
            if running == 2:
                break
    release.set()
    for thread in threads:
        thread.join(timeout=5)
    assert peak == 2
