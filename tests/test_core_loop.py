"""The core loop over HTTP: a source files, an adviser reads and replies, the source reads."""

from __future__ import annotations

import re

from dissent.models import Role

from .conftest import BASE_URL, csrf_from, login_staff


def hidden(response, name: str) -> str:
    match = re.search(rf'name="{name}" type="hidden" value="([^"]*)"'.encode(), response.data)
    assert match, f"no hidden field {name}"
    return match.group(1).decode()


def submit_observation(client, *, what: str, **extra) -> str:
    """File an observation through the form; return the codename shown."""
    page = client.get("/submit", base_url=BASE_URL)
    data = {
        "csrf_token": csrf_from(page),
        "submit_token": hidden(page, "submit_token"),
        "mission": re.search(rb'name="mission" value="(\d+)"', page.data).group(1).decode(),
        "category": "reporting_accuracy",
        "what": what,
        "when": "last_month",
        "where": "",
        "contradicts": "yes",
        "official_report": "Q3 progress report",
        "consent": "ask_first",
        **extra,
    }
    response = client.post("/submit", data=data, base_url=BASE_URL)
    assert response.status_code == 303, response.data.decode()[:2000]
    page = client.get(response.headers["Location"], base_url=BASE_URL)
    codename = (
        re.search(rb'<p class="codename" id="codename">([a-z -]+)</p>', page.data).group(1).decode()
    )
    response = client.post(
        "/submit/codename", data={"csrf_token": csrf_from(page), "saved": "y"}, base_url=BASE_URL
    )
    assert response.status_code == 303
    return codename


def test_source_adviser_source(app, new_client, mission, make_staff):
    adviser = make_staff(Role.ADVISER)
    source = new_client()
    codename = submit_observation(source, what="Literacy figures were rounded up in the report.")
    inbox = source.get("/inbox", base_url=BASE_URL)
    assert b"Literacy figures were rounded up" in inbox.data

    staff = new_client()
    page = login_staff(staff, adviser)
    ref = re.search(rb"/adviser/o/([A-Z0-9-]{9})", page.data).group(1).decode()
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    assert b"Literacy figures were rounded up" in page.data
    response = staff.post(
        f"/adviser/o/{ref}/reply",
        data={"csrf_token": csrf_from(page), "text": "Thank you. Which report section?"},
        base_url=BASE_URL,
    )
    assert response.status_code == 303

    returning = new_client()
    page = returning.get("/login", base_url=BASE_URL)
    response = returning.post(
        "/login",
        data={"csrf_token": csrf_from(page), "codename": codename.upper()},
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    inbox = returning.get("/inbox", base_url=BASE_URL)
    assert b"Thank you. Which report section?" in inbox.data
