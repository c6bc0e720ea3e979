"""The oversight pages: only the escalations of one's missions that went up the ladder,
with their history, read-only, and a response that reaches the adviser."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from dissent.extensions import db
from dissent.models import Escalation, Role, staff_mission, today
from dissent.services import accounts
from tests.helpers.ladder import days_after_sending, escalated_case, ladder_team, take_steps_at
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.staff import login_staff

STEPPED = "The night patrol log was rewritten before the audit."
QUIET = "The fuel figures were rounded up in the quarterly report."


@pytest.fixture
def setting(app, mission, make_staff):
    """Two escalations of the mission, one of them stepped up the ladder."""
    people = ladder_team(app, make_staff)
    stepped_case, stepped = escalated_case(
        app, mission.id, adviser=people["adviser"], leaders=[people["leader"]], summary=STEPPED
    )
    take_steps_at(app, days_after_sending(app, stepped, 15))
    _quiet_case, quiet = escalated_case(
        app, mission.id, adviser=people["adviser"], leaders=[people["leader"]], summary=QUIET
    )
    with app.app_context():
        labels = {
            "stepped": db.session.get(Escalation, stepped).label,
            "quiet": db.session.get(Escalation, quiet).label,
        }
    return people, labels, stepped_case


def url(label: str) -> str:
    slug, number = label.rsplit("-", 1)
    return f"/oversight/e/{slug.lower()}/{int(number)}"


def test_the_list_shows_only_escalations_that_went_up_the_ladder(app, new_client, setting):
    people, labels, _case = setting
    browser = new_client()

    home = login_staff(browser, people["oversight"])

    assert home.request.path == "/oversight/"
    page = home.get_data(as_text=True)
    assert labels["stepped"] in page
    assert labels["quiet"] not in page


def test_the_page_shows_the_summary_and_its_history_read_only(app, new_client, setting):
    people, labels, _case = setting
    browser = new_client()
    login_staff(browser, people["oversight"])

    page = browser.get(url(labels["stepped"]), base_url=BASE_URL)
    quiet = browser.get(url(labels["quiet"]), base_url=BASE_URL)

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert STEPPED in text
    assert "signature verified" in text
    assert "not acknowledged in time" in text
    assert "Acknowledge receipt" not in text  # read-only: nothing of leadership's
    assert quiet.status_code == 404
    assert QUIET not in quiet.get_data(as_text=True)


def test_oversight_of_another_mission_sees_nothing(app, new_client, setting, make_staff):
    _people, labels, _case = setting
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eubam", name="EUBAM")
    elsewhere = make_staff(Role.OVERSIGHT, missions=["eubam"])
    browser = new_client()

    home = login_staff(browser, elsewhere)
    page = browser.get(url(labels["stepped"]), base_url=BASE_URL)

    assert labels["stepped"] not in home.get_data(as_text=True)
    assert page.status_code == 404
    assert STEPPED not in page.get_data(as_text=True)


def respond(new_client, member, label: str, **fields: str):
    """Log ``member`` in, open the escalation and send its response form with ``fields``."""
    browser = new_client()
    login_staff(browser, member)
    page = browser.get(url(label), base_url=BASE_URL)
    answer = browser.post(
        f"{url(label)}/respond",
        data={"csrf_token": csrf_from(page), "seen": "0", **fields},
        base_url=BASE_URL,
    )
    return browser, answer


def test_a_response_reaches_the_adviser(app, new_client, setting):
    people, labels, case = setting

    browser, done = respond(
        new_client,
        people["oversight"],
        labels["stepped"],
        kind="action_planned",
        planned_for="2999-01-01",
        text="The inspectorate will audit the patrol logs.",
    )

    assert done.status_code == 303
    shown = browser.get(done.headers["Location"], base_url=BASE_URL).get_data(as_text=True)
    assert "Response recorded." in shown
    assert "The inspectorate will audit the patrol logs." in shown
    adviser = new_client()
    login_staff(adviser, people["adviser"])
    case_page = adviser.get(f"/adviser/o/{case.ref}", base_url=BASE_URL).get_data(as_text=True)
    assert "The inspectorate will audit the patrol logs." in case_page
    assert "(oversight)" in case_page
    assert "not acknowledged in time" in case_page


def test_a_refused_response_says_why_and_keeps_the_text(app, new_client, setting):
    people, labels, _case = setting

    _browser, refused = respond(
        new_client,
        people["oversight"],
        labels["stepped"],
        kind="action_planned",
        text="An audit of the logs, soon.",
    )

    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "There is a problem" in text
    assert "Give the date by which the action is planned." in text
    assert "An audit of the logs, soon." in text


def test_a_version_sealed_before_the_key_was_confirmed_is_said_to_be(
    app, new_client, mission, make_staff, setting
):
    people, labels, case = setting
    late = make_staff(Role.OVERSIGHT)  # confirmed now: after the escalation was sealed
    browser = new_client()
    login_staff(browser, late)

    page = browser.get(url(labels["stepped"]), base_url=BASE_URL).get_data(as_text=True)

    assert "sealed before your key was confirmed" in page
    assert STEPPED not in page
    adviser = new_client()
    login_staff(adviser, people["adviser"])
    case_page = adviser.get(f"/adviser/o/{case.ref}", base_url=BASE_URL).get_data(as_text=True)
    assert "Oversight cannot open the current version" in case_page
    assert late.username in case_page


def test_an_unconfirmed_oversight_key_reads_nothing(app, new_client, mission, make_staff, setting):
    _people, labels, _case = setting
    pending = make_staff(Role.OVERSIGHT)
    with app.app_context(), db.unit():
        db.session.execute(
            update(staff_mission)
            .where(staff_mission.c.staff_id == pending.id)
            .values(confirmed_key=None)
        )
        assert (
            db.session.scalar(
                select(staff_mission.c.confirmed_key).where(staff_mission.c.staff_id == pending.id)
            )
            is None
        )
    browser = new_client()

    home = login_staff(browser, pending).get_data(as_text=True)
    page = browser.get(url(labels["stepped"]), base_url=BASE_URL).get_data(as_text=True)

    assert "Your key is not confirmed yet" in home
    assert (
        "Your key is not confirmed yet: ask an adviser of the mission to compare its "
        "fingerprint with you" in page
    )
    # Not "sealed before your key was confirmed … the adviser has been told": they were not.
    assert "sealed before your key was confirmed" not in page.lower()
    assert "The adviser has been told" not in page
    assert STEPPED not in page


HELD = "it cannot go up the ladder: the mission has no oversight member whose key is confirmed"


def test_the_adviser_is_told_when_a_step_is_due_but_has_no_one_to_go_to(
    app, new_client, mission, make_staff
):
    adviser, leader = make_staff(Role.ADVISER), make_staff(Role.LEADERSHIP)
    case, escalation_id = escalated_case(
        app, mission.id, adviser=adviser, leaders=[leader], summary=QUIET
    )
    browser = new_client()
    login_staff(browser, adviser)
    within = browser.get(f"/adviser/o/{case.ref}", base_url=BASE_URL).get_data(as_text=True)
    with app.app_context(), db.unit():
        # Leadership's fourteen days have passed.
        db.session.get(Escalation, escalation_id).ladder_ack_due = today() - timedelta(2)

    late = browser.get(f"/adviser/o/{case.ref}", base_url=BASE_URL).get_data(as_text=True)
    make_staff(Role.OVERSIGHT)  # key confirmed: the next run takes the step
    someone = browser.get(f"/adviser/o/{case.ref}", base_url=BASE_URL).get_data(as_text=True)

    assert HELD not in within
    assert HELD in late
    assert HELD not in someone
