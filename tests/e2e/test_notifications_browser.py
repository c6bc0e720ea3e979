"""Notification settings in a real browser, JavaScript off, in English and Dutch, on a phone
and a desktop: a staff member chooses their mails; the operator sends a test mail."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import Page, expect

from dissent.extensions import db
from dissent.models import NotificationKind, Role, StaffUser
from tests.helpers.browser import BROWSER_MARKS, staff_login

pytestmark = BROWSER_MARKS


@pytest.fixture
def page(localized_page):
    return localized_page


def word(app, language: str, text: str) -> str:
    """Return ``text`` as the app says it in ``language``."""
    with app.test_request_context(), force_locale(language):
        return _(text)


def log_in(page: Page, login, shot, *, home: str, language: str) -> None:
    page.goto("/lang/en?next=/staff/login")
    staff_login(page, login, shot, home=home)
    page.goto(f"/lang/{language}?next={home}")


def test_a_staff_member_chooses_their_mails(app, page, live_server, language, view, shot):
    log_in(page, live_server.adviser, shot, home="/adviser/", language=language)

    page.get_by_role("link", name=word(app, language, "Notifications")).click()
    page.wait_for_url("**/staff/account")
    shot(page, f"{language}-{view}-account")
    page.get_by_label(word(app, language, "Mail address for notifications")).fill(
        "adviser@example.org"
    )
    page.get_by_label(word(app, language, "Acknowledgement due within 2 days")).uncheck()
    page.get_by_label(word(app, language, "Language of the mails")).select_option("nl")
    page.get_by_role("button", name=word(app, language, "Save")).click()

    expect(page.locator(".notice.success")).to_contain_text(word(app, language, "Saved."))
    shot(page, f"{language}-{view}-saved")
    with app.app_context():
        person = db.session.get(StaffUser, live_server.adviser.id)
        assert (person.email, person.language) == ("adviser@example.org", "nl")
        assert person.notify_off.split() == [NotificationKind.ACK_DUE_SOON.value]


def test_a_bad_address_is_explained_and_kept(app, page, live_server, language, view, shot):
    log_in(page, live_server.adviser, shot, home="/adviser/", language=language)
    page.goto("/staff/account")

    field = page.get_by_label(word(app, language, "Mail address for notifications"))
    field.fill("adviser at example")
    page.get_by_role("button", name=word(app, language, "Save")).click()

    expect(page.locator("#email-errors")).to_contain_text(
        word(app, language, "Type one mail address, such as name@example.org, or leave it empty.")
    )
    expect(field).to_have_value("adviser at example")
    shot(page, f"{language}-{view}-refused")


def test_the_operator_sees_the_mail_section_and_tries_a_test_mail(
    app, page, live_server, make_staff, language, view, shot
):
    operator = make_staff(Role.ADMIN)
    log_in(page, operator, shot, home="/admin/", language=language)

    page.get_by_role("button", name=word(app, language, "Send a test mail")).click()

    expect(page.get_by_role("alert")).to_contain_text(
        word(app, language, "The test mail was not sent.")
    )
    page.locator("#notifications").scroll_into_view_if_needed()
    shot(page, f"{language}-{view}-operator")
