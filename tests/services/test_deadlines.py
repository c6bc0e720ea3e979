"""The deadline rules (EU Directive 2019/1937 art. 9, Dutch Wbk) with a controlled clock."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dissent.models import Mission, Observation, State
from dissent.services.deadlines import (
    ack_due,
    ack_overdue,
    add_months,
    feedback_due,
    feedback_overdue,
)


def case(received: date, *, acknowledged: date | None = None, state=State.RECEIVED):
    mission = Mission(slug="m", name="M", ack_days=7, feedback_months=3)
    observation = Observation(received_on=received, acknowledged_on=acknowledged, state=state)
    return observation, mission


def test_acknowledgement_is_due_seven_days_after_receipt():
    observation, mission = case(date(2027, 1, 10))
    assert ack_due(observation, mission) == date(2027, 1, 17)
    assert not ack_overdue(observation, mission, on=date(2027, 1, 17))
    assert ack_overdue(observation, mission, on=date(2027, 1, 18))


def test_an_acknowledged_observation_is_never_overdue_for_acknowledgement():
    observation, mission = case(
        date(2027, 1, 10), acknowledged=date(2027, 1, 20), state=State.ACKNOWLEDGED
    )
    assert not ack_overdue(observation, mission, on=date(2027, 6, 1))


def test_feedback_counts_from_the_acknowledgement_when_one_was_sent():
    observation, mission = case(
        date(2027, 1, 10), acknowledged=date(2027, 1, 12), state=State.ACKNOWLEDGED
    )
    assert feedback_due(observation, mission) == date(2027, 4, 12)


def test_feedback_counts_from_day_seven_when_no_acknowledgement_was_sent():
    observation, mission = case(date(2027, 1, 10))
    # Acknowledgement was due on 17 January; three months from then.
    assert feedback_due(observation, mission) == date(2027, 4, 17)


@pytest.mark.parametrize(
    ("state", "late"),
    [
        (State.ACKNOWLEDGED, True),
        (State.ESCALATED, True),
        (State.FEEDBACK_GIVEN, False),
        (State.CLOSED, False),
        (State.ADVICE_ONLY, False),
    ],
)
def test_feedback_is_overdue_the_day_after_its_day_while_the_source_waits(state, late):
    observation, mission = case(date(2027, 1, 10), acknowledged=date(2027, 1, 12), state=state)
    assert not feedback_overdue(observation, mission, on=date(2027, 4, 12))
    assert feedback_overdue(observation, mission, on=date(2027, 4, 13)) is late


def test_three_months_are_calendar_months_clamped_to_the_month_end():
    assert add_months(date(2027, 1, 31), 3) == date(2027, 4, 30)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)  # a leap year
    assert add_months(date(2027, 12, 15), 1) == date(2028, 1, 15)


def test_per_mission_deadlines_are_used():
    observation, mission = case(date(2027, 1, 10))
    mission.ack_days, mission.feedback_months = 3, 1
    assert ack_due(observation, mission) == date(2027, 1, 13)
    assert feedback_due(observation, mission) == date(2027, 2, 13)


@pytest.mark.parametrize("days_late", [1, 30])
def test_the_inbox_puts_overdue_first_with_a_controlled_clock(
    app, mission, make_staff, monkeypatch, days_late
):
    """The adviser inbox asks the same rule, with 'today' moved forward."""
    from dissent.extensions import db
    from dissent.models import Category, Consent, Role, Source, StaffUser
    from dissent.services import inbox

    adviser = make_staff(Role.ADVISER)
    with app.app_context():
        source = Source(
            lookup_id=b"x" * 32, recipient="age1pq1-not-used", created_on=date(2027, 1, 1)
        )
        old = Observation(
            ref="OLDD-0001",
            mission_id=mission.id,
            source=source,
            category=Category.OTHER,
            consent=Consent.NEVER,
            received_on=date(2027, 1, 1),
            content=b"c",
            submit_token_hash=b"a" * 32,
        )
        new = Observation(
            ref="NEWW-0001",
            mission_id=mission.id,
            source=source,
            category=Category.OTHER,
            consent=Consent.NEVER,
            received_on=date(2027, 1, 8),
            content=b"c",
            submit_token_hash=b"b" * 32,
        )
        db.session.add_all([old, new])
        db.session.commit()
        on = date(2027, 1, 8) + timedelta(days=days_late)
        monkeypatch.setattr(inbox, "today", lambda: on)
        page = inbox.adviser_inbox(db.session, db.session.get(StaffUser, adviser.id))
        refs = [row.observation.ref for row in page.rows]
        overdue = {row.observation.ref for row in page.rows if row.overdue}
    # The old one's acknowledgement was due on 8 January: overdue, so it comes first.
    assert refs[0] == "OLDD-0001"
    assert "OLDD-0001" in overdue
    assert page.overdue_count == (2 if days_late > 7 else 1)


def test_leaderships_response_is_due_by_the_sources_feedback_day():
    from dissent.models import Escalation
    from dissent.services.deadlines import response_due

    observation, mission = case(
        date(2027, 1, 10), acknowledged=date(2027, 1, 31), state=State.ACKNOWLEDGED
    )
    escalation = Escalation(observation=observation, mission=mission, ledger_number=1)

    # Three calendar months after the acknowledgement: the day the source must hear.
    assert response_due(escalation) == date(2027, 4, 30) == feedback_due(observation, mission)
