"""The operator sets staff mail addresses, sees how sending goes, and sends a test mail;
no answer of the mail server ever becomes an error page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from dissent.extensions import db
from dissent.models import AuditEntry, Role, StaffUser, utcnow
from dissent.services import outbox
from tests.helpers.notify import give_address
from tests.helpers.pages import BASE_URL, field_errors, form_fields, input_value, text_of
from tests.helpers.services import file_case
from tests.helpers.smtp import mail_config
from tests.helpers.staff import login_staff


@pytest.fixture
def config(config, mail_server):
    return {**config, **mail_config(mail_server)}


@pytest.fixture
def operator(make_staff, mission):
    return make_staff(Role.ADMIN)


@pytest.fixture
def admin(new_client, operator):
    """A browser with the operator logged in."""
    browser = new_client()
    login_staff(browser, operator)
    return browser


def email_of(app, staff_id: int) -> str | None:
    with app.app_context():
        return db.session.get(StaffUser, staff_id).email


def test_the_operator_sets_and_removes_an_address(app, admin, make_staff):
    adviser = make_staff(Role.ADVISER)
    page = admin.get("/admin/", base_url=BASE_URL)
    action = f"/admin/accounts/{adviser.id}/email"

    saved = admin.post(
        action, data=form_fields(page, action, email="Adviser@Example.ORG"), base_url=BASE_URL
    )
    shown = admin.get("/admin/", base_url=BASE_URL)
    removed = admin.post(action, data=form_fields(shown, action, email=""), base_url=BASE_URL)

    assert saved.status_code == removed.status_code == 303
    assert 'value="Adviser@example.org"' in shown.get_data(as_text=True)
    assert email_of(app, adviser.id) is None
    with app.app_context():
        subjects = list(db.session.scalars(select(AuditEntry.subject)))
    assert subjects.count(f"email:{adviser.username}") == 2
    assert not [s for s in subjects if "xample" in s]


def test_a_malformed_address_is_explained_next_to_its_field_and_kept(app, admin, make_staff):
    adviser = make_staff(Role.ADVISER)
    page = admin.get("/admin/", base_url=BASE_URL)
    action = f"/admin/accounts/{adviser.id}/email"

    refused = admin.post(
        action, data=form_fields(page, action, email="adviser at example"), base_url=BASE_URL
    )

    assert refused.status_code == 400
    assert field_errors(refused, "email") == [
        "Type one mail address, such as name@example.org, or leave it empty."
    ]
    assert f'id="email-{adviser.id}"' in refused.get_data(as_text=True)
    assert 'value="adviser at example"' in refused.get_data(as_text=True)
    assert email_of(app, adviser.id) is None


def test_an_address_given_when_the_account_is_made(app, admin):
    page = admin.get("/admin/", base_url=BASE_URL)
    data = form_fields(page, "/admin/accounts", username="newleader", role="leadership")
    data["missions"] = ["eupol"]

    refused = admin.post(
        "/admin/accounts", data={**data, "email": "not-an-address"}, base_url=BASE_URL
    )
    made = admin.post(
        "/admin/accounts", data={**data, "email": "leader@example.org"}, base_url=BASE_URL
    )

    assert refused.status_code == 400
    assert field_errors(refused, "account-email")
    assert input_value(refused, "username") == "newleader"
    assert made.status_code == 303
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == "newleader"))
        assert user.email == "leader@example.org"


def test_the_page_shows_the_last_run_the_queue_and_failures(app, admin, mission, make_staff):
    adviser = make_staff(Role.ADVISER)
    give_address(app, adviser)
    file_case(app, mission.id)
    before = text_of(admin.get("/admin/", base_url=BASE_URL))
    now = utcnow()
    with app.app_context(), db.unit():
        claim = outbox.claim(db.session, staff_id=adviser.id, token="x" * 32, now=now)
        outbox.mark_failed(db.session, claim, now=now)
        outbox.record_run(db.session, now=now - timedelta(hours=1), problem=None)
        outbox.record_run(db.session, now=now, problem="unreachable")

    after = text_of(admin.get("/admin/", base_url=BASE_URL))

    assert "Last successful run never" in before
    assert "Waiting to be sent 1 notification · for 1 person" in before
    assert "Failures none" in before
    assert re.search(r"Last successful run \d+ \w+ \d{4} \d\d:\d\d UTC", after)
    assert "1 person's mail failed and is tried again later" in after
    assert "(unreachable)" in after
    assert "Mail server 127.0.0.1" in after


@pytest.mark.parametrize("with_address", [True, False])
def test_the_test_mail_goes_to_the_operators_own_address(
    app, admin, operator, mail_server, with_address
):
    if with_address:
        give_address(app, operator, address="operator@example.org")
    page = admin.get("/admin/", base_url=BASE_URL)

    response = admin.post(
        "/admin/test-mail", data=form_fields(page, "/admin/test-mail"), base_url=BASE_URL
    )
    shown = admin.get(response.headers["Location"], base_url=BASE_URL)

    assert response.status_code == 303
    assert shown.status_code == 200
    if with_address:
        assert "The test mail was handed to the mail server" in text_of(shown)
        [mail] = mail_server.all()
        assert mail.recipients == ("operator@example.org",)
    else:
        assert "Your account has no mail address" in text_of(shown)
        assert mail_server.all() == []


def test_a_mail_server_that_is_down_is_a_message_not_an_error(app, admin, operator, mail_server):
    give_address(app, operator, address="operator@example.org")
    mail_server.stop()
    page = admin.get("/admin/", base_url=BASE_URL)

    response = admin.post(
        "/admin/test-mail", data=form_fields(page, "/admin/test-mail"), base_url=BASE_URL
    )
    shown = admin.get(response.headers["Location"], base_url=BASE_URL)

    assert response.status_code == 303
    assert "The test mail was not sent. The mail server could not be reached" in text_of(shown)


def test_no_one_but_the_operator_reaches_these_forms(app, new_client, make_staff, mission):
    adviser = make_staff(Role.ADVISER)
    browser = new_client()
    login_staff(browser, adviser)
    page = browser.get("/adviser/", base_url=BASE_URL)
    token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.data).group(1).decode()

    for path in ("/admin/test-mail", f"/admin/accounts/{adviser.id}/email"):
        response = browser.post(
            path, data={"csrf_token": token, "email": "x@example.org"}, base_url=BASE_URL
        )
        assert response.status_code == 403, path
    assert email_of(app, adviser.id) is None
