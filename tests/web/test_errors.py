"""Error pages (dissent.web.errors): an error nobody expected is a neutral page and a log
line naming its type, never a wrong message next to a field."""

from __future__ import annotations

import logging
import re
import sqlite3

import psycopg
import pytest
from flask import has_request_context, request
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from dissent.extensions import db
from dissent.models import Escalation, Observation, Role, StaffUser
from tests.helpers.casework import checked_hash, file_and_acknowledge, post_summary
from tests.helpers.outage import flaky_store
from tests.helpers.pages import BASE_URL, count
from tests.helpers.source import post_submission, shown_codename
from tests.helpers.staff import login_staff

BROKEN_KEY = "age1-not-a-key-secret-9931"


def test_a_bad_stored_key_is_an_error_page_not_choose_a_leader(
    app, new_client, mission, make_staff, caplog
):
    adviser, leader = make_staff(Role.ADVISER), make_staff(Role.LEADERSHIP)
    staff = new_client()
    login_staff(staff, adviser)
    _source, ref = file_and_acknowledge(new_client, staff, consent="summary_allowed")
    with app.app_context(), db.unit():
        db.session.execute(
            update(StaffUser).where(StaffUser.id == leader.id).values(recipient=BROKEN_KEY)
        )
    text = "Figures were rounded up in the quarterly report."
    checked = checked_hash(post_summary(staff, ref, text, "check"))

    with caplog.at_level(logging.ERROR, logger="dissent"):
        response = post_summary(staff, ref, text, "escalate", [leader.id], checked)

    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Choose at least one leader" not in page
    assert "Something went wrong on our side" in page
    assert "KeyFormatError" in caplog.text and BROKEN_KEY not in caplog.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Escalation)) == 0


def test_an_unknown_page_is_a_plain_404(client):
    response = client.get("/no/such/page", base_url=BASE_URL)

    assert response.status_code == 404
    assert "There is no page here." in response.get_data(as_text=True)


# --- errors after the view and in clean-up: the app's own page, one line, no SQL ---------------

CANARY = "canary-in-sql-params-5521"
BUSY = "The service is busy for a moment. Nothing you typed was stored yet."
WENT_WRONG = "Something went wrong on our side"


def sql_error(statement: str) -> OperationalError:
    """A database error as SQLAlchemy raises it: its text holds the statement and the
    parameters (here a canary standing for what a source wrote)."""
    return OperationalError(statement, {"text": CANARY}, ConnectionResetError("reset by peer"))


def error_id_of(response) -> str:
    match = re.search(r"Error reference: ([0-9a-f]{8})", response.get_data(as_text=True))
    assert match, "no error reference on the page"
    return match.group(1)


def assert_one_line_without_sql(caplog, kind: str, error_id: str) -> None:
    """The log names the error's type and id and where it happened, and nothing else:
    no statement, no parameter, no traceback (from dissent's handler or Flask's own)."""
    assert f"unhandled {kind} at " in caplog.text
    assert f"(error id {error_id})" in caplog.text
    assert CANARY not in caplog.text
    assert "stored_session" not in caplog.text and "[SQL:" not in caplog.text
    assert "Traceback" not in caplog.text
    assert all(record.exc_info is None for record in caplog.records)


