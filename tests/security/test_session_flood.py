"""Opening a form stores no session (issue 15, finding 9).

Every cookie-less visit of a form page used to store a session record (the form's CSRF
token, the codename its submit would get) kept until the next midnight: one client could
fill the store with gigabytes a day. A visitor who only opens forms now gets a cookie and
nothing stored; the form's tokens are made from the cookie's key. A record is stored once
there is something worth keeping, and the tokens are still checked.
"""

from __future__ import annotations

import pytest

from dissent.models import Observation
from dissent.services import submission
from dissent.services.errors import MissionUnavailable
from tests.helpers.pages import BASE_URL, count, csrf_from
from tests.helpers.source import form_data, post_submission, shown_codename

FORM_PAGES = ["/", "/submit", "/login", "/staff/login"]
VISITS = 50


def stored_sessions(app) -> int:
    return app.session_interface.store.count()


@pytest.mark.parametrize("path", FORM_PAGES)
def test_cookie_less_visits_of_a_form_page_store_no_session(app, new_client, adviser, path):
    before = stored_sessions(app)

    for _ in range(VISITS):
        response = new_client().get(path, base_url=BASE_URL)
        assert response.status_code == 200, path

    assert stored_sessions(app) == before


def test_after_the_flood_a_real_submission_is_filed_and_the_form_still_checked(
    app, new_client, adviser
):
    for _ in range(VISITS):
        new_client().get("/submit", base_url=BASE_URL)
    source, stranger = new_client(), new_client()
    page = source.get("/submit", base_url=BASE_URL)
    data = form_data(page, what="Filed after a flood of form pages.")

    without_token = source.post("/submit", data={**data, "csrf_token": ""}, base_url=BASE_URL)
    foreign_token = source.post(
        "/submit",
        data={**data, "csrf_token": csrf_from(stranger.get("/submit", base_url=BASE_URL))},
        base_url=BASE_URL,
    )
    from_elsewhere = stranger.post("/submit", data=data, base_url=BASE_URL)

    for refused in (without_token, foreign_token, from_elsewhere):
        assert refused.status_code == 400
        assert b'id="codename"' not in refused.data
    assert count(app, Observation) == 0
    filed = source.post("/submit", data=data, base_url=BASE_URL)
    assert filed.status_code == 200
    assert shown_codename(filed)
    assert count(app, Observation) == 1
    assert source.get("/inbox", base_url=BASE_URL).status_code == 200  # logged in: stored
    assert stranger.get("/inbox", base_url=BASE_URL).status_code == 302


def test_a_filing_refused_after_the_form_was_taken_leaves_no_record(
    app, new_client, adviser, monkeypatch
):
    def mission_closed_meanwhile(*args, **kwargs):
        raise MissionUnavailable

    monkeypatch.setattr(submission, "submit_observation", mission_closed_meanwhile)
    before = stored_sessions(app)

    for _ in range(5):
        refused = post_submission(new_client(), what="Filed as the mission closed.")
        assert refused.status_code == 400

    assert stored_sessions(app) == before


def test_a_source_login_without_the_pages_token_is_refused(app, new_client):
    browser = new_client()
    browser.get("/login", base_url=BASE_URL)
    before = stored_sessions(app)

    response = browser.post("/login", data={"codename": "a b c d e f g"}, base_url=BASE_URL)

    assert response.status_code == 400
    assert b"security token" in response.data or b"expired" in response.data
    assert stored_sessions(app) == before


def test_a_staff_login_without_the_pages_token_is_refused(app, new_client, adviser):
    browser = new_client()
    browser.get("/staff/login", base_url=BASE_URL)

    response = browser.post(
        "/staff/login",
        data={"username": adviser.username, "password": adviser.password},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert browser.get("/staff/2fa", base_url=BASE_URL).status_code == 302
