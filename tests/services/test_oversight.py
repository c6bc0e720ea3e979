"""Oversight's view of the ladder: only stepped escalations of its missions, and who
cannot open a version sealed before their key was confirmed."""

from __future__ import annotations

from sqlalchemy import update

from dissent.extensions import db
from dissent.models import Escalation, Role, StaffUser, staff_mission
from dissent.services import leadership, oversight
from tests.helpers.ladder import days_after_sending, escalated_case, steps_of, take_steps_at


def test_only_stepped_escalations_of_the_members_missions(app, mission, make_staff):
    adviser, leader = make_staff(Role.ADVISER), make_staff(Role.LEADERSHIP)
    member = make_staff(Role.OVERSIGHT)
    _c1, stepped = escalated_case(app, mission.id, adviser=adviser, leaders=[leader], summary="A")
    _c2, quiet = escalated_case(app, mission.id, adviser=adviser, leaders=[leader], summary="B")
    with app.app_context(), db.unit():
        assert (
            oversight.escalations_for_oversight(db.session, db.session.get(StaffUser, member.id))
            == []
        )
        # Leadership acknowledged this one: it does not step within the months.
        leadership.acknowledge_escalation(
            db.session,
            staff=db.session.get(StaffUser, leader.id),
            escalation=db.session.get(Escalation, quiet),
        )
    take_steps_at(app, days_after_sending(app, stepped, 15))

    with app.app_context():
        staff = db.session.get(StaffUser, member.id)
        shown = [e.id for e in oversight.escalations_for_oversight(db.session, staff)]
        leader_sees = oversight.escalations_for_oversight(
            db.session, db.session.get(StaffUser, leader.id)
        )

    assert shown == [stepped]
    assert quiet not in shown
    assert leader_sees == []  # the role, not only the mission, decides


def test_a_member_confirmed_after_the_version_cannot_open_it(app, mission, make_staff):
    adviser, leader = make_staff(Role.ADVISER), make_staff(Role.LEADERSHIP)
    early = make_staff(Role.OVERSIGHT)
    _case, escalation_id = escalated_case(
        app, mission.id, adviser=adviser, leaders=[leader], summary="A"
    )
    late = make_staff(Role.OVERSIGHT)
    with app.app_context():
        escalation = db.session.get(Escalation, escalation_id)
        before_step = oversight.without_current_version(db.session, escalation)
    take_steps_at(app, days_after_sending(app, escalation_id, 15))

    with app.app_context():
        escalation = db.session.get(Escalation, escalation_id)
        waiting = [p.username for p in oversight.without_current_version(db.session, escalation)]
        sealed = {
            who.username: oversight.reading(
                db.session, escalation, db.session.get(StaffUser, who.id)
            )
            for who in (early, late)
        }

    assert before_step == []  # nothing to say until it stepped
    assert waiting == [late.username]
    assert sealed == {
        early.username: oversight.Reading.OPEN,
        late.username: oversight.Reading.SEALED_BEFORE,
    }


def test_a_member_whose_key_is_not_confirmed_is_told_so_not_sealed_before(app, mission, make_staff):
    adviser, leader = make_staff(Role.ADVISER), make_staff(Role.LEADERSHIP)
    make_staff(Role.OVERSIGHT)  # confirmed: the mission has someone to go to
    pending = make_staff(Role.OVERSIGHT)
    _case, escalation_id = escalated_case(
        app, mission.id, adviser=adviser, leaders=[leader], summary="A"
    )
    take_steps_at(app, days_after_sending(app, escalation_id, 15))
    with app.app_context(), db.unit():
        db.session.execute(
            update(staff_mission)
            .where(staff_mission.c.staff_id == pending.id)
            .values(confirmed_key=None, confirmed_by=None, confirmed_at=None)
        )

    with app.app_context():
        escalation = db.session.get(Escalation, escalation_id)
        found = oversight.reading(db.session, escalation, db.session.get(StaffUser, pending.id))
        told = oversight.without_current_version(db.session, escalation)

    assert found is oversight.Reading.KEY_UNCONFIRMED
    assert told == []  # the adviser cannot help by sending a new version: nothing says so
    assert [reason for reason, _day in steps_of(app, escalation_id)] == ["not_acknowledged"]
