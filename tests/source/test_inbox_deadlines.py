"""The source is told in their inbox (never by mail) when an acknowledgement or feedback
is due or late, and since when their case stands where it does."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import format_date
from sqlalchemy import update

from dissent.extensions import db
from dissent.models import Observation, State, today
from tests.helpers.casework import observation_ref
from tests.helpers.pages import BASE_URL, text_of
from tests.helpers.services import Case, acknowledge
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
