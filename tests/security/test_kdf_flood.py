"""Issue 15, finding 14: a flood of codename guesses does not make every source's login
slow; logins beyond what the derivation slots and their short queue hold are turned
away at once with a calm "busy, try again" page (503, Retry-After), not queued.

The derivations are held open by the test, so which requests hold a slot, which wait,
and which are turned away does not depend on timing.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from dissent.crypto.codename import generate_codename
from dissent.services import context as context_module
from tests.helpers.http import HttpClient, serving
from tests.helpers.pages import csrf_from, input_value, text_of

BUSY = "Many people are logging in right now. Wait a moment, then log in again."
NOT_FOUND = "No observation was found for this codename."


def log_in(url: str, codename: str):
    """A new browser that opens the login page and sends ``codename``."""
    browser = HttpClient(url)
    page = browser.get("/login")
    return browser.post("/login", {"csrf_token": csrf_from(page), "codename": codename})


def wait_until(condition, *, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the requests never reached the gate"
        time.sleep(0.01)


def test_a_login_beyond_the_slots_and_their_queue_is_turned_away_at_once(app, monkeypatch):
    gate = app.extensions["dissent.context"].kdf_gate
    # Waiting in the queue never ends on its own during this test: only a refusal at
    # the door can answer the last login while the derivations are held.
    monkeypatch.setattr(gate, "max_wait_seconds", 60.0)
    real = context_module.derive_source_keys
    release = threading.Event()

    def held(codename, *, salt, params):
        release.wait(timeout=60)
        return real(codename, salt=salt, params=params)

    monkeypatch.setattr(context_module, "derive_source_keys", held)
    guess = generate_codename()
    slots, queue = gate.limit, gate.limit * context_module.KDF_WAITERS_PER_SLOT

    with serving(app) as url, ThreadPoolExecutor(slots + queue) as pool:
        try:
            deriving = [pool.submit(log_in, url, guess) for _ in range(slots)]
            wait_until(lambda: gate.running == slots)
            waiting = [pool.submit(log_in, url, guess) for _ in range(queue)]
            wait_until(lambda: gate.waiting == queue)

            turned_away = log_in(url, guess)  # answered while every slot is still held

            assert not any(f.done() for f in deriving + waiting)
        finally:
            release.set()
        answered = [f.result(timeout=60) for f in deriving + waiting]

    assert turned_away.status_code == 503
    assert turned_away.headers["Retry-After"] == str(context_module.KDF_RETRY_AFTER_SECONDS)
    assert BUSY in text_of(turned_away)
    # Kept in the field, to send again in a moment (invariant 7).
    assert input_value(turned_away, "codename") == guess
    # Those that held a slot or waited in the short queue were served in the end.
    assert [r.status_code for r in answered] == [400] * (slots + queue)
    assert all(NOT_FOUND in text_of(r) for r in answered)
