"""Issue 15, finding 7: one TOTP code opens one session, even when two requests carrying
it arrive together (someone who watched the code being typed, racing its owner).

Both requests are held after reading the account and checking the code, so both have
seen the same "last used step" before either records it. Over real HTTP, on SQLite and
(with ``DISSENT_TEST_DATABASE_URL``) on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from dissent.extensions import db
from dissent.models import AuditEntry
from dissent.services import accounts, audit
from tests.helpers.http import HttpClient, serving
from tests.helpers.pages import form_fields, text_of
from tests.helpers.races import at_once, released_together
from tests.helpers.staff import next_totp, password_step

REFUSED = "That code is wrong, expired or already used."


@pytest.fixture
def served(app) -> Iterator[str]:
    with serving(app) as url:
        yield url


def test_one_code_sent_twice_at_once_opens_one_session(app, served, adviser, monkeypatch):
    browsers = [HttpClient(served) for _ in range(2)]
    for browser in browsers:  # both know the password; both wait for the second factor
        assert password_step(browser, adviser.username, adviser.password).status_code == 303
    code = next_totp(adviser.totp_secret)
    forms = [form_fields(b.get("/staff/2fa"), "/staff/2fa", code=code) for b in browsers]

    with released_together(monkeypatch, accounts, "_matching_step"):
        results = at_once(
            *[
                lambda b=b, f=f: b.post("/staff/2fa", f)
                for b, f in zip(browsers, forms, strict=True)
            ]
        )

    assert sorted(r.status_code for r in results) == [303, 400]
    (refused,) = [r for r in results if r.status_code == 400]
    assert REFUSED in text_of(refused)
    (winner,) = [b for b, r in zip(browsers, results, strict=True) if r.status_code == 303]
    (loser,) = [b for b, r in zip(browsers, results, strict=True) if r.status_code == 400]
    assert winner.get("/adviser/").status_code == 200
    assert loser.get("/adviser/").status_code == 302  # still not logged in
    with app.app_context():
        logins = db.session.scalar(
            select(func.count()).where(
                AuditEntry.actor == adviser.username, AuditEntry.action == audit.Action.LOGIN
            )
        )
    assert logins == 1
