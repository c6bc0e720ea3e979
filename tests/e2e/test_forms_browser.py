"""Refused forms, ended sessions and leadership's deadlines in Chromium, JavaScript off,
on a 390 px phone and a desktop, in English and Dutch (issue 12, items 2, 7 and 9).

* 7: a refused form starts with an error summary that has focus when the page loads;
  each of its links moves focus to its field; the title starts with "Error:".
* 2: a reply sent after the session ended comes back on a page that says so, with the
  text to copy.
* 9: leadership sees by when to respond; a refused response gets the summary.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import expect

from dissent.models import utcnow
from tests.helpers.browser import BROWSER_MARKS, staff_login
from tests.helpers.casework import file_and_escalate

pytestmark = BROWSER_MARKS

TYPED = "After the timeout: the fuel log was rewritten before the audit."


@pytest.fixture
def page(localized_page):
    return localized_page


@pytest.fixture
def clock(monkeypatch) -> dict[str, timedelta]:
    """Move the session store's clock (the live server runs in this process)."""
    offset = {"by": timedelta(0)}
    monkeypatch.setattr("dissent.security.session_store.utcnow", lambda: utcnow() + offset["by"])
    monkeypatch.setattr("dissent.security.sessions.utcnow", lambda: utcnow() + offset["by"])
    return offset


def word(app, language: str, text: str) -> str:
    """Return ``text`` as the app says it in ``language``."""
    with app.test_request_context(), force_locale(language):
        return str(_(text))


def test_a_refused_submission_focuses_the_summary_and_links_each_field(
    app, page, live_server, language, view, shot
):
    page.goto("/submit")
    page.locator("form button[type=submit]").last.click()

    summary = page.locator("section.error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()  # on load, with no script
    assert page.title().startswith(word(app, language, "Error:") + " ")
    shot(page, f"{language}-{view}-submit-refused")
    first = summary.locator("a").first
    target = first.get_attribute("href")
    assert target and target.startswith("#")
    first.click()
    expect(page.locator(target)).to_be_focused()
    shot(page, f"{language}-{view}-submit-field-focused")


def test_a_reply_after_the_session_ended_is_shown_back(
    app, page, live_server, language, view, shot, clock
):
    page.goto("/submit")
    page.locator("textarea[name=what]").fill("The figures were inflated.")
    page.locator("input[name=category]").first.check()
    page.locator("input[name=contradicts][value=no]").check()
    page.locator("input[name=consent][value=ask_first]").check()
    page.locator("form button[type=submit]").last.click()
    page.locator("input[name=saved]").check()
    page.locator("form[action$='/submit/codename'] button").click()
    page.wait_for_url("**/inbox")
    minutes = str(app.extensions["dissent.settings"].source_idle_minutes)
    expect(page.locator(".session-limit").first).to_contain_text(minutes)
    page.locator("form[action*='/reply'] textarea").first.fill(TYPED)
    shot(page, f"{language}-{view}-inbox-typed")
    clock["by"] = timedelta(minutes=int(minutes) + 1)

    page.locator("form[action*='/reply'] button[type=submit]").first.click()

    shown = page.locator("textarea[readonly]")
    expect(shown).to_have_value(TYPED)
    expect(page.locator("a.login-again")).to_have_attribute("href", "/login")
    expect(page.locator("main")).to_contain_text(minutes)
    shot(page, f"{language}-{view}-session-ended")


def test_leadership_sees_when_to_respond_and_a_refused_response_is_summarised(
    app, page, live_server, make_staff, new_client, language, view, shot
):
    from dissent.models import Role

    leader = make_staff(Role.LEADERSHIP)
    sent = file_and_escalate(app, new_client, adviser=live_server.adviser, leaders=[leader])
    if language == "nl":
        page.goto("/lang/en?next=/staff/login")  # the helper fills English labels
    staff_login(page, leader, shot, home="/leadership/")
    page.goto(f"/lang/{language}?next=/leadership/")
    page.wait_for_url("**/leadership/")
    respond_by = word(app, language, "Respond by")
    expect(page.locator("table.escalations thead")).to_contain_text(respond_by)
    expect(page.locator("td.respond-by").first).not_to_be_empty()
    shot(page, f"{language}-{view}-leadership-list")

    page.goto(sent.url)
    expect(page.locator("dl.meta")).to_contain_text(respond_by)
    page.locator(f"form[action$='{sent.url}/respond'] textarea[name=text]").fill(TYPED)
    page.locator(f"form[action$='{sent.url}/respond'] button[type=submit]").click()

    summary = page.locator("section.error-summary")
    expect(summary).to_be_focused()
    assert page.title().startswith(word(app, language, "Error:") + " ")
    expect(page.locator("textarea[name=text]")).to_have_value(TYPED)
    shot(page, f"{language}-{view}-leadership-refused")
    summary.locator("a[href='#kind-0']").click()
    expect(page.locator("#kind-0")).to_be_focused()
