"""Review finding 1 and 8: the operator alone cannot add a reader to a mission.

Before: an operator created an adviser (or leadership) account, completed its enrolment
with the link shown on their own screen, and the new key received every observation
filed afterwards (and was pre-selected for every summary). Now a new key counts only
once a second person confirmed it by the fingerprint the newcomer reads out.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dissent.crypto import DecryptionError, decrypt, unwrap_identity
from dissent.extensions import db
from dissent.models import Mission, Observation, Role, StaffUser
from dissent.services import confirmation
from tests.helpers.enrolment import ENROL_PASSWORD, enrol_by_link, link_on, own_fingerprint
from tests.helpers.pages import BASE_URL, csrf_from, form_fields
from tests.helpers.source import file_observation, source_login
from tests.helpers.staff import StaffLogin, login_staff

pytestmark = pytest.mark.usefixtures("mission")


def _operator(new_client, make_staff):
    browser = new_client()
    login_staff(browser, make_staff(Role.ADMIN))
    return browser


def _create(operator, username: str, role: str, missions: list[str]) -> str:
    page = operator.get("/admin/", base_url=BASE_URL)
    response = operator.post(
        "/admin/accounts",
        data=form_fields(page, "/admin/accounts", username=username, role=role, missions=missions),
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    return link_on(operator.get("/admin/", base_url=BASE_URL))


def _enrol_as_operator(app, new_client, operator, username: str, role: str, missions):
    """What the finding did: the operator makes the account and enrols it themselves."""
    secret = enrol_by_link(new_client(), _create(operator, username, role, missions))
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
        login = StaffLogin(
            id=user.id,
            username=username,
            role=Role(role),
            password=ENROL_PASSWORD,
            totp_secret=secret,
        )
    browser = new_client()
    landing = login_staff(browser, login)
    return login, browser, landing


def _opens(app, login: StaffLogin, codename_what: str) -> bool:
    """Whether ``login``'s key opens the observation whose text is ``codename_what``."""
    with app.app_context():
        user = db.session.get(StaffUser, login.id)
        identity = unwrap_identity(user.wrapped_identity, passphrase=login.password)
        for content in db.session.scalars(select(Observation.content)):
            try:
                if codename_what.encode() in decrypt(content, identities=[identity], padded=True):
                    return True
            except DecryptionError:
                continue
    return False


def _confirm(browser, page_path: str, endpoint: str, login: StaffLogin, mission_id: int, typed):
    page = browser.get(page_path, base_url=BASE_URL)
    action = f"{endpoint}/{login.id}/{mission_id}"
    return browser.post(
        action, data=form_fields(page, action, fingerprint=typed), base_url=BASE_URL
    )


def _mission_id(app, slug: str = "eupol") -> int:
    with app.app_context():
        return db.session.scalar(select(Mission.id).where(Mission.slug == slug))


def test_an_adviser_the_operator_enrolled_alone_receives_nothing_until_confirmed(
    app, new_client, make_staff, adviser
):
    operator = _operator(new_client, make_staff)
    newcomer, newcomer_browser, landing = _enrol_as_operator(
        app, new_client, operator, "mole", "adviser", ["eupol"]
    )
    fingerprint = own_fingerprint(landing)
    assert fingerprint, "the newcomer's page shows the fingerprint to read out"
    assert b"Your key is not confirmed yet" in landing.data

    source = new_client()
    codename = file_observation(source, what="Filed before confirmation.")
    assert not _opens(app, newcomer, "Filed before confirmation.")
    # The source sees who can read it, and the unconfirmed account is not among them.
    source_login(source, codename)
    inbox = source.get("/inbox", base_url=BASE_URL)
    assert adviser.username.encode() in inbox.data
    assert b"mole" not in inbox.data

    colleague = new_client()
    login_staff(colleague, adviser)
    mission_id = _mission_id(app)
    wrong = _confirm(
        colleague, "/adviser/", "/adviser/keys", newcomer, mission_id, "AAAA BBBB CCCC DDDD"
    )
    assert wrong.status_code == 400
    assert b"This is not the fingerprint of their key" in wrong.data
    file_observation(new_client(), what="Filed after a wrong fingerprint.")
    assert not _opens(app, newcomer, "Filed after a wrong fingerprint.")

    right = _confirm(
        colleague, "/adviser/", "/adviser/keys", newcomer, mission_id, fingerprint.lower()
    )
    assert right.status_code == 303
    file_observation(new_client(), what="Filed after confirmation.")
    assert _opens(app, newcomer, "Filed after confirmation.")
    assert not _opens(app, newcomer, "Filed before confirmation.")  # that needs a grant
    assert b"mole" in source.get("/inbox", base_url=BASE_URL).data
    assert (
        b"Your key is not confirmed yet"
        not in newcomer_browser.get("/adviser/", base_url=BASE_URL).data
    )


