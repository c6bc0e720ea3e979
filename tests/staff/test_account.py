"""Each staff member chooses their own mail address, language and kinds of notification."""

from __future__ import annotations

import re

import pytest

from dissent.extensions import db
from dissent.models import NotificationKind, Role, StaffUser
from dissent.services import notifications
from tests.helpers.pages import BASE_URL, field_errors, form_fields, input_value, text_of
from tests.helpers.staff import login_staff

K = NotificationKind


def person(app, staff_id: int) -> StaffUser:
    with app.app_context():
        user = db.session.get(StaffUser, staff_id)
        db.session.expunge(user)
        return user


def ticked(page) -> set[str]:
    return {
        m.decode()
        for m in re.findall(
            rb'<input[^>]*checked[^>]*name="kinds"[^>]*value="([a-z_]+)"', page.data
        )
    } | {
        m.decode()
        for m in re.findall(
            rb'<input[^>]*name="kinds"[^>]*value="([a-z_]+)"[^>]*checked', page.data
        )
    }


def offered(page) -> set[str]:
    return {m.decode() for m in re.findall(rb'name="kinds"[^>]*value="([a-z_]+)"', page.data)}


@pytest.mark.parametrize("role", [Role.ADVISER, Role.LEADERSHIP, Role.ADMIN])
def test_each_role_is_offered_its_own_kinds_all_on_at_first(new_client, make_staff, mission, role):
    login = make_staff(role)
    browser = new_client()
    home = login_staff(browser, login)

    page = browser.get("/staff/account", base_url=BASE_URL)

    assert 'href="/staff/account"' in home.get_data(as_text=True)  # in the staff menu
    assert page.status_code == 200
    kinds = {kind.value for kind in notifications.kinds_for(role)}
    assert offered(page) == kinds == ticked(page)


def test_choices_are_saved(app, new_client, make_staff, mission):
    adviser = make_staff(Role.ADVISER)
    browser = new_client()
    login_staff(browser, adviser)
    page = browser.get("/staff/account", base_url=BASE_URL)

    saved = browser.post(
        "/staff/account",
        data=form_fields(
            page,
            "/staff/account",
            email="me@example.org",
            language="nl",
            kinds=[K.NEW_OBSERVATION.value, K.ACK_OVERDUE.value],
        ),
        base_url=BASE_URL,
    )
    shown = browser.get(saved.headers["Location"], base_url=BASE_URL)

    assert saved.status_code == 303
    user = person(app, adviser.id)
    assert (user.email, user.language) == ("me@example.org", "nl")
    assert set(user.notify_off.split()) == {
        k.value for k in notifications.kinds_for(Role.ADVISER)
    } - {K.NEW_OBSERVATION.value, K.ACK_OVERDUE.value}
    assert ticked(shown) == {K.NEW_OBSERVATION.value, K.ACK_OVERDUE.value}
    assert input_value(shown, "email") == "me@example.org"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "me at example"}, "email", "Type one mail address"),
        ({"kinds": ["escalation_received"]}, "kinds", "Choose one of the options"),
        ({"language": "xx"}, "language", "Choose one of the options"),
    ],
)
def test_bad_input_is_explained_next_to_its_field_and_kept(
    app, new_client, make_staff, mission, data, field, message
):
    adviser = make_staff(Role.ADVISER)
    browser = new_client()
    login_staff(browser, adviser)
    page = browser.get("/staff/account", base_url=BASE_URL)
    sent = {"email": "kept@example.org", "language": "en", "kinds": ["new_observation"]} | data

    refused = browser.post(
        "/staff/account", data=form_fields(page, "/staff/account", **sent), base_url=BASE_URL
    )

    assert refused.status_code == 400
    assert any(message in error for error in field_errors(refused, field)), text_of(refused)
    assert input_value(refused, "email") == sent["email"]
    assert person(app, adviser.id).email is None


def test_a_login_sets_the_language_of_the_mails_until_one_is_chosen(
    app, new_client, make_staff, mission
):
    fresh, decided = make_staff(Role.ADVISER), make_staff(Role.ADVISER)
    with app.app_context(), db.unit():
        db.session.get(StaffUser, decided.id).language = "en"

    for login in (fresh, decided):
        browser = new_client()
        browser.set_cookie("lang", "nl", domain="localhost")
        login_staff(browser, login)

    assert person(app, fresh.id).language == "nl"
    assert person(app, decided.id).language == "en"


def test_a_leader_can_turn_off_mails_about_new_versions_of_an_escalation(
    app, new_client, make_staff, mission
):
    leader = make_staff(Role.LEADERSHIP)
    browser = new_client()
    login_staff(browser, leader)
    page = browser.get("/staff/account", base_url=BASE_URL)
    kept = [
        k.value for k in notifications.kinds_for(Role.LEADERSHIP) if k is not K.ESCALATION_REVISED
    ]

    saved = browser.post(
        "/staff/account",
        data=form_fields(
            page, "/staff/account", email="lead@example.org", language="en", kinds=kept
        ),
        base_url=BASE_URL,
    )

    assert "A new version of an escalation's summary" in text_of(page)
    assert saved.status_code == 303
    assert person(app, leader.id).notify_off == K.ESCALATION_REVISED.value
