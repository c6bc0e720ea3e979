"""A copy of the pre-submit cookie cannot open the new inbox (issue 15, finding 18).

The second request of a double click leaves the browser with the old cookie before the
first answer, with the new session, has come back; it must show the same codename. That
grace used to be given to anyone holding the old cookie and the form's token within two
minutes: a copy taken on a shared computer opened the new inbox. It is now bound to what
the browser sent the first time, every answer the source typed included, ends when the
source confirms the codename, and lasts two minutes at most.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from dissent.models import Observation, Source
from dissent.security import sessions
from dissent.security.sessions import SOURCE_COOKIE, TWIN_GRACE
from dissent.source import views
from tests.helpers.http import HttpClient, serving
from tests.helpers.pages import BASE_URL, count, csrf_from
from tests.helpers.source import form_data, shown_codename

TYPED = "Convoy fuel was signed for twice; the second signature is not the driver's."


@pytest.fixture
def filed(app, new_client, adviser):
    """A source who filed an observation, the cookie they had before, and their form."""
    source = new_client()
    page = source.get("/submit", base_url=BASE_URL)
    old_cookie = source.get_cookie(SOURCE_COOKIE).value
    data = form_data(page, what=TYPED)
    first = source.post("/submit", data=data, base_url=BASE_URL)
    assert first.status_code == 200
    return source, old_cookie, data, shown_codename(first)


def copy_of(new_client, cookie: str):
    """A second browser holding a copy of ``cookie``."""
    browser = new_client()
    browser.set_cookie(SOURCE_COOKIE, cookie, domain="localhost")
    return browser


def assert_no_way_in(response, browser, codename: str) -> None:
    assert 400 <= response.status_code < 500
    assert b'id="codename"' not in response.data
    assert codename.encode() not in response.data
    assert browser.get("/inbox", base_url=BASE_URL).status_code == 302  # to the login page


def test_the_copied_cookie_and_form_tokens_do_not_open_the_new_inbox(app, new_client, filed):
    _, old_cookie, data, codename = filed
    thief = copy_of(new_client, old_cookie)
    # Whoever holds the copy has the form's tokens, but not what the source typed.
    guessed = {**data, "what": "Anything at all, typed by whoever holds the copy."}

    response = thief.post("/submit", data=guessed, base_url=BASE_URL)

    assert_no_way_in(response, thief, codename)
    assert count(app, Observation) == count(app, Source) == 1


def test_the_browser_that_submitted_still_gets_its_codename_on_a_double_click(
    new_client, filed, app
):
    _, old_cookie, data, codename = filed
    # The second request of a double click: the old cookie, the same form, the same answers.
    second = copy_of(new_client, old_cookie).post("/submit", data=data, base_url=BASE_URL)

    assert second.status_code == 200
    assert shown_codename(second) == codename
    assert count(app, Observation) == 1


def test_once_the_codename_is_confirmed_even_the_same_request_gets_nothing(new_client, filed):
    source, old_cookie, data, codename = filed
    page = source.get("/submit/codename", base_url=BASE_URL)
    confirmed = source.post(
        "/submit/codename",
        data={"csrf_token": csrf_from(page), "saved": "y"},
        base_url=BASE_URL,
    )
    assert confirmed.status_code == 303
    replayer = copy_of(new_client, old_cookie)

    response = replayer.post("/submit", data=data, base_url=BASE_URL)

    assert_no_way_in(response, replayer, codename)


def test_after_the_grace_period_even_the_same_request_gets_nothing(new_client, filed, monkeypatch):
    _, old_cookie, data, codename = filed
    later = sessions.utcnow() + TWIN_GRACE + timedelta(seconds=1)
    monkeypatch.setattr(sessions, "utcnow", lambda: later)
    replayer = copy_of(new_client, old_cookie)

    response = replayer.post("/submit", data=data, base_url=BASE_URL)

    assert_no_way_in(response, replayer, codename)


def test_a_double_click_whose_requests_race_files_once_with_one_codename(app, adviser, monkeypatch):
    """Both requests of the double click are in flight together (on both databases)."""
    barrier = threading.Barrier(2, timeout=10)
    share = views.share_with_twin

    def both_sent_then_share(*args, **kwargs):
        barrier.wait()
        return share(*args, **kwargs)

    monkeypatch.setattr(views, "share_with_twin", both_sent_then_share)
    with serving(app) as url:
        browser = HttpClient(url)
        data = form_data(browser.get("/submit"), what=TYPED)
        with ThreadPoolExecutor(2) as pool:
            sent = [pool.submit(browser.post, "/submit", data) for _ in range(2)]
            first, second = (future.result(timeout=60) for future in sent)

    assert not barrier.broken
    assert first.status_code == second.status_code == 200
    assert shown_codename(first) == shown_codename(second)
    assert count(app, Observation) == count(app, Source) == 1
