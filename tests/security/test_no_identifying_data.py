"""Invariant 2: nothing identifies a source.

A source's browser sends a recognisable address, forwarded-for header and user agent;
none of them may end up in a database file, a table row or a log line. What the
database keeps about a source's actions is a date, never a time of day.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import date, datetime

import pytest
from sqlalchemy import DateTime, select, text

from dissent.extensions import db
from dissent.models import Base, Message, Observation, Role, Sender, Source
from tests.helpers.casework import observation_ref
from tests.helpers.leaks import capture_all_logging, instance_files, leaks
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import submit_observation
from tests.helpers.staff import login_staff

ADDRESS = "203.0.113.77"
FORWARDED_FOR = "198.51.100.23"
DAY = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")


@pytest.fixture
def user_agent() -> str:
    """A user agent no other test uses."""
    return "UA-CANARY-" + uuid.uuid4().hex


@pytest.fixture
def identifiable(new_client, user_agent):
    """Return a factory of browsers that carry the address and user agent on every request."""

    def make():
        browser = new_client()
        browser.environ_base.update(
            REMOTE_ADDR=ADDRESS,
            HTTP_USER_AGENT=user_agent,
            HTTP_X_FORWARDED_FOR=FORWARDED_FOR,
            HTTP_X_REAL_IP=FORWARDED_FOR,
        )
        return browser

    return make


def source_actions(app, identifiable, mission_id: int) -> str:
    """File, confirm, leave, fail a login, log in, read, reply, hit error pages.

    Return the observation's reference.
    """
    codename = submit_observation(identifiable(), what="The range logbook was backfilled.")
    ref = observation_ref(app, mission_id=mission_id)
    browser = identifiable()
    page = browser.get("/login", base_url=BASE_URL)
    wrong = " ".join(reversed(codename.split()))
    for attempt in (wrong, codename):
        response = browser.post(
            "/login", data={"csrf_token": csrf_from(page), "codename": attempt}, base_url=BASE_URL
        )
    assert response.status_code == 303
    inbox = browser.get("/inbox", base_url=BASE_URL)
    response = browser.post(
        f"/inbox/{ref}/reply",
        data={"csrf_token": csrf_from(inbox), "text": "It happened twice."},
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    assert browser.post(f"/inbox/{ref}/reply", data={}, base_url=BASE_URL).status_code == 400
    assert browser.get("/no-such-page", base_url=BASE_URL).status_code == 404
    assert browser.get("/leave", base_url=BASE_URL).status_code == 200
    return ref


def adviser_replies(new_client, login, ref: str) -> None:
    """An adviser answers (staff-side times may be exact)."""
    staff = new_client()
    login_staff(staff, login)
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    response = staff.post(
        f"/adviser/o/{ref}/reply",
        data={"csrf_token": csrf_from(page), "text": "Thank you; noted."},
        base_url=BASE_URL,
    )
    assert response.status_code == 303


def all_rows(app) -> list[tuple[str, str, object]]:
    """Return every value in the database as (table, column, value)."""
    with app.app_context():
        return [
            (table.name, column, value)
            for table in Base.metadata.sorted_tables
            for row in db.session.execute(select(table)).mappings()
            for column, value in row.items()
        ]


def as_bytes(value: object) -> bytes:
    """Return a stored value as bytes to search in."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def test_address_and_user_agent_are_not_stored_or_logged(
    app, new_client, mission, make_staff, database_url, identifiable, user_agent, caplog, capsys
):
    capture_all_logging(caplog)
    adviser = make_staff(Role.ADVISER)
    secrets = {"address": ADDRESS, "forwarded address": FORWARDED_FOR, "user agent": user_agent}

    ref = source_actions(app, identifiable, mission.id)
    adviser_replies(new_client, adviser, ref)

    found = [
        f"{table}.{column}: {leak}"
        for table, column, value in all_rows(app)
        for leak in leaks(as_bytes(value), secrets)
    ]
    assert not found, found
    captured = capsys.readouterr()
    logs = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    for where, output in (("logs", logs), ("stdout", captured.out), ("stderr", captured.err)):
        assert not leaks(output.encode(), secrets), where
    if database_url.startswith("sqlite"):
        db.engine(app).dispose()
        for name, data in instance_files(app).items():
            assert not leaks(data, secrets), name


def test_source_side_records_keep_dates_only(app, new_client, mission, make_staff, identifiable):
    adviser = make_staff(Role.ADVISER)
    ref = source_actions(app, identifiable, mission.id)
    adviser_replies(new_client, adviser, ref)

    with app.app_context():
        source = db.session.scalar(select(Source))
        observation = db.session.scalar(select(Observation).where(Observation.ref == ref))
        messages = list(observation.messages)
        raw = {
            "source.created_on": db.session.scalar(text("SELECT created_on FROM source")),
            "observation.received_on": db.session.scalar(
                text("SELECT received_on FROM observation")
            ),
            **{
                f"message {m.id} sent_on": db.session.scalar(
                    text("SELECT sent_on FROM message WHERE id = :id"), {"id": m.id}
                )
                for m in messages
            },
        }

    for value in (source.created_on, observation.received_on, *(m.sent_on for m in messages)):
        assert type(value) is date
    for where, value in raw.items():
        assert DAY.match(str(value)), f"{where} is stored as {value!r}"
    by_sender = {m.sender: m for m in messages}
    assert set(by_sender) == {Sender.SOURCE, Sender.ADVISER}
    assert by_sender[Sender.SOURCE].sent_at is None
    assert isinstance(by_sender[Sender.ADVISER].sent_at, datetime)  # staff side: exact


def test_source_tables_have_no_time_of_day_columns():
    for name in ("source", "observation"):
        table = Base.metadata.tables[name]
        timed = [c.name for c in table.columns if isinstance(c.type, DateTime)]
        assert not timed, f"{name} has time-of-day columns {timed}"
    sent_at = Message.__table__.columns["sent_at"]
    assert sent_at.nullable  # set for staff messages only


def time_like(value: object, *, since: float, until: float) -> bool:
    """Return whether ``value`` pins a moment of [since, until] finer than a day."""
    if isinstance(value, datetime):
        return value.time() != datetime.min.time()
    if isinstance(value, int) and not isinstance(value, bool):
        for unit in (1, 60, 3600, 0.001):  # epoch seconds, minutes, hours, milliseconds
            if int(since // unit) - 1 <= value <= int(until // unit) + 1:
                return True
    return False


def test_source_activity_stores_no_time_of_day(app, mission, make_staff, identifiable):
    make_staff(Role.ADVISER)
    before = set(all_rows(app))
    since = time.time()

    source_actions(app, identifiable, mission.id)

    until = time.time()
    changed = [row for row in all_rows(app) if row not in before]
    timed = [
        f"{table}.{column} = {value!r}"
        for table, column, value in changed
        if time_like(value, since=since, until=until)
    ]
    assert not timed, timed
