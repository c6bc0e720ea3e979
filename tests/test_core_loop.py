"""The core loop over HTTP: a source files, an adviser reads and replies, the source reads."""

from __future__ import annotations

import re

from dissent.models import Role
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import submit_observation
from tests.helpers.staff import login_staff


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
