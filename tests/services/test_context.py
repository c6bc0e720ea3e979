"""The services' context: built from the settings, and its gate for codename derivations."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from dissent.crypto.codename import derive_source_keys, generate_codename
from dissent.services import context as context_module
from dissent.services.context import KdfGate, service_context
from dissent.services.errors import KdfBusy


class CountingLimiter:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        self.keys.append(key)
        return True


def test_the_context_hashes_passwords_at_the_settings_cost_and_keeps_the_limiter(settings):
    limiter = CountingLimiter()

    ctx = service_context(settings, limiter)

    assert ctx.settings is settings
    assert ctx.limiter is limiter
    assert ctx.passwords.hash("a password").split("$")[3] == "m=8,t=1,p=1"


def test_the_gate_admits_as_many_derivations_as_the_settings_allow(settings):
    ctx = service_context(replace(settings, max_concurrent_kdf=3), CountingLimiter())

    assert ctx.kdf_gate.limit == 3


def test_each_context_gets_a_gate_of_its_own(settings):
    first = service_context(settings, CountingLimiter())
    second = service_context(settings, CountingLimiter())

    assert first.kdf_gate is not second.kdf_gate


def test_the_gate_derives_with_the_instance_salt_and_cost(settings):
    codename = generate_codename()

    keys = KdfGate(limit=1).derive(codename, settings)

    assert keys == derive_source_keys(
        codename, salt=settings.source_salt, params=settings.kdf_params
    )
    assert keys != derive_source_keys(
        generate_codename(), salt=settings.source_salt, params=settings.kdf_params
    )


def test_the_same_codename_gives_other_keys_on_another_instance(settings):
    codename = generate_codename()
    elsewhere = replace(settings, source_salt=bytes(reversed(settings.source_salt)))

    gate = KdfGate(limit=1)

    assert gate.derive(codename, settings).lookup_id != gate.derive(codename, elsewhere).lookup_id


def test_a_failed_derivation_gives_its_slot_back(settings, monkeypatch):
    gate = KdfGate(limit=1)
    real = context_module.derive_source_keys

    def failing(*args, **kwargs):
        raise MemoryError("the derivation could not get its memory")

    monkeypatch.setattr(context_module, "derive_source_keys", failing)
    with pytest.raises(MemoryError):
        gate.derive(generate_codename(), settings)
    monkeypatch.setattr(context_module, "derive_source_keys", real)

    results: list[object] = []
    worker = threading.Thread(
        target=lambda: results.append(gate.derive(generate_codename(), settings)), daemon=True
    )
    worker.start()
    worker.join(timeout=5)

    assert not worker.is_alive(), "the only slot was never released"
    assert len(results) == 1


class HeldDerivations:
    """Derivations that run only when the test lets them, in the order they started."""

    def __init__(self, monkeypatch) -> None:
        self.release = threading.Event()
        self.order: list[str] = []
        monkeypatch.setattr(context_module, "derive_source_keys", self._derive)

    def _derive(self, codename, *, salt, params):
        self.release.wait(timeout=30)
        self.order.append(codename)
        return codename


def started(worker: threading.Thread) -> threading.Thread:
    worker.start()
    return worker


def wait_for(condition) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the gate never got there"
        time.sleep(0.005)


def test_a_login_waits_in_the_short_queue_then_is_turned_away(settings, monkeypatch):
    held = HeldDerivations(monkeypatch)
    gate = KdfGate(limit=1, waiters_per_slot=1, max_wait_seconds=30)
    workers = [started(threading.Thread(target=gate.derive, args=("first", settings)))]
    wait_for(lambda: gate.running == 1)
    workers.append(started(threading.Thread(target=gate.try_derive, args=("second", settings))))
    wait_for(lambda: gate.waiting == 1)

    with pytest.raises(KdfBusy) as busy:
        gate.try_derive("third", settings)  # the queue is full: at once, no wait
    held.release.set()
    for worker in workers:
        worker.join(timeout=10)

    assert busy.value.retry_after == context_module.KDF_RETRY_AFTER_SECONDS
    assert held.order == ["first", "second"]
    assert (gate.running, gate.waiting) == (0, 0)


def test_a_login_that_waits_too_long_is_turned_away_and_leaves_the_queue(settings, monkeypatch):
    held = HeldDerivations(monkeypatch)
    gate = KdfGate(limit=1, waiters_per_slot=1, max_wait_seconds=0.05)
    worker = started(threading.Thread(target=gate.derive, args=("first", settings)))
    wait_for(lambda: gate.running == 1)

    with pytest.raises(KdfBusy):
        gate.try_derive("second", settings)

    assert gate.waiting == 0
    held.release.set()
    worker.join(timeout=10)
    assert gate.try_derive("third", settings) == "third"  # the slot came back


def test_a_submission_is_never_turned_away_and_slots_go_in_arrival_order(settings, monkeypatch):
    held = HeldDerivations(monkeypatch)
    gate = KdfGate(limit=1, waiters_per_slot=1, max_wait_seconds=0.05)
    workers = [started(threading.Thread(target=gate.derive, args=("first", settings)))]
    wait_for(lambda: gate.running == 1)
    for n, name in enumerate(["second", "third", "fourth"], start=1):
        workers.append(started(threading.Thread(target=gate.derive, args=(name, settings))))
        wait_for(lambda n=n: gate.waiting == n)  # queued well past the wait of a login

    held.release.set()
    for worker in workers:
        worker.join(timeout=10)

    assert held.order == ["first", "second", "third", "fourth"]
