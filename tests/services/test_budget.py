"""Hourly filing budgets (dissent.services.budget): counted in the request's transaction,
per hour, for the instance and each mission, in rows that say the day only."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from dissent.config import MIN_FILING_BUDGET_MIB
from dissent.crypto.padding import padded_size
from dissent.extensions import db
from dissent.models import RateLimitCounter
from dissent.services import attachments, budget
from dissent.services.budget import Budget, BudgetReached

HOUR = 3600
START = 1_800_000_000  # 08:00 UTC, the start of an hour


@pytest.fixture
def config(config):
    return {**config, "FILING_BUDGET_OBSERVATIONS": 4, "FILING_BUDGET_MISSION_OBSERVATIONS": 2}


@pytest.fixture
def clock(monkeypatch) -> dict[str, float]:
    now = {"now": float(START + 60)}
    monkeypatch.setattr(budget, "time", SimpleNamespace(time=lambda: now["now"]))
    return now


def spend(app, mission_id: int, amount: int = 1, kind: Budget = Budget.OBSERVATIONS) -> bool:
    """Spend in a transaction of its own; return whether it was allowed."""
    try:
        with app.app_context(), db.unit():
            budget.spend(
                db.session.connection(),
                app.extensions["dissent.settings"],
                kind,
                mission_id=mission_id,
                amount=amount,
            )
    except BudgetReached:
        return False
    return True


def counters(app) -> list[RateLimitCounter]:
    with app.app_context():
        return list(db.session.scalars(select(RateLimitCounter)))


def test_a_mission_gets_its_budget_then_is_refused_until_the_next_hour(app, clock):
    assert [spend(app, 1) for _ in range(3)] == [True, True, False]
    assert spend(app, 2), "each mission has a budget of its own"

    clock["now"] = START + HOUR - 1
    assert not spend(app, 1)
    clock["now"] = START + HOUR
    assert spend(app, 1)


def test_the_instance_budget_holds_across_missions_and_a_refusal_takes_nothing(app, clock):
    assert [spend(app, mission) for mission in (1, 1, 2, 2)] == [True] * 4

    assert not spend(app, 3)  # its own budget is untouched, the instance's is used up
    with app.app_context():
        state = budget.state(db.session.connection(), app.extensions["dissent.settings"], [3])
    # The refused filing counted nowhere: its transaction rolled back whole.
    assert state.missions[3][Budget.OBSERVATIONS].used == 0
    assert state.instance[Budget.OBSERVATIONS].used == 4
    assert state.instance[Budget.OBSERVATIONS].reached


def test_the_check_before_the_costly_work_reads_and_refuses(app, clock):
    settings = app.extensions["dissent.settings"]
    spend(app, 1)
    with app.app_context():
        budget.check(db.session.connection(), settings, Budget.OBSERVATIONS, mission_id=1)
    spend(app, 1)

    with app.app_context(), pytest.raises(BudgetReached) as refused:
        budget.check(db.session.connection(), settings, Budget.OBSERVATIONS, mission_id=1)
    assert refused.value.retry_at == datetime.fromtimestamp(START + HOUR, UTC)
    assert refused.value.retry_after_seconds() == HOUR - 60


def test_volume_is_counted_in_kib_and_one_amount_over_the_limit_is_refused(app, clock):
    settings = app.extensions["dissent.settings"]
    _, per_mission = budget.limits(settings, Budget.VOLUME)

    assert budget.kib(1) == 1 and budget.kib(1024) == 1 and budget.kib(1025) == 2
    assert per_mission == settings.filing_budget_mission_mib * 1024
    assert not spend(app, 1, per_mission + 1, Budget.VOLUME)
    assert spend(app, 1, per_mission, Budget.VOLUME)
    assert not spend(app, 1, 1, Budget.VOLUME)
    assert spend(app, 1, 1, Budget.OBSERVATIONS), "the two budgets are counted apart"


def test_the_smallest_volume_budget_holds_the_largest_file_as_stored():
    largest = padded_size(attachments.MAX_ATTACHMENT_BYTES)

    assert budget.kib(largest) < MIN_FILING_BUDGET_MIB * 1024


def test_a_counter_names_neither_mission_nor_hour_and_expires_with_its_day(app, clock):
    settings = app.extensions["dissent.settings"]
    spend(app, 1)

    names = {c.name for c in counters(app)}
    window = START // HOUR
    assert names == {
        budget.counter_name(settings, Budget.OBSERVATIONS, mission_id=scope, window=window)
        for scope in (None, 1)
    }
    other_hour = budget.counter_name(settings, Budget.OBSERVATIONS, mission_id=1, window=window + 1)
    assert other_hour not in names
    # 08:01 on 15 January 2027: the rows say "until the end of that day", no more.
    assert {c.expires_at.replace(tzinfo=None) for c in counters(app)} == {datetime(2027, 1, 16)}


def test_the_counts_of_past_hours_are_removed_by_the_next_filing(app, clock):
    spend(app, 1)
    spend(app, 2)
    assert len(counters(app)) == 3  # the instance's, and one per mission

    clock["now"] += HOUR
    spend(app, 1)

    # Mission 1's and the instance's past hour are gone; mission 2's waits for its next
    # filing (or the end of the day).
    settings = app.extensions["dissent.settings"]
    window = int(clock["now"]) // HOUR
    past_of_2 = budget.counter_name(settings, Budget.OBSERVATIONS, mission_id=2, window=window - 1)
    assert {c.name for c in counters(app)} == {
        past_of_2,
        *(
            budget.counter_name(settings, Budget.OBSERVATIONS, mission_id=scope, window=window)
            for scope in (None, 1)
        ),
    }

    clock["now"] += 24 * HOUR  # a day later: every counter of that day has expired
    spend(app, 3)
    with app.app_context():
        left = db.session.scalar(select(func.count()).select_from(RateLimitCounter))
    assert left == 2