def test_an_adviser_cannot_confirm_their_own_key(app, new_client, make_staff, adviser):
    operator = _operator(new_client, make_staff)
    newcomer, browser, landing = _enrol_as_operator(
        app, new_client, operator, "selfie", "adviser", ["eupol"]
    )
    response = browser.post(
        f"/adviser/keys/{newcomer.id}/{_mission_id(app)}",
        data={"csrf_token": csrf_from(landing), "fingerprint": own_fingerprint(landing)},
        base_url=BASE_URL,
    )
    assert response.status_code == 404
    with app.app_context():
        assert not confirmation.is_confirmed(
            db.session, staff_id=newcomer.id, mission_id=_mission_id(app)
        )


def test_a_first_adviser_needs_a_second_operator(app, new_client, make_staff):
    operator = _operator(new_client, make_staff)
    page = operator.get("/admin/", base_url=BASE_URL)
    operator.post(
        "/admin/missions",
        data=form_fields(page, "/admin/missions", slug="eutm", name="EUTM Test"),
        base_url=BASE_URL,
    )
    first, _browser, landing = _enrol_as_operator(
        app, new_client, operator, "first", "adviser", ["eutm"]
    )
    eutm = _mission_id(app, "eutm")
    page = operator.get("/admin/", base_url=BASE_URL)
    assert b"cannot take observations yet" in page.data
    # The operator who made the account is not offered it, and cannot force it.
    assert f"/admin/keys/{first.id}/{eutm}".encode() not in page.data
    forced = operator.post(
        f"/admin/keys/{first.id}/{eutm}",
        data={"csrf_token": csrf_from(page), "fingerprint": own_fingerprint(landing)},
        base_url=BASE_URL,
    )
    assert forced.status_code == 404

    second = _operator(new_client, make_staff)
    done = _confirm(second, "/admin/", "/admin/keys", first, eutm, own_fingerprint(landing))
    assert done.status_code == 303
    with app.app_context():
        assert confirmation.is_confirmed(db.session, staff_id=first.id, mission_id=eutm)


def test_a_leader_the_operator_enrolled_is_not_pre_selected_until_confirmed(
    app, new_client, make_staff, adviser, leader
):
    operator = _operator(new_client, make_staff)
    newcomer, _browser, landing = _enrol_as_operator(
        app, new_client, operator, "listener", "leadership", ["eupol"]
    )
    assert b"Your key is not confirmed yet" in landing.data
    file_observation(new_client(), what="Something to pass on.", consent="summary_allowed")
    colleague = new_client()
    login_staff(colleague, adviser)
    with app.app_context():
        ref = db.session.scalar(select(Observation.ref))
    page = colleague.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    action = f"/adviser/o/{ref}/acknowledge"
    colleague.post(action, data=form_fields(page, action), base_url=BASE_URL)
    page = colleague.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    selected = _selected_leaders(page.data)
    assert str(leader.id) in selected
    assert str(newcomer.id) not in selected
    assert b"listener (key not confirmed)" in page.data

    done = _confirm(
        colleague,
        "/adviser/",
        "/adviser/keys",
        newcomer,
        _mission_id(app),
        own_fingerprint(landing),
    )
    assert done.status_code == 303
    page = colleague.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    assert str(newcomer.id) in _selected_leaders(page.data)


def _selected_leaders(html: bytes) -> set[str]:
    """Return the leaders ticked in the escalation's "Send to" checkboxes."""
    boxes = re.findall(rb'<input[^>]*name="leaders"[^>]*>', html)
    assert boxes, "no Send to list on the page"
    return {
        value.decode()
        for box in boxes
        if re.search(rb"\bchecked\b", box)
        for value in re.findall(rb'value="(\d+)"', box)
    }
