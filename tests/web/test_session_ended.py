"""Nothing typed is lost on a timeout (issue 12, item 2): a form sent after its session
ended gets a page that says so and shows back what was typed (never a codename or a
password), uncached; and the pages say how long a session lasts before it runs out."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from dissent.models import utcnow
from tests.helpers.casework import file_and_acknowledge, file_and_escalate, refs
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import file_observation, source_login
from tests.helpers.staff import login_staff

CANARY = "Typed-after-timeout: the rations ledger was rewritten twice."


@pytest.fixture
def clock(monkeypatch) -> dict[str, timedelta]:
    """Move the session store's clock forward by ``clock["by"]``."""
    offset = {"by": timedelta(0)}

    def shifted():
        return utcnow() + offset["by"]

    monkeypatch.setattr("dissent.security.session_store.utcnow", shifted)
    monkeypatch.setattr("dissent.security.sessions.utcnow", shifted)
    return offset


def shown_back(response) -> list[str]:
    """Return the read-only text areas of the page (what it shows back)."""
    return [
        html.unescape(text).strip()
        for text in re.findall(r"<textarea[^>]*readonly[^>]*>(.*?)</textarea>", response.text, re.S)
    ]


def login_link(response) -> str:
    found = re.search(r'<a class="login-again" href="([^"]+)"', response.text)
    assert found, "the page offers no way to log in again"
    return found.group(1)


# --- a source ------------------------------------------------------------------------------------


def test_a_sources_reply_after_the_session_ended_is_shown_back(app, new_client, adviser, clock):
    source = new_client()
    codename = file_observation(source, what="The first observation.")
    ref = refs(app)[0]
    inbox = source.get("/inbox", base_url=BASE_URL)
    clock["by"] = timedelta(minutes=31)

    response = source.post(
        f"/inbox/{ref}/reply",
        data={"csrf_token": csrf_from(inbox), "text": CANARY},
        base_url=BASE_URL,
    )

    assert response.status_code == 401
    assert "no-store" in response.headers["Cache-Control"]
    assert shown_back(response) == [CANARY]
    assert "30 minutes" in response.text
    assert login_link(response) == "/login"
    assert codename not in response.text
    # Nothing was kept: after logging in again the thread does not hold it.
    clock["by"] = timedelta(0)
    again = new_client()
    assert source_login(again, codename).status_code == 303
    assert CANARY not in again.get("/inbox", base_url=BASE_URL).text


def test_a_sources_inbox_says_how_long_the_session_lasts(new_client, adviser):
    source = new_client()
    file_observation(source, what="The first observation.")

    inbox = source.get("/inbox", base_url=BASE_URL)

    assert "30 minutes without activity" in inbox.text


# --- staff ---------------------------------------------------------------------------------------


def post_to_case_after_timeout(new_client, adviser, clock, action: str, fields: dict):
    """Have ``adviser`` open an acknowledged case, stay idle past the staff session's 15
    minutes, then send ``fields`` to the case's ``action``; return the response."""
    staff = new_client()
    login_staff(staff, adviser)
    _source, ref = file_and_acknowledge(new_client, staff, consent="ask_first")
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    clock["by"] = timedelta(minutes=16)
    return staff.post(
        f"/adviser/o/{ref}/{action}",
        data={"csrf_token": csrf_from(page), **fields},
        base_url=BASE_URL,
    )


def test_an_advisers_note_after_the_session_ended_is_shown_back(new_client, adviser, clock):
    response = post_to_case_after_timeout(
        new_client, adviser, clock, "notes", {"note-text": CANARY}
    )

    assert response.status_code == 401
    assert shown_back(response) == [CANARY]
    assert "15 minutes" in response.text
    assert login_link(response) == "/staff/login"


def test_an_advisers_acknowledgement_after_the_session_ended_is_explained(
    new_client, adviser, clock
):
    response = post_to_case_after_timeout(
        new_client, adviser, clock, "state", {"to_state": "in_review"}
    )

    assert response.status_code == 401
    assert "nothing was done" in response.text
    assert shown_back(response) == []
    assert login_link(response) == "/staff/login"


def test_a_leaders_response_after_the_session_ended_is_shown_back(
    app, new_client, adviser, leader, clock
):
    sent = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    browser = new_client()
    login_staff(browser, leader)
    page = browser.get(sent.url, base_url=BASE_URL)
    clock["by"] = timedelta(minutes=16)

    response = browser.post(
        f"{sent.url}/respond",
        data={"csrf_token": csrf_from(page), "kind": "action_taken", "text": CANARY},
        base_url=BASE_URL,
    )

    assert response.status_code == 401
    assert "no-store" in response.headers["Cache-Control"]
    assert shown_back(response) == [CANARY]


def test_a_password_is_never_shown_back(new_client, adviser, clock):
    staff = new_client()
    page = staff.get("/staff/login", base_url=BASE_URL)

    response = staff.post(
        "/staff/2fa", data={"csrf_token": csrf_from(page), "code": "123456"}, base_url=BASE_URL
    )

    assert response.status_code == 401
    assert shown_back(response) == []
    assert "123456" not in response.text


def test_the_staff_footer_says_the_configured_idle_time(app, config, new_client, make_staff):
    from dissent.app import create_app
    from dissent.models import Role

    other = create_app({**config, "staff_idle_minutes": 20})
    login = make_staff(Role.ADMIN)
    browser = other.test_client()
    login_staff(browser, login)

    page = browser.get("/admin/", base_url=BASE_URL)

    assert "20 minutes without activity" in page.text
