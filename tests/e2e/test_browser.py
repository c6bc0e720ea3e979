"""The core loop in a real browser, with JavaScript off (Tor Browser "Safest").

A werkzeug server runs the test app on a free loopback port in a background thread;
Chromium (Debian's, driven by Playwright) plays the source and the adviser in separate
browser contexts, so no cookie is shared between them. Every page visited is saved as
a full-page screenshot under ``test-artifacts/e2e/<test name>/`` for a human to look at.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.helpers.browser import (
    BROWSER_MARKS,
    SOURCE_COOKIE,
    STAFF_COOKIE,
    confirm_codename,
    cookie_names,
    open_submit_form,
)
from tests.helpers.staff import next_totp

pytestmark = BROWSER_MARKS


def test_chromium_keeps_host_cookies_on_loopback(fresh_context):
    """__Host- Secure cookies work on http://127.0.0.1: Chromium treats loopback as secure."""
    context = fresh_context()
    page = context.new_page()
    page.goto("/submit")
    expect(page.get_by_role("button", name="Send observation")).to_be_visible()
    cookies = {c["name"]: c for c in context.cookies()}
    assert SOURCE_COOKIE in cookies, f"Chromium dropped the session cookie: {context.cookies()}"
    cookie = cookies[SOURCE_COOKIE]
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "Strict")
    assert (cookie["path"], cookie["domain"]) == ("/", "127.0.0.1")


def test_source_adviser_source(live_server, fresh_context, shot):
    """The acceptance check: file, read and answer, read the answer; all without JavaScript."""
    observation = "Literacy figures in the Q3 report count attendance, not completion."
    reply = "Thank you. Which section of the Q3 report gives the figure?"

    # A source files an observation.
    source = fresh_context().new_page()
    open_submit_form(source, shot)
    source.get_by_label("Reporting accuracy and pressure to misreport").check()
    source.get_by_label("What happened?").fill(observation)
    source.get_by_label("When did it happen?").select_option(label="Last month")
    expect(
        source.get_by_label("Ask me first: show me the proposed summary to approve")
    ).to_be_checked()
    shot(source, "submit-filled")
    source.get_by_role("button", name="Send observation").click()
    codename = confirm_codename(source, shot)
    expect(source.get_by_role("heading", level=1)).to_have_text("Your inbox")
    source.get_by_text("What you wrote").click()  # <details> opens without JavaScript
    expect(source.locator("article.observation details .text")).to_have_text(observation)
    expect(source.locator("article.observation")).to_contain_text(
        "Received; waiting for an adviser to acknowledge it"
    )
    shot(source, "source-inbox")

    # An adviser, in a fresh browser context, logs in with password and TOTP.
    adviser = live_server.adviser
    staff_context = fresh_context()
    staff = staff_context.new_page()
    staff.goto("/staff/login")
    shot(staff, "staff-login")
    staff.get_by_label("Username").fill(adviser.username)
    staff.get_by_label("Password").fill(adviser.password)
    staff.get_by_role("button", name="Continue").click()
    staff.wait_for_url("**/staff/2fa")
    staff.get_by_label("Six-digit code").fill(next_totp(adviser.totp_secret))
    shot(staff, "staff-2fa")
    staff.get_by_role("button", name="Log in").click()
    staff.wait_for_url("**/adviser/")
    assert STAFF_COOKIE in cookie_names(staff_context)
    assert SOURCE_COOKIE not in cookie_names(staff_context)

    # The observation is in the inbox; the adviser opens, reads, acknowledges, replies.
    rows = staff.locator("table.list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Reporting accuracy and pressure to misreport")
    expect(rows.first).to_contain_text("Received")
    shot(staff, "adviser-inbox")
    ref = rows.first.get_by_role("link").inner_text().strip()
    rows.first.get_by_role("link", name=ref).click()
    staff.wait_for_url(f"**/adviser/o/{ref}")
    expect(staff.locator("section .text").first).to_have_text(observation)
    shot(staff, "adviser-observation")
    staff.get_by_role("button", name="Acknowledge receipt").click()
    staff.wait_for_url(f"**/adviser/o/{ref}?acknowledged=1")
    expect(staff.get_by_role("status")).to_contain_text("Acknowledged.")
    expect(staff.get_by_role("button", name="Acknowledge receipt")).to_have_count(0)
    expect(staff.locator("#thread")).to_contain_text("Standard acknowledgement sent.")
    shot(staff, "adviser-acknowledged")
    staff.get_by_label("Message to the source").fill(reply)
    staff.get_by_role("button", name="Send to the source").click()
    staff.wait_for_url(re.compile(rf"/adviser/o/{ref}#thread$"))
    expect(staff.locator("#thread .message.from-adviser .text")).to_have_text(reply)
    shot(staff, "adviser-replied")

    # The source comes back later, in another fresh context, with the codename.
    returning_context = fresh_context()
    returning = returning_context.new_page()
    returning.goto("/login")
    returning.get_by_label("Your codename").fill(codename)
    shot(returning, "source-login")
    returning.get_by_role("button", name="Log in").click()
    returning.wait_for_url("**/inbox")
    thread = returning.locator(f"#thread-{ref}")
    expect(thread).to_contain_text("Acknowledged by an adviser")
    expect(thread.locator(".message.from-adviser .text")).to_have_text(
        [
            "Your observation has been received and read by a confidential adviser. You will "
            "hear from us here; within three months you will hear what has been done with it.",
            reply,
        ]
    )
    shot(returning, "source-reads-reply")


