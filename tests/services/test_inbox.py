"""The adviser's inbox: only their missions, paging and counts, due dates, finding one case."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

from dissent.extensions import db
from dissent.models import Category, Consent, Observation, Role, Source, State
from dissent.services import accounts, inbox
from dissent.services.errors import NotFound
from tests.helpers.services import staff_user

_numbers = itertools.count(1)
ON = date(2027, 3, 1)


@pytest.fixture
def eutm(app) -> int:
    with app.app_context(), db.unit():
        return accounts.create_mission(db.session, slug="eutm", name="EUTM Mission").id


@pytest.fixture(autouse=True)
def fixed_day(monkeypatch):
    monkeypatch.setattr(inbox, "today", lambda: ON)


def add(app, mission_id: int, *, days_ago: int, state: State = State.RECEIVED) -> str:
    """Store an observation received ``days_ago`` days before ON; return its reference."""
    n = next(_numbers)
    ref = f"T{n:03d}-0000"
    with app.app_context(), db.unit():
        source = Source(lookup_id=n.to_bytes(32, "big"), recipient="unused", created_on=ON)
        db.session.add(
            Observation(
                ref=ref,
                mission_id=mission_id,
                source=source,
                category=Category.OTHER,
                consent=Consent.NEVER,
                state=state,
                received_on=ON - timedelta(days=days_ago),
                content=b"c",
                submit_token_hash=n.to_bytes(32, "little"),
            )
        )
    return ref


def page_of(app, adviser, page: int = 1) -> inbox.Inbox:
    with app.app_context():
        return inbox.adviser_inbox(db.session, staff_user(adviser), page=page)


def refs(page: inbox.Inbox) -> list[str]:
    return [row.observation.ref for row in page.rows]


def test_an_adviser_sees_and_counts_only_their_missions(app, mission, adviser, eutm):
    own = add(app, mission.id, days_ago=1)
    add(app, eutm, days_ago=30)  # overdue, but not theirs
    shown = page_of(app, adviser)
    assert refs(shown) == [own]
    assert (shown.total, shown.overdue_count) == (1, 0)


def test_an_adviser_of_no_mission_has_an_empty_inbox(app, mission, make_staff, eutm):
    add(app, mission.id, days_ago=30)
    nobody = make_staff(Role.ADVISER, missions=["eutm"])
    shown = page_of(app, nobody)
    assert (shown.rows, shown.total, shown.overdue_count) == ([], 0, 0)


def test_each_row_says_when_acknowledgement_is_due_and_whether_it_is_late(app, mission, adviser):
    on_time = add(app, mission.id, days_ago=7)  # due today: not yet late
    late = add(app, mission.id, days_ago=8)
    handled = add(app, mission.id, days_ago=40, state=State.ACKNOWLEDGED)
    rows = {row.observation.ref: row for row in page_of(app, adviser).rows}
    assert rows[on_time].ack_due == ON and not rows[on_time].overdue
    assert rows[late].ack_due == ON - timedelta(days=1) and rows[late].overdue
    assert not rows[handled].overdue
    assert page_of(app, adviser).overdue_count == 1


def test_each_missions_own_acknowledgement_period_decides_what_is_late(
    app, mission, make_staff, eutm
):
    both = make_staff(Role.ADVISER, missions=["eupol", "eutm"])
    with app.app_context(), db.unit():
        accounts.set_deadlines(db.session, slug="eupol", ack_days=3, feedback_months=3)
    within_seven = add(app, eutm, days_ago=6)
    past_three = add(app, mission.id, days_ago=5)
    shown = page_of(app, both)
    assert refs(shown) == [past_three, within_seven]
    assert [row.overdue for row in shown.rows] == [True, False]
    assert [row.ack_due for row in shown.rows] == [ON - timedelta(days=2), ON + timedelta(days=1)]
    assert shown.overdue_count == 1


def test_pages_split_the_inbox_and_keep_the_order_and_counts(app, mission, adviser, monkeypatch):
    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    late = add(app, mission.id, days_ago=20)
    newest, middle, oldest = (add(app, mission.id, days_ago=d) for d in (0, 1, 2))
    first, second, third = (page_of(app, adviser, n) for n in (1, 2, 3))
    assert refs(first) + refs(second) == [late, newest, middle, oldest]
    assert len(refs(first)) == 2 and refs(third) == []
    assert all((p.total, p.overdue_count) == (4, 1) for p in (first, second, third))
    assert first.pages == 2


def test_an_empty_inbox_has_one_page(app, mission, adviser):
    assert page_of(app, adviser, 1).pages == 1


@pytest.mark.parametrize("page", [0, -3])
def test_a_page_before_the_first_is_the_first(app, mission, adviser, page):
    ref = add(app, mission.id, days_ago=0)
    assert refs(page_of(app, adviser, page)) == [ref]


def test_an_observation_is_found_only_for_an_adviser_of_its_mission(
    app, mission, adviser, make_staff, eutm
):
    ref = add(app, mission.id, days_ago=0)
    outsider = make_staff(Role.ADVISER, missions=["eutm"])
    with app.app_context():
        assert inbox.observation_for_adviser(db.session, staff_user(adviser), ref).ref == ref
        with pytest.raises(NotFound):
            inbox.observation_for_adviser(db.session, staff_user(outsider), ref)
        with pytest.raises(NotFound):
            inbox.observation_for_adviser(db.session, staff_user(adviser), "ZZZZ-ZZZZ")
