"""Oversight in a real browser with JavaScript off, on a phone and a desktop, in English
and Dutch: an escalation that went up the ladder is listed and shown with its history,
a refused response says why and keeps the text, and a response is recorded."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from dissent.models import Role
from tests.helpers.browser import BROWSER_MARKS, VIEWS
from tests.helpers.ladder import days_after_sending, escalated_case, take_steps_at
from tests.helpers.staff import StaffLogin, next_totp

pytestmark = BROWSER_MARKS

SUMMARY = "The night patrol log was rewritten before the audit."
RESPONSE = "The inspectorate will audit the patrol logs of the last quarter."
LABEL = "EUPOL-0001"


@pytest.fixture
def member(live_server, app, mission, make_staff) -> StaffLogin:
    """An oversight member, and an escalation of the mission that went up the ladder."""
    oversight = make_staff(Role.OVERSIGHT)
    leader = make_staff(Role.LEADERSHIP)
    _case, escalation_id = escalated_case(
        app, mission.id, adviser=live_server.adviser, leaders=[leader], summary=SUMMARY
    )
    take_steps_at(app, days_after_sending(app, escalation_id, 15))
    return oversight


def log_in(page: Page, login: StaffLogin) -> None:
    """Log in by the fields' names (the labels are in the page's language)."""
    page.goto("/staff/login")
    page.locator("input[name=username]").fill(login.username)
    page.locator("input[name=password]").fill(login.password)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/staff/2fa")
    page.locator("input[name=code]").fill(next_totp(login.totp_secret))
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/oversight/")


def fits(page: Page, view: str) -> None:
    """Assert that nothing of the page's main part runs off the screen's width."""
    for selector in ("main h1", "main dl", "main form", "main article"):
        for i in range(page.locator(selector).count()):
            box = page.locator(selector).nth(i).bounding_box()
            assert box is not None and box["x"] >= 0
            assert box["x"] + box["width"] <= VIEWS[view]["width"], f"{selector} runs off"


def test_oversight_reads_and_answers_a_stepped_escalation(
    localized_page, member, shot, language, view
):
    page = localized_page
    log_in(page, member)
    expect(page.locator("main")).to_contain_text(LABEL)
    shot(page, f"{language}-{view}-oversight-list")

    page.locator(f"main a:has-text('{LABEL}')").click()
    expect(page.locator("main h1")).to_contain_text(LABEL)
    expect(page.locator("main")).to_contain_text(SUMMARY)
    expect(page.locator("dd.ladder-steps")).to_be_visible()
    fits(page, view)
    shot(page, f"{language}-{view}-oversight-escalation")

    # No decision chosen: refused, with the summary at the top and the text kept.
    page.locator("textarea[name=text]").fill(RESPONSE)
    page.locator("#responses form button[type=submit]").click()
    expect(page.locator("section.error-summary")).to_be_visible()
    expect(page.locator("textarea[name=text]")).to_have_value(RESPONSE)
    fits(page, view)
    shot(page, f"{language}-{view}-oversight-refused")

    page.locator("input[name=kind][value=action_taken]").check()
    page.locator("#responses form button[type=submit]").click()
    expect(page.locator("#responses .thread")).to_contain_text(RESPONSE)
    expect(page.locator("div.notice.success")).to_be_visible()
    fits(page, view)
    shot(page, f"{language}-{view}-oversight-responded")
