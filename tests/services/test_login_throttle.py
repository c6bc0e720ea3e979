"""Staff password attempts counted per account and browser (dissent.services.login_throttle):
device tokens, and the growing pauses."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from dissent.security.ratelimit import MemoryRateLimiter
from dissent.services import login_throttle
from dissent.services.context import service_context
from dissent.services.errors import Limit, RateLimited

NOW = 1_800_000_000.0  # the start of an hour


@pytest.fixture
def clock(monkeypatch) -> dict[str, float]:
    now = {"now": NOW}
    fake = SimpleNamespace(time=lambda: now["now"])
    monkeypatch.setattr("dissent.security.ratelimit.time", fake)
    monkeypatch.setattr(login_throttle, "time", fake)
    return now


@pytest.fixture
def ctx(settings):
    return service_context(settings, MemoryRateLimiter())


def test_a_token_names_a_browser_of_its_own_account_only(ctx, clock):
    token = login_throttle.device_token(ctx, username="alice")

    device = login_throttle.known_device(ctx, username="alice", token=token)

    assert device and device in token and "alice" not in token
    assert login_throttle.known_device(ctx, username="bob", token=token) is None
    other = login_throttle.device_token(ctx, username="alice")
    assert login_throttle.known_device(ctx, username="alice", token=other) != device


def test_a_token_of_another_instance_is_not_known(ctx, settings, clock):
    elsewhere = service_context(
        replace(settings, secret_key=bytes(reversed(settings.secret_key))), MemoryRateLimiter()
    )
    token = login_throttle.device_token(elsewhere, username="alice")

    assert login_throttle.known_device(ctx, username="alice", token=token) is None


def test_a_token_expires(ctx, clock):
    token = login_throttle.device_token(ctx, username="alice")

    clock["now"] += login_throttle.DEVICE_TOKEN_DAYS * 86400
    assert login_throttle.known_device(ctx, username="alice", token=token)
    clock["now"] += 1
    assert login_throttle.known_device(ctx, username="alice", token=token) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda t: None,
        lambda t: "",
        lambda t: t + "x",
        lambda t: "x" + t,
        lambda t: t.rsplit(".", 1)[0],
        lambda t: t + ".more",
        lambda t: t.replace(t.split(".")[1], str(int(t.split(".")[1]) - 1)),
        lambda t: t.replace(t.split(".")[1], str(int(NOW) + 3600)),  # issued in the future
        lambda t: t.replace(t.split(".")[1], "1e9"),
        lambda t: t.split(".")[0] + ".é.\ud800",
    ],
)
def test_a_changed_or_made_up_token_is_not_known(ctx, clock, change):
    token = login_throttle.device_token(ctx, username="alice")

    assert login_throttle.known_device(ctx, username="alice", token=change(token)) is None


def test_a_known_browser_and_new_browsers_are_counted_apart(ctx, clock):
    first, _ = login_throttle.STAFF_LOGIN_BACKOFF[0]
    for _ in range(first):
        login_throttle.check_attempt(ctx, username="alice", device=None)
    with pytest.raises(RateLimited):
        login_throttle.check_attempt(ctx, username="alice", device=None)

    login_throttle.check_attempt(ctx, username="alice", device="browser-1")
    login_throttle.check_attempt(ctx, username="bob", device=None)


def test_a_refusal_says_when_the_refusing_window_ends(ctx, clock):
    first, minute = login_throttle.STAFF_LOGIN_BACKOFF[0]
    for _ in range(first):
        login_throttle.check_attempt(ctx, username="alice", device=None)
    clock["now"] += 20

    with pytest.raises(RateLimited) as refused:
        login_throttle.check_attempt(ctx, username="alice", device=None)

    assert refused.value.limit is Limit.STAFF_LOGIN
    assert refused.value.retry_after == minute - 20