def test_wrong_input_is_kept_and_quick_exit_ends_session(fresh_context, shot):
    """An empty 'what' is explained next to the field; the quick exit logs the source out."""
    context = fresh_context()
    page = context.new_page()
    open_submit_form(page, shot)
    page.get_by_label("Safety and security").check()
    page.get_by_label("When did it happen?").select_option(label="Last week")
    page.get_by_label("Where? (optional)").fill("northern region")
    page.get_by_label("Yes", exact=True).check()
    page.get_by_label("Which report or figure? (optional)").fill("weekly security brief")
    page.get_by_label("Never: I only want to talk with an adviser").check()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Send observation").click()
    assert answer.value.status == 400

    what = page.get_by_label("What happened?")
    expect(page.get_by_role("alert")).to_contain_text("Some answers need attention")
    error = page.locator(".field.has-error", has=page.locator("#what")).locator("ul.errors")
    expect(error).to_have_text("Describe what you observed.")
    expect(what).to_have_attribute("aria-invalid", "true")
    expect(what).to_have_attribute("aria-describedby", re.compile(r"\bwhat-errors\b"))
    expect(page.locator("ul.errors")).to_have_count(1)  # only the field that is wrong
    expect(page.get_by_label("Safety and security")).to_be_checked()
    expect(page.get_by_label("When did it happen?")).to_have_value("last_week")
    expect(page.get_by_label("Where? (optional)")).to_have_value("northern region")
    expect(page.get_by_label("Yes", exact=True)).to_be_checked()
    expect(page.get_by_label("Which report or figure? (optional)")).to_have_value(
        "weekly security brief"
    )
    expect(page.get_by_label("Never: I only want to talk with an adviser")).to_be_checked()
    shot(page, "submit-error")

    what.fill("The weekly brief leaves out two incidents at the checkpoint.")
    page.get_by_role("button", name="Send observation").click()
    confirm_codename(page, shot)
    expect(page.locator("article.observation")).to_have_count(1)
    assert SOURCE_COOKIE in cookie_names(context)

    page.get_by_role("link", name="Quick exit").click()
    page.wait_for_url("**/leave")
    expect(page).to_have_title("New Tab")
    expect(page.locator("body")).to_be_empty()
    assert SOURCE_COOKIE not in cookie_names(context)
    shot(page, "left")

    page.goto("/inbox")
    page.wait_for_url("**/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in with your codename")
    shot(page, "inbox-after-exit")
