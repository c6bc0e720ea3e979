"""Issue 15, finding 12: a failed staff login does the same work whether or not the
username exists, so its time does not tell a guesser which names are accounts.

Timing itself is too noisy for a test; what makes the time is counted instead: the
password-hash verifications, and every statement sent to the database and every commit.
Both kinds of failure must send the same statements, in the same order. On SQLite and
(with ``DISSENT_TEST_DATABASE_URL``) on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, select

from dissent.extensions import db
from dissent.models import AuditEntry
from dissent.services import audit
from dissent.services.passwords import PasswordHashing
from tests.helpers.staff import WRONG_LOGIN, password_step


@contextmanager
def work_done(app, monkeypatch) -> Iterator[list[str]]:
    """Yield a list that collects what one request does: each password verification,
    each SQL statement (its text, parameters left out) and each commit."""
    done: list[str] = []
    verify = PasswordHashing.verify

    def counted_verify(self, password_hash, password):
        done.append("verify password")
        return verify(self, password_hash, password)

    def statement(conn, cursor, sql, parameters, context, executemany):
        done.append(re.sub(r"\s+", " ", sql).strip())

    def commit(conn):
        done.append("COMMIT")

    engine = db.engine(app)
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(PasswordHashing, "verify", counted_verify)
            yield done
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)


def failed_login(app, new_client, monkeypatch, username: str) -> list[str]:
    """Return the work of one wrong-password login for ``username`` (the login page
    is loaded first, outside the count)."""
    browser = new_client()
    with work_done(app, monkeypatch) as done:
        response = password_step(browser, username, "not the password at all")
    assert WRONG_LOGIN in response.data
    # Loading the login page is counted too; only the POST matters, and it is the same
    # page for both, so the whole list can be compared.
    return done


def test_a_wrong_password_and_an_unknown_name_do_the_same_work(
    app, new_client, adviser, make_staff, monkeypatch
):
    # A first failure of each kind, so that caches warmed by the first request of
    # the process do not make the comparison unfair.
    failed_login(app, new_client, monkeypatch, adviser.username)
    failed_login(app, new_client, monkeypatch, "nobody-here")
    other = make_staff(adviser.role)

    existing = failed_login(app, new_client, monkeypatch, other.username)
    unknown = failed_login(app, new_client, monkeypatch, "nobody-at-all")

    assert existing.count("verify password") == unknown.count("verify password") == 1
    assert existing.count("COMMIT") == unknown.count("COMMIT")
    assert existing == unknown


def test_every_failed_login_is_in_the_ledger_and_no_unknown_name_is(
    app, new_client, adviser, monkeypatch
):
    failed_login(app, new_client, monkeypatch, adviser.username)
    # An unknown "name" may be a password typed in the wrong field: it is not kept.
    failed_login(app, new_client, monkeypatch, "hunter2-typed-in-the-wrong-box")

    with app.app_context():
        failures = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == audit.Action.LOGIN_FAILED)
        ).all()
    assert [f.actor for f in failures] == [adviser.username, audit.UNKNOWN_ACCOUNT]
    assert all("hunter2" not in f"{f.actor} {f.subject}" for f in failures)
