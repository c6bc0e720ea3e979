"""The periodic report counts the steps up the ladder: by mission and reason, in the
period's months, each with its ledger number (exact, like the official record section)."""

from __future__ import annotations

from datetime import datetime, timedelta

from dissent.extensions import db
from dissent.models import Escalation, Mission, Role
from dissent.services.report import build_report, report_csv
from tests.helpers.ladder import days_after_sending, escalated_case, take_steps_at


def test_ladder_steps_are_counted_by_mission_and_reason(app, mission, make_staff):
    adviser, leader = make_staff(Role.ADVISER), make_staff(Role.LEADERSHIP)
    make_staff(Role.OVERSIGHT)  # someone to go to: without one no step is taken
    _case, first = escalated_case(app, mission.id, adviser=adviser, leaders=[leader], summary="A")
    _case, second = escalated_case(app, mission.id, adviser=adviser, leaders=[leader], summary="B")
    take_steps_at(app, days_after_sending(app, first, 15))
    take_steps_at(app, days_after_sending(app, first, 100))  # not answered either

    with app.app_context():
        sent = db.session.get(Escalation, first).created_at.date()
        labels = [db.session.get(Escalation, e).label for e in (first, second)]
        missions = [db.session.get(Mission, mission.id)]
        whole = build_report(
            db.session, missions=missions, start=sent, end=sent + timedelta(days=120)
        )
        first_month = build_report(db.session, missions=missions, start=sent, end=sent)
        csv_text = report_csv(whole, generated_at=datetime.now().astimezone())

    steps = whole.ladder["eupol"]
    assert sorted(steps["not_acknowledged"]) == sorted(labels)
    assert sorted(steps["not_answered"]) == sorted(labels)
    # Steps are counted in the months they were taken in, like the escalations they are.
    later = sent + timedelta(days=15)
    if later.month == sent.month:
        assert sorted(first_month.ladder["eupol"]["not_acknowledged"]) == sorted(labels)
    else:
        assert first_month.ladder["eupol"]["not_acknowledged"] == []
    assert first_month.ladder["eupol"]["not_answered"] == []
    assert "ladder EUPOL Test Mission,not_acknowledged,2" in csv_text.replace("\r", "")
