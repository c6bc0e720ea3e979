"""The outbox's mechanics: a run's claim on a person's rows, sent or tried again after a
pause that grows, and the record of how sending went."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from dissent.extensions import db
from dissent.models import Notification, NotificationKind, Role
from dissent.services import outbox
from tests.helpers.notify import at, give_address, rows
from tests.helpers.services import file_case

K = NotificationKind


@pytest.fixture
def advisers(app, mission, make_staff):
    """Two advisers of the test mission with mail addresses."""
    first, second = make_staff(Role.ADVISER), make_staff(Role.ADVISER)
    give_address(app, first)
    give_address(app, second)
    return first, second


def test_a_row_already_waiting_is_not_added_twice_but_one_sent_is_added_again(app, advisers):
    first, _ = advisers
    again = [outbox.Pending(first.id, K.SOURCE_MESSAGE, 7)]
    with app.app_context(), db.unit():
        outbox.add(db.session.connection(), again, on=date.today())
        outbox.add(db.session.connection(), again, on=date.today())
    assert rows(app) == [(first.id, K.SOURCE_MESSAGE, 7)]

    with app.app_context(), db.unit():
        claim = outbox.claim(db.session, staff_id=first.id, token="t" * 32, now=at(date.today()))
        outbox.mark_sent(db.session, claim, on=date.today())
        outbox.add(db.session.connection(), again, on=date.today())
    assert rows(app, pending=True) == [(first.id, K.SOURCE_MESSAGE, 7)]
    assert rows(app, pending=False) == [(first.id, K.SOURCE_MESSAGE, 7)]


def test_a_second_claim_on_the_same_person_gets_nothing_until_the_first_lapses(
    app, mission, advisers
):
    first, _ = advisers
    file_case(app, mission.id)
    now = at(date.today())
    with app.app_context(), db.unit():
        held = outbox.claim(db.session, staff_id=first.id, token="a" * 32, now=now)
    with app.app_context(), db.unit():
        other = outbox.claim(db.session, staff_id=first.id, token="b" * 32, now=now)
        later = outbox.claim(
            db.session,
            staff_id=first.id,
            token="c" * 32,
            now=now + timedelta(minutes=outbox.CLAIM_MINUTES + 1),
        )

    assert held is not None and held.rows == ((K.NEW_OBSERVATION, held.rows[0][1]),)
    assert other is None
    assert later is not None  # the first run died: its claim lapsed


def test_a_failed_digest_waits_longer_each_time(app, mission, advisers):
    first, _ = advisers
    file_case(app, mission.id)
    now = at(date.today())
    waits = []
    for _ in range(4):
        with app.app_context(), db.unit():
            assert first.id in outbox.due_people(db.session, now=now)
            claim = outbox.claim(
                db.session, staff_id=first.id, token=secrets.token_hex(16), now=now
            )
            retry_at = outbox.mark_failed(db.session, claim, now=now)
            assert first.id not in outbox.due_people(
                db.session, now=retry_at - timedelta(seconds=1)
            )
        waits.append(retry_at - now)
        now = retry_at
    assert waits == [
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=1),
        timedelta(hours=2),
    ]
    assert outbox.backoff(30) == outbox.BACKOFF_MAX


def test_the_state_counts_what_waits_and_records_runs(app, mission, advisers):
    first, _ = advisers
    file_case(app, mission.id)
    now = at(date.today())
    with app.app_context(), db.unit():
        claim = outbox.claim(db.session, staff_id=first.id, token="f" * 32, now=now)
        outbox.mark_failed(db.session, claim, now=now)
        outbox.record_run(db.session, now=now, problem="unreachable")
    with app.app_context():
        failed = outbox.state(db.session)
    with app.app_context(), db.unit():
        outbox.record_run(db.session, now=now + timedelta(minutes=30), problem=None)
    with app.app_context():
        later = outbox.state(db.session)
        waiting = db.session.scalar(select(func.count()).select_from(Notification))

    assert (failed.queued, failed.people, failed.failing) == (waiting, 2, 1)
    assert (failed.last_problem, failed.failed_runs, failed.last_success_at) == (
        "unreachable",
        1,
        None,
    )
    assert later.last_success_at == now + timedelta(minutes=30)
    assert later.failed_runs == 0 and later.last_failure_at == now