@pytest.fixture
def production(app):
    """Flask as in production: an error it does not handle is logged, not raised."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_a_session_that_cannot_be_saved_is_the_busy_page_and_one_line(
    production, client, adviser, caplog
):
    assert CANARY in str(sql_error("UPDATE stored_session SET sealed=?"))  # what Flask logged

    def refuse_session_writes(conn, cursor, statement, parameters, context, executemany):
        if "stored_session" in statement and not statement.lstrip().upper().startswith("SELECT"):
            raise sql_error(statement)

    event.listen(db.engine(production), "before_cursor_execute", refuse_session_writes)
    with caplog.at_level(logging.DEBUG):
        # Filing keeps a record for the second request of a double click first.
        response = post_submission(client, what="Kept only with a session record.")

    assert response.status_code == 503
    assert BUSY in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"]  # a page of the app's own
    assert_one_line_without_sql(
        caplog, "SessionStoreUnavailable (from OperationalError)", error_id_of(response)
    )


@pytest.mark.parametrize("stage", ["request", "application context"])
def test_a_failing_clean_up_is_the_error_page_and_one_line(production, client, caplog, stage):
    def clean_up(_exc):
        raise sql_error("DELETE FROM scratch WHERE text = ?")

    if stage == "request":
        production.teardown_request(clean_up)
    else:  # run last, after the database session was closed
        production.teardown_appcontext_funcs.insert(0, clean_up)
    with caplog.at_level(logging.DEBUG):
        response = client.get("/", base_url=BASE_URL)

    assert response.status_code == 500
    assert WENT_WRONG in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"]
    assert_one_line_without_sql(caplog, "OperationalError", error_id_of(response))


def test_a_failing_after_request_hook_is_the_error_page_not_flasks_log(production, client, caplog):
    @production.after_request
    def failing(_response):
        raise sql_error("UPDATE counters SET n = n + 1 WHERE text = ?")

    with caplog.at_level(logging.DEBUG):
        response = client.get("/", base_url=BASE_URL)

    assert response.status_code == 500
    assert WENT_WRONG in response.get_data(as_text=True)
    assert_one_line_without_sql(caplog, "OperationalError", error_id_of(response))


def test_a_new_codename_still_goes_out_if_clean_up_fails(production, client, adviser, caplog):
    def clean_up(_exc):
        if request.method == "POST":
            raise sql_error("DELETE FROM scratch WHERE text = ?")

    production.teardown_request(clean_up)
    with caplog.at_level(logging.DEBUG):
        page = post_submission(client, what="Filed while clean-up failed.")

    assert page.status_code == 200
    assert shown_codename(page)
    assert count(production, Observation) == 1
    assert "survived OperationalError at " in caplog.text
    assert CANARY not in caplog.text


def test_a_new_codename_still_goes_out_if_the_database_goes_away_after_the_commit(
    production, client, adviser
):
    # Invariant 4: once the observation is committed, nothing may stand between it and
    # its codename page; here every statement after the commit fails (the session too).
    engine = db.engine(production)
    committed = []

    def note_commit(_session):
        # The request's own transaction (the session store commits on its connections).
        if has_request_context() and request.method == "POST":
            committed.append(True)

    def gone_after_the_commit(conn, cursor, statement, parameters, context, executemany):
        if committed:
            raise sql_error(statement)

    event.listen(Session, "after_commit", note_commit)
    event.listen(engine, "before_cursor_execute", gone_after_the_commit)
    try:
        page = post_submission(client, what="Filed just before the database went away.")
    finally:
        event.remove(Session, "after_commit", note_commit)

    assert page.status_code == 200
    assert shown_codename(page)
    assert "What happens next" in page.get_data(as_text=True)
    event.remove(engine, "before_cursor_execute", gone_after_the_commit)
    assert count(production, Observation) == 1


def test_a_staff_page_with_the_session_store_down_is_the_same_busy_page(app, client, adviser):
    backend = flaky_store(app)
    login_staff(client, adviser)
    backend.down = True

    response = client.get("/adviser/", base_url=BASE_URL)

    assert response.status_code == 503
    assert BUSY in response.get_data(as_text=True)
    assert response.headers["Retry-After"]
    error_id_of(response)
    backend.down = False
    assert client.get("/adviser/", base_url=BASE_URL).status_code == 200  # still logged in


def database_says(orig: Exception):
    """A listener failing every INSERT of an observation as the database would."""

    def refuse(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO OBSERVATION"):
            raise OperationalError(statement, {"text": CANARY}, orig)

    return refuse


def sqlite_full() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = 13  # SQLITE_FULL
    return error


@pytest.mark.parametrize(
    ("orig", "status", "says"),
    [
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), 503, BUSY),
        (psycopg.OperationalError("server closed the connection unexpectedly"), 503, BUSY),
        (sqlite3.OperationalError("database is locked"), 503, BUSY),
        (sqlite_full(), 507, "The server is out of space, so nothing you sent was stored."),
        (psycopg.errors.DiskFull("could not extend file"), 507, "The server is out of space"),
    ],
)
def test_a_database_that_cannot_take_the_observation_says_so_and_gives_the_text_back(
    production, client, mission, adviser, caplog, orig, status, says
):
    if isinstance(orig, sqlite3.OperationalError) and orig.args[0] == "database is locked":
        orig.sqlite_errorcode = 5  # SQLITE_BUSY: another writer held the lock too long
    event.listen(db.engine(production), "before_cursor_execute", database_says(orig))
    typed = "The water audit was postponed twice without a reason."

    with caplog.at_level(logging.DEBUG):
        response = post_submission(client, what=typed)

    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert says in page
    assert typed in page  # shown back to be copied, as the page asks
    assert count(production, Observation) == 0
    assert_one_line_without_sql(caplog, "OperationalError", error_id_of(response))


def test_no_free_database_connection_is_the_busy_page(production, client, mission, adviser):
    def no_connection_free(*_args):
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")

    event.listen(db.engine(production), "before_cursor_execute", no_connection_free)

    response = client.get("/submit", base_url=BASE_URL)

    assert response.status_code == 503
    assert BUSY in response.get_data(as_text=True)


def test_a_mistake_in_a_statement_is_still_the_plain_error_page(
    production, client, mission, adviser
):
    # Only a store that does not answer is "busy"; a bad statement is our own fault.
    event.listen(
        db.engine(production),
        "before_cursor_execute",
        database_says(psycopg.errors.UndefinedTable("relation does not exist")),
    )

    response = post_submission(client, what="Something happened.")

    assert response.status_code == 500
    assert WENT_WRONG in response.get_data(as_text=True)
