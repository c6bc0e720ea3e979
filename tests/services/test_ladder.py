"""The ladder above leadership: a step after the mission's limit and not before, once
per escalation and reason even when runs overlap, recorded, audited and told."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from dissent.extensions import current_context, db
from dissent.models import (
    AuditEntry,
    Escalation,
    LadderReason,
    Mission,
    Notification,
    NotificationKind,
    ResponseKind,
    Role,
    StaffUser,
    staff_mission,
)
from dissent.services import confirmation, ladder, leadership
from dissent.services.errors import InvalidInput, NotFound
from tests.helpers.ladder import (
    days_after_sending,
    escalated_case,
    ladder_team,
    steps_of,
    take_steps_at,
)
from tests.helpers.notify import give_address, rows
from tests.helpers.races import at_once


@pytest.fixture
def people(app, mission, make_staff):
    return ladder_team(app, make_staff, mailed=True)


@pytest.fixture
def escalation_id(app, mission, people):
    _case, found = escalated_case(
        app,
        mission.id,
        adviser=people["adviser"],
        leaders=[people["leader"]],
        summary="Training hours are counted twice.",
    )
    return found


def test_no_step_within_the_limit_and_one_the_day_after(app, escalation_id):
    on_the_day = take_steps_at(app, days_after_sending(app, escalation_id, 14))
    assert on_the_day == []
    assert steps_of(app, escalation_id) == []

    after = take_steps_at(app, days_after_sending(app, escalation_id, 15))

    assert [(t.reason.value) for t in after] == ["not_acknowledged"]
    day = days_after_sending(app, escalation_id, 15).date()
    assert steps_of(app, escalation_id) == [("not_acknowledged", day)]


def test_a_step_is_taken_once_however_many_runs_follow(app, escalation_id):
    for days in (15, 15, 16, 40):
        take_steps_at(app, days_after_sending(app, escalation_id, days))

    assert [reason for reason, _day in steps_of(app, escalation_id)] == ["not_acknowledged"]


def test_acknowledged_but_unanswered_steps_after_the_months(app, escalation_id, people):
    with app.app_context(), db.unit():
        leadership.acknowledge_escalation(
            db.session,
            staff=db.session.get(StaffUser, people["leader"].id),
            escalation=db.session.get(Escalation, escalation_id),
        )
    take_steps_at(app, days_after_sending(app, escalation_id, 30))
    assert steps_of(app, escalation_id) == []

    take_steps_at(app, days_after_sending(app, escalation_id, 93))

    assert [reason for reason, _day in steps_of(app, escalation_id)] == ["not_answered"]


def test_an_answered_escalation_never_steps(app, escalation_id, people):
    with app.app_context(), db.unit():
        leadership.respond(
            db.session,
            current_context(),
            staff=db.session.get(StaffUser, people["leader"].id),
            escalation=db.session.get(Escalation, escalation_id),
            kind=ResponseKind.ACTION_TAKEN,
            text="Done.",
        )

    take_steps_at(app, days_after_sending(app, escalation_id, 400))

    assert steps_of(app, escalation_id) == []


def set_limits(app, mission_id: int, days: int, months: int) -> None:
    with app.app_context(), db.unit():
        ladder.set_limits(
            db.session, mission_id=mission_id, ack_days=days, response_months=months, actor="test"
        )


def test_the_missions_limits_decide(app, mission, people):
    set_limits(app, mission.id, 3, 1)
    _case, escalation_id = escalated_case(
        app, mission.id, adviser=people["adviser"], leaders=[people["leader"]], summary="A"
    )

    take_steps_at(app, days_after_sending(app, escalation_id, 4))
    assert [r for r, _ in steps_of(app, escalation_id)] == ["not_acknowledged"]
    take_steps_at(app, days_after_sending(app, escalation_id, 32))
    assert [r for r, _ in steps_of(app, escalation_id)] == ["not_acknowledged", "not_answered"]


def test_a_changed_limit_applies_to_escalations_sent_after_it(app, mission, people, escalation_id):
    set_limits(app, mission.id, 3, 1)  # lowered after ``escalation_id`` was sent
    _case, later = escalated_case(
        app, mission.id, adviser=people["adviser"], leaders=[people["leader"]], summary="B"
    )

    taken = take_steps_at(app, days_after_sending(app, escalation_id, 10))

    assert steps_of(app, escalation_id) == []  # keeps its 14 days
    assert [r for r, _ in steps_of(app, later)] == ["not_acknowledged"]
    assert len(taken) == 1
    with app.app_context():
        kept = db.session.get(Escalation, escalation_id)
        assert (kept.ladder_ack_due - kept.created_at.date()).days == 14


def unconfirm(app, staff_id: int) -> None:
    with app.app_context(), db.unit():
        db.session.execute(
            update(staff_mission)
            .where(staff_mission.c.staff_id == staff_id)
            .values(confirmed_key=None, confirmed_by=None, confirmed_at=None)
        )


def test_no_step_to_nobody_then_the_first_run_after_a_confirmation_takes_it(
    app, mission, people, escalation_id
):
    unconfirm(app, people["oversight"].id)  # nobody can read what would go up

    assert take_steps_at(app, days_after_sending(app, escalation_id, 15)) == []
    assert steps_of(app, escalation_id) == []
    with app.app_context():
        escalation = db.session.get(Escalation, escalation_id)
        on = days_after_sending(app, escalation_id, 15).date()
        assert ladder.held_back(db.session, escalation, on=on) == [LadderReason.NOT_ACKNOWLEDGED]
        told = db.session.scalars(
            select(Notification.kind).where(Notification.subject_id == escalation_id)
        ).all()
    assert NotificationKind.LADDER_STEP_ADVISER not in told
    with app.app_context(), db.unit():
        member = db.session.get(StaffUser, people["oversight"].id)
        confirmation.confirm(
            db.session,
            confirmer=db.session.get(StaffUser, people["adviser"].id),
            staff_id=member.id,
            mission_id=mission.id,
            typed_fingerprint=confirmation.fingerprint(member.recipient),
        )

    take_steps_at(app, days_after_sending(app, escalation_id, 20))

    day = days_after_sending(app, escalation_id, 20).date()
    assert steps_of(app, escalation_id) == [("not_acknowledged", day)]
    with app.app_context():
        escalation = db.session.get(Escalation, escalation_id)
        assert ladder.held_back(db.session, escalation, on=day) == []


def test_an_inactive_oversight_member_is_no_one_to_go_to(app, people, escalation_id):
    with app.app_context(), db.unit():
        db.session.get(StaffUser, people["oversight"].id).active = False

    take_steps_at(app, days_after_sending(app, escalation_id, 15))

    assert steps_of(app, escalation_id) == []


def test_a_step_tells_oversight_and_the_adviser_and_is_audited(app, escalation_id, people):
    take_steps_at(app, days_after_sending(app, escalation_id, 15))

    ladder_rows = [
        (staff, kind)
        for staff, kind, subject in rows(app, pending=True)
        if subject == escalation_id
        and kind in (NotificationKind.LADDER_STEP, NotificationKind.LADDER_STEP_ADVISER)
    ]
    assert sorted(ladder_rows) == sorted(
        [
            (people["oversight"].id, NotificationKind.LADDER_STEP),
            (people["adviser"].id, NotificationKind.LADDER_STEP_ADVISER),
        ]
    )
    with app.app_context():
        label = db.session.get(Escalation, escalation_id).label
        entries = db.session.execute(
            select(AuditEntry.actor, AuditEntry.subject).where(AuditEntry.action == "ladder_step")
        ).all()
    assert [tuple(e) for e in entries] == [("ladder", f"{label}:not_acknowledged")]


def test_oversight_of_another_mission_is_not_told(app, escalation_id, make_staff):
    with app.app_context(), db.unit():
        from dissent.services import accounts

        accounts.create_mission(db.session, slug="eubam", name="EUBAM")
    elsewhere = make_staff(Role.OVERSIGHT, missions=["eubam"])
    give_address(app, elsewhere)

    take_steps_at(app, days_after_sending(app, escalation_id, 15))

    with app.app_context():
        told = db.session.scalars(
            select(Notification.staff_id).where(Notification.staff_id == elsewhere.id)
        ).all()
    assert told == []


def test_two_runs_at_once_take_each_step_once(app, escalation_id):
    now = days_after_sending(app, escalation_id, 15)

    results = at_once(lambda: take_steps_at(app, now), lambda: take_steps_at(app, now))

    assert sorted(len(taken) for taken in results) == [0, 1]
    assert len(steps_of(app, escalation_id)) == 1
    with app.app_context():
        audited = db.session.scalars(
            select(AuditEntry.subject).where(AuditEntry.action == "ladder_step")
        ).all()
    assert len(audited) == 1


@pytest.mark.parametrize(
    ("days", "months", "field"),
    [
        (0, 3, "ack_days"),
        (91, 3, "ack_days"),
        (14, 0, "response_months"),
        (14, 13, "response_months"),
    ],
)
def test_limits_outside_their_range_are_refused_with_the_range(app, mission, days, months, field):
    with app.app_context(), db.unit(), pytest.raises(InvalidInput) as refused:
        ladder.set_limits(
            db.session, mission_id=mission.id, ack_days=days, response_months=months, actor="t"
        )

    assert refused.value.field == field
    assert ("90 days" if field == "ack_days" else "12 months") in str(refused.value)
    with app.app_context():
        saved = db.session.get(Mission, mission.id)
        assert (saved.ladder_ack_days, saved.ladder_response_months) == (14, 3)


def test_limits_of_a_mission_that_does_not_exist(app):
    with app.app_context(), db.unit(), pytest.raises(NotFound):
        ladder.set_limits(db.session, mission_id=999, ack_days=5, response_months=2, actor="t")
