"""Safety first, as a frightened source on a phone or a desktop sees it, JavaScript off.

On the landing and submit pages the warning about work devices and networks comes
before anything else in the content; Quick exit is the first thing on every page a
source may see, error pages included, one Tab away; no title or header names the
software, only the instance's neutral name, in the reader's language.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.browser import BROWSER_MARKS, SOURCE_COOKIE, VIEWS

pytestmark = BROWSER_MARKS

WORDS = {
    "en": {
        "name": "Confidential channel",
        "warning": "Do not use a work or mission phone, computer or network for this.",
        "exit": "Quick exit",
    },
    "nl": {
        "name": "Vertrouwelijk meldpunt",
        "warning": "Gebruik hiervoor geen telefoon, computer of netwerk van uw werk",
        "exit": "Snel weg",
    },
}


@pytest.fixture
def page(localized_page):
    return localized_page


def assert_quick_exit_comes_first(page: Page, words: dict[str, str], view: str) -> None:
    quick_exit = page.locator("a.quick-exit")
    expect(quick_exit).to_have_text(words["exit"])
    box = quick_exit.bounding_box()
    assert box is not None and box["y"] == 0, f"Quick exit is not at the top: {box}"
    assert box["height"] >= 44, "too small to hit with a thumb"  # WCAG 2.5.5's target size
    if view == "phone":
        assert box["width"] >= VIEWS["phone"]["width"] - 1  # the whole width of the screen
    page.keyboard.press("Tab")
    expect(quick_exit).to_be_focused()


@pytest.mark.parametrize("path", ["/", "/submit"])
def test_a_source_is_warned_first_and_can_leave_from_the_top(page, shot, language, view, path):
    words = WORDS[language]
    page.goto(path)
    shot(page, f"{language}-{view}-{path.strip('/') or 'landing'}")

    assert "dissent" not in page.title().lower()
    assert words["name"] in page.title()
    expect(page.locator("header .brand")).to_have_text(words["name"])
    assert_quick_exit_comes_first(page, words, view)
    warning = page.locator("main aside.safety")
    expect(warning).to_contain_text(words["warning"])
    expect(warning.get_by_role("link")).to_have_attribute("href", "/anonymity")
    box, heading = warning.bounding_box(), page.locator("main h1").bounding_box()
    assert box is not None and heading is not None
    assert box["y"] < heading["y"], "the warning must come before the page's heading"
    assert box["y"] + box["height"] <= VIEWS[view]["height"], "read without scrolling"


def test_an_error_page_has_quick_exit_first_too(page, shot, language, view):
    response = page.goto("/no-such-page")
    shot(page, f"{language}-{view}-404")

    assert response is not None and response.status == 404
    assert "dissent" not in page.title().lower()
    assert_quick_exit_comes_first(page, WORDS[language], view)


def test_quick_exit_leaves_at_once_and_forgets_the_session(page, language, view):
    page.goto("/submit")  # the form starts a session
    assert SOURCE_COOKIE in {c["name"] for c in page.context.cookies()}

    page.locator("a.quick-exit").click()

    page.wait_for_url("**/leave")
    assert page.title() == "New Tab"
    assert SOURCE_COOKIE not in {c["name"] for c in page.context.cookies()}


def test_staff_pages_carry_no_quick_exit(page):
    page.goto("/staff/login")

    expect(page.locator("a.quick-exit")).to_have_count(0)
    assert "dissent" not in page.title().lower()


NEXT = {
    "en": ("What happens next", "acknowledges it by", "I have written down my codename"),
    "nl": ("Wat er nu gebeurt", "bevestigt de ontvangst uiterlijk op", "Ik heb mijn codenaam"),
}
SEND = {"en": "Send observation", "nl": "Melding versturen"}
WHAT = {"en": "What happened?", "nl": "Wat is er gebeurd?"}


def test_the_codename_page_says_what_happens_next(page, shot, language, view):
    heading, promise, saved = NEXT[language]
    page.goto("/submit")
    page.get_by_label(WHAT[language]).fill("The audit was postponed twice without a reason.")
    page.locator('input[name="category"]').first.check()
    page.get_by_role("button", name=SEND[language]).click()

    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.locator("main")).to_contain_text(promise)
    expect(page.get_by_label(saved)).to_be_visible()
    shot(page, f"{language}-{view}-codename")


LOG_OUT = {"en": ("Log out", "You are logged out."), "nl": ("Uitloggen", "U bent uitgelogd.")}


def test_a_logged_in_source_can_log_out_plainly(page, shot, language, view):
    button, told = LOG_OUT[language]
    page.goto("/submit")
    page.get_by_label(WHAT[language]).fill("The audit was postponed twice without a reason.")
    page.locator('input[name="category"]').first.check()
    page.get_by_role("button", name=SEND[language]).click()
    page.locator('input[name="saved"]').check()
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/inbox")

    page.get_by_role("button", name=button).click()

    page.wait_for_url("**/login?logged_out=1")
    expect(page.get_by_role("status")).to_have_text(re.compile(re.escape(told)))
    assert SOURCE_COOKIE not in {c["name"] for c in page.context.cookies()} or (
        page.goto("/inbox") and "/login" in page.url
    )
    shot(page, f"{language}-{view}-logged-out")
