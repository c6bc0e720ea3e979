"""The operator's interface: missions and accounts, and no way to any content."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select, update

from dissent.extensions import db
from dissent.models import Mission, Observation, Role, StaffUser, staff_mission
from dissent.services import accounts
from tests.helpers.pages import BASE_URL, field_errors, input_value
from tests.helpers.source import submit_observation
from tests.helpers.staff import WRONG_LOGIN, login_staff, password_step

LINK = re.compile(rb"https://localhost(/staff/enrol/[A-Za-z0-9_-]+)")


@pytest.fixture
def admin(new_client, mission, make_staff):
    """A browser with the operator logged in."""
    browser = new_client()
    login_staff(browser, make_staff(Role.ADMIN))
    return browser


def form_csrf(page, action: str) -> str:
    """Return the CSRF token of the form that posts to ``action``."""
    form = re.search(
        rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>'.encode(), page.data, re.S
    )
    assert form, f"no form for {action}"
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', form.group(1))
    return token.group(1).decode()


def add_mission(admin, slug: str, name: str):
    page = admin.get("/admin/", base_url=BASE_URL)
    return admin.post(
        "/admin/missions",
        data={"csrf_token": form_csrf(page, "/admin/missions"), "slug": slug, "name": name},
        base_url=BASE_URL,
    )


def add_account(admin, username: str, role: str, missions: list[str]):
    page = admin.get("/admin/", base_url=BASE_URL)
    return admin.post(
        "/admin/accounts",
        data={
            "csrf_token": form_csrf(page, "/admin/accounts"),
            "username": username,
            "role": role,
            "missions": missions,
        },
        base_url=BASE_URL,
    )


def account_action(admin, staff_id: int, action: str):
    page = admin.get("/admin/", base_url=BASE_URL)
    path = f"/admin/accounts/{staff_id}/{action}"
    return admin.post(path, data={"csrf_token": form_csrf(page, path)}, base_url=BASE_URL)


def staff_user(app, username: str) -> StaffUser | None:
    with app.app_context():
        return db.session.scalar(select(StaffUser).where(StaffUser.username == username))


def enrolment_path(page) -> str:
    match = LINK.search(page.data)
    assert match, "no enrolment link on the page"
    return match.group(1).decode()


# --- missions ---------------------------------------------------------------------------------


def test_the_operator_creates_a_mission(app, admin):
    response = add_mission(admin, "eutm-2027", "EUTM Training Mission 2027")

    assert response.status_code == 303
    page = admin.get("/admin/", base_url=BASE_URL)
    assert b"eutm-2027" in page.data
    assert b"EUTM Training Mission 2027" in page.data
    assert b"cannot take observations yet" in page.data
    with app.app_context():
        assert db.session.scalar(select(Mission.name).where(Mission.slug == "eutm-2027"))


def test_a_duplicate_mission_slug_gets_a_message(app, admin):
    response = add_mission(admin, "eupol", "A second EUPOL")

    assert response.status_code == 400
    assert field_errors(response, "slug") == ["A mission with this short name exists already."]
    assert input_value(response, "name") == "A second EUPOL"
    with app.app_context():
        assert db.session.scalars(select(Mission.name)).all() == ["EUPOL Test Mission"]


@pytest.mark.parametrize("slug", ["Bad slug!", "-edge", "edge-", "a_b"])
def test_a_bad_mission_slug_gets_a_message(app, admin, slug):
    response = add_mission(admin, slug, "Kept mission name")

    assert response.status_code == 400
    (message,) = field_errors(response, "slug")
    assert "lower-case letters, digits and hyphens" in message
    assert input_value(response, "name") == "Kept mission name"
    with app.app_context():
        assert db.session.scalars(select(Mission.slug)).all() == ["eupol"]


# --- accounts ---------------------------------------------------------------------------------


def test_a_new_account_gets_a_link_shown_once(app, admin, new_client):
    response = add_account(admin, "anna", "adviser", ["eupol"])

    assert response.status_code == 303
    page = admin.get("/admin/", base_url=BASE_URL)
    path = enrolment_path(page)
    assert b"waiting for enrolment" in page.data
    again = admin.get("/admin/", base_url=BASE_URL)
    assert not LINK.search(again.data)
    assert path.encode() not in again.data
    enrol_page = new_client().get(path, base_url=BASE_URL)
    assert enrol_page.status_code == 200
    assert b"anna" in enrol_page.data
    user = staff_user(app, "anna")
    assert user.role is Role.ADVISER
    assert [m.slug for m in user.missions] == ["eupol"]


@pytest.mark.parametrize(
    ("username", "role", "missions"),
    [
        ("bad name!", "adviser", ["eupol"]),
        ("lonely", "adviser", []),
        ("operator2", "admin", ["eupol"]),
        ("ghost", "adviser", ["nope"]),
        ("boss", "king", ["eupol"]),
    ],
)
def test_an_invalid_account_gets_a_message(app, admin, username, role, missions):
    response = add_account(admin, username, role, missions)

    assert response.status_code == 400
    assert b'class="errors"' in response.data
    assert not LINK.search(response.data)
    assert staff_user(app, username.strip().lower()) is None


def test_a_taken_username_gets_a_message(app, admin, make_staff):
    existing = make_staff(Role.ADVISER, username="taken")

    response = add_account(admin, "taken", "leadership", ["eupol"])

    assert response.status_code == 400
    assert field_errors(response, "username") == ["This username is taken."]
    assert staff_user(app, "taken").role is Role.ADVISER
    assert existing.id == staff_user(app, "taken").id


def test_deactivate_and_activate_an_account(app, admin, new_client, make_staff):
    adviser = make_staff(Role.ADVISER)

    assert account_action(admin, adviser.id, "deactivate").status_code == 303
    assert b"deactivated" in admin.get("/admin/", base_url=BASE_URL).data
    assert WRONG_LOGIN in password_step(new_client(), adviser.username, adviser.password).data
    # Its mission has no adviser left, so sources are told to wait.
    assert (
        b"No mission can take observations yet"
        in new_client().get("/submit", base_url=BASE_URL).data
    )

    assert account_action(admin, adviser.id, "activate").status_code == 303
    assert staff_user(app, adviser.username).active
    assert login_staff(new_client(), adviser).status_code == 200


def test_the_operator_cannot_deactivate_themselves(app, admin):
    with app.app_context():
        own_id = db.session.scalar(select(StaffUser.id).where(StaffUser.role == Role.ADMIN))

    response = account_action_raw(admin, own_id, "deactivate")

    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(StaffUser, own_id).active


def test_a_new_link_can_be_issued_for_an_account_not_yet_enrolled(app, admin, new_client):
    with app.app_context(), db.unit():
        user, _ = accounts.create_account(
            db.session, username="late", role=Role.LEADERSHIP, mission_slugs=["eupol"]
        )
        staff_id = user.id

    response = account_action(admin, staff_id, "enrolment")

    assert response.status_code == 303
    path = enrolment_path(admin.get("/admin/", base_url=BASE_URL))
    assert new_client().get(path, base_url=BASE_URL).status_code == 200


def test_a_new_link_replaces_the_old_one(app, admin, new_client):
    with app.app_context(), db.unit():
        user, token = accounts.create_account(
            db.session, username="late", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        staff_id = user.id

    account_action(admin, staff_id, "enrolment")

    assert new_client().get(f"/staff/enrol/{token}", base_url=BASE_URL).status_code == 404


def test_no_new_link_for_an_enrolled_account(admin, make_staff):
    adviser = make_staff(Role.ADVISER)

    response = account_action_raw(admin, adviser.id, "enrolment")

    assert response.status_code == 404
    assert not LINK.search(admin.get("/admin/", base_url=BASE_URL).data)


@pytest.mark.parametrize("action", ["delete", "promote"])
def test_an_unknown_account_action_is_404(admin, make_staff, action):
    adviser = make_staff(Role.ADVISER)

    assert account_action_raw(admin, adviser.id, action).status_code == 404


def account_action_raw(admin, staff_id: int, action: str):
    page = admin.get("/admin/", base_url=BASE_URL)
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.data).group(1).decode()
    return admin.post(
        f"/admin/accounts/{staff_id}/{action}", data={"csrf_token": token}, base_url=BASE_URL
    )


# --- no content -------------------------------------------------------------------------------


def test_the_operator_sees_no_observation_content(app, admin, new_client, make_staff):
    make_staff(Role.ADVISER)
    canary = "canary-0p3r470r the commander edited the figures"
    submit_observation(new_client(), what=canary, where="canary-place-99")
    with app.app_context():
        ref = db.session.scalar(select(Observation.ref))

    pages = [
        admin.get("/admin/", base_url=BASE_URL),
        admin.get("/adviser/", base_url=BASE_URL),
        admin.get(f"/adviser/o/{ref}", base_url=BASE_URL),
        admin.get("/leadership/", base_url=BASE_URL),
        admin.get("/inbox", base_url=BASE_URL),
    ]

    for page in pages:
        text = html.unescape(page.data.decode())
        assert "canary-0p3r470r" not in text
        assert "canary-place-99" not in text
    # Not even which observations exist.
    assert ref not in pages[0].data.decode()
    assert [p.status_code for p in pages[1:4]] == [403, 403, 403]


def mission_row(page, name: str) -> str:
    """Return the mission list's row of the mission called ``name``."""
    table = page.get_data(as_text=True).split('id="missions"', 1)[1].split("</table>", 1)[0]
    rows = [row for row in table.split("<tr>") if f"<td>{name}</td>" in row]
    assert len(rows) == 1, name
    return rows[0]


def test_a_mission_whose_ladder_has_no_one_to_go_to_is_named(app, admin, make_staff):
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eubam", name="EUBAM Rafah")
    make_staff(Role.OVERSIGHT)  # of the test mission, key confirmed
    make_staff(Role.OVERSIGHT, missions=["eubam"])
    with app.app_context(), db.unit():
        # EUBAM's only oversight member's key is not confirmed: no one can read a step.
        eubam = db.session.scalars(select(Mission).where(Mission.slug == "eubam")).one()
        db.session.execute(
            update(staff_mission)
            .where(staff_mission.c.mission_id == eubam.id)
            .values(confirmed_key=None, confirmed_by=None, confirmed_at=None)
        )

    page = admin.get("/admin/", base_url=BASE_URL)

    assert "Oversight with keys" in page.get_data(as_text=True)
    assert "the ladder has no one to go to" in mission_row(page, "EUBAM Rafah")
    assert "the ladder has no one to go to" not in mission_row(page, "EUPOL Test Mission")
