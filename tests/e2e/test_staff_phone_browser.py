"""Staff pages on a 390 px phone: the page never scrolls sideways (WCAG 1.4.10 reflow).

Wide tables (the adviser's inbox, leadership's list and report, the operator's accounts)
scroll inside their own box instead. Layout is measured with JavaScript on in the
measuring browser only; the pages themselves carry no script.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from dissent.models import Role
from tests.helpers.browser import BROWSER_MARKS, TIMEOUT_MS, staff_login
from tests.helpers.casework import file_and_escalate

pytestmark = BROWSER_MARKS

PHONE = {"width": 390, "height": 844}
PAGES = {
    Role.ADVISER: ("/adviser/", ["/adviser/"]),
    Role.LEADERSHIP: ("/leadership/", ["/leadership/", "/leadership/report"]),
    Role.ADMIN: ("/admin/", ["/admin/"]),
}


def page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


@pytest.mark.parametrize("role", list(PAGES), ids=lambda r: r.value)
def test_staff_pages_fit_a_phone_without_sideways_scrolling(
    app, browser, live_server, make_staff, new_client, shot, role
):
    leader = make_staff(Role.LEADERSHIP)
    file_and_escalate(app, new_client, adviser=live_server.adviser, leaders=[leader])
    login = {
        Role.ADVISER: live_server.adviser,
        Role.LEADERSHIP: leader,
        Role.ADMIN: make_staff(Role.ADMIN),
    }[role]
    context = browser.new_context(base_url=live_server.base_url, viewport=PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    home, paths = PAGES[role]
    staff_login(page, login, shot, home=home)

    for path in paths:
        page.goto(path)
        shot(page, f"phone{path.replace('/', '-')}")
        assert page_width(page) <= PHONE["width"], f"{path} scrolls sideways on a phone"
        assert page.locator("table").count() >= 1
        assert page.locator("div.table-scroll > table").count() == page.locator("table").count()
    context.close()
