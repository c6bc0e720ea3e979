"""The source is told in their inbox (never by mail) when an acknowledgement or feedback
is due or late, since when their case stands where it does, and when what was passed on
was confirmed by leadership or went up the ladder."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import format_date
from sqlalchemy import select, update

from dissent.extensions import db
from dissent.models import Escalation, Observation, Role, State, today
from dissent.services import leadership
from tests.helpers.casework import file_and_escalate, observation_ref
from tests.helpers.ladder import days_after_sending, sent_on, take_steps_at
from tests.helpers.pages import BASE_URL, text_of
from tests.helpers.services import Case, acknowledge, find_escalation, staff_user
from tests.helpers.source import submit_observation


def received_days_ago(app, days: int) -> None:
    with app.app_context(), db.unit():
        db.session.execute(update(Observation).values(received_on=today() - timedelta(days=days)))


def day(app, value) -> str:
    with app.test_request_context():
        return format_date(value)


def test_a_late_acknowledgement_is_said_to_be_late(app, new_client, mission, adviser):
    source = new_client()
    submit_observation(source, what="The range log was backfilled.")

    on_time = text_of(source.get("/inbox", base_url=BASE_URL))
    received_days_ago(app, 8)
    late = text_of(source.get("/inbox", base_url=BASE_URL))

    assert "an adviser acknowledges it by" in on_time and "late:" not in on_time
    due = day(app, today() - timedelta(days=1))
    assert f"late: an adviser should have acknowledged it by {due}." in late


def test_late_feedback_is_said_to_be_late_and_the_move_is_dated(app, new_client, mission, adviser):
    source = new_client()
    submit_observation(source, what="The range log was backfilled.")
    ref = observation_ref(app, mission_id=mission.id)
    with app.app_context():
        found = db.session.query(Observation).filter_by(ref=ref).one()
        case = Case(found.id, ref, found.source_id, b"")
    acknowledge(app, case, adviser)

    acknowledged = text_of(source.get("/inbox", base_url=BASE_URL))
    with app.app_context(), db.unit():
        db.session.execute(
            update(Observation).values(
                acknowledged_on=today() - timedelta(days=120), state=State.IN_REVIEW
            )
        )
    late = text_of(source.get("/inbox", base_url=BASE_URL))

    assert f"since {day(app, today())}" in acknowledged
    assert "you hear what was done by" in acknowledged
    assert "late: you should have heard what was done by" in late


def test_the_source_sees_leadership_confirm_and_the_step_up_the_ladder(
    app, new_client, mission, adviser, leader, make_staff
):
    make_staff(Role.OVERSIGHT)  # someone the step can go to
    clients = []

    def keep_client():
        clients.append(new_client())
        return clients[-1]

    file_and_escalate(app, keep_client, adviser=adviser, leaders=[leader])
    [source] = clients
    with app.app_context():
        escalation_id = db.session.scalar(select(Escalation.id))
    passed_on = text_of(source.get("/inbox", base_url=BASE_URL))

    take_steps_at(app, days_after_sending(app, escalation_id, 15))
    stepped = text_of(source.get("/inbox", base_url=BASE_URL))
    with app.app_context(), db.unit():
        leadership.acknowledge_escalation(
            db.session, staff=staff_user(leader), escalation=find_escalation(escalation_id)
        )
    confirmed = text_of(source.get("/inbox", base_url=BASE_URL))

    assert "one step higher" not in passed_on and "confirmed receiving" not in passed_on
    step_day = day(app, sent_on(app, escalation_id) + timedelta(days=15))
    assert (
        "Leadership did not confirm receiving it in the time the mission allows, "
        f"so on {step_day} it went one step higher: to the mission's oversight"
    ) in stepped
    assert f"Leadership confirmed receiving it on {day(app, today())}." in confirmed
    assert "one step higher" in confirmed  # the step stays in the record
