"""Issue 15, finding 13: wrong passwords cannot be used to keep a staff member out.

* A guesser's wrong passwords pause the guesser (and other browsers new to the account),
  with pauses that grow, but never the browser its owner already logs in from.
* A limiter whose table is full forgets its least recently used counter instead of
  refusing every newcomer.

The client is told by a device token in a cookie (set after a full login), never by an
address. Staff limits are counted in the database here: on SQLite and (with
``DISSENT_TEST_DATABASE_URL``) on PostgreSQL.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from dissent.security.ratelimit import MemoryRateLimiter
from dissent.services import login_throttle
from dissent.staff.views import DEVICE_COOKIE
from tests.helpers.pages import BASE_URL, text_of
from tests.helpers.staff import WRONG_LOGIN, login_staff, password_step

GUESS = "guess guess guess guess"
PAUSED = "Too many attempts"


@pytest.fixture
def clock(monkeypatch) -> dict[str, float]:
    """The clock of the limiters and of the throttle, moved by hand."""
    now = {"now": 1_800_000_000.0}  # the start of an hour
    fake = SimpleNamespace(time=lambda: now["now"])
    monkeypatch.setattr("dissent.security.ratelimit.time", fake)
    monkeypatch.setattr("dissent.services.login_throttle.time", fake)
    return now


def guesses(browser, username: str, n: int) -> list[str]:
    """Send ``n`` wrong passwords; return what each answer said."""
    answers = []
    for _ in range(n):
        response = password_step(browser, username, GUESS)
        assert response.status_code == 400
        answers.append("wrong" if WRONG_LOGIN in response.data else text_of(response))
    return answers


def test_a_guesser_cannot_keep_the_owner_out(new_client, adviser, clock):
    owner = new_client()
    login_staff(owner, adviser)  # the owner's usual browser
    owner.post("/staff/logout", data={}, base_url=BASE_URL)
    guesser = new_client()

    answers = guesses(guesser, adviser.username, 12)

    assert "wrong" in answers[0]
    assert any(PAUSED in a for a in answers), "the guesser is never paused"
    # The owner, in the browser they use, gets in with the right password at once.
    assert password_step(owner, adviser.username, adviser.password).status_code == 303


def test_the_pauses_of_a_guesser_grow(new_client, adviser, clock):
    guesser = new_client()
    schedule = login_throttle.STAFF_LOGIN_BACKOFF
    (first, minute), (second, quarter), (third, hour) = schedule
    assert (minute, quarter, hour) == (60, 900, 3600)

    assert guesses(guesser, adviser.username, first) == ["wrong"] * first
    (paused,) = guesses(guesser, adviser.username, 1)
    assert "Try again in 1 min." in paused

    clock["now"] += minute  # the next minute: tries again, up to the quarter's count
    assert guesses(guesser, adviser.username, first) == ["wrong"] * first
    clock["now"] += minute
    (paused,) = guesses(guesser, adviser.username, 1)
    assert "Try again in 13 min." in paused  # the rest of the quarter hour

    clock["now"] += quarter - 2 * minute  # the next quarter hour: up to the hour's count
    for _ in range((third - second) // first):
        assert guesses(guesser, adviser.username, first) == ["wrong"] * first
        clock["now"] += minute
    clock["now"] += quarter - 2 * minute
    (paused,) = guesses(guesser, adviser.username, 1)
    assert "Try again in 30 min." in paused  # the rest of the hour


def test_a_device_token_counts_only_for_its_own_account_and_cannot_be_made_up(
    new_client, adviser, make_staff, clock
):
    colleague = make_staff(adviser.role)
    browser = new_client()
    login_staff(browser, colleague)  # a token for the colleague's account, not the adviser's
    browser.post("/staff/logout", data={}, base_url=BASE_URL)
    forger = new_client()
    forger.set_cookie(DEVICE_COOKIE, "made-up.1800000000.not-a-mac", domain="localhost")
    first = login_throttle.STAFF_LOGIN_BACKOFF[0][0]

    # Both are new browsers to the adviser's account: they share one count.
    guesses(browser, adviser.username, first - 1)
    guesses(forger, adviser.username, 1)

    (paused,) = guesses(forger, adviser.username, 1)
    assert PAUSED in paused
    (paused,) = guesses(browser, adviser.username, 1)
    assert PAUSED in paused


def test_the_device_cookie_is_set_at_a_full_login_only_and_holds_no_name(
    new_client, adviser, clock
):
    browser = new_client()
    password_step(browser, adviser.username, adviser.password)
    assert browser.get_cookie(DEVICE_COOKIE, domain="localhost") is None  # one factor only

    login_staff(browser, adviser)

    cookie = browser.get_cookie(DEVICE_COOKIE, domain="localhost")
    assert cookie is not None and cookie.secure and cookie.http_only
    assert cookie.same_site == "Strict" and cookie.path == "/"
    assert adviser.username not in cookie.value


def test_a_full_limiter_table_forgets_the_oldest_counter_and_refuses_nobody(clock):
    limiter = MemoryRateLimiter()
    limiter._MAX_KEYS = 3
    for key in ("old", "a", "b"):
        assert limiter.hit(key, limit=1, window_seconds=900)
    assert not limiter.hit("a", limit=1, window_seconds=900)  # "a" is now the most recent

    assert limiter.hit("newcomer", limit=1, window_seconds=900), "a full table refused"
    assert not limiter.hit("a", limit=1, window_seconds=900), "a recent count was forgotten"
    assert limiter.hit("old", limit=1, window_seconds=900), "the oldest was forgotten"
