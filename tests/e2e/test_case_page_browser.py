"""The adviser's case page on a 390 px phone and a desktop, in English and Dutch, with
JavaScript off (issue 12, item 8).

* A contents list at the top reaches each part of a long page.
* The internal-note box looks unlike the message-to-source box and says the source does
  not see it.
* "Change state" has nothing chosen; sending it so asks for a state, next to the field.
* Until the source approved a text, "Propose to the source" is the primary button; then
  the approved text goes to the leaders ticked under "Send to" (checkboxes), and the
  escalation's status takes the editor's place, with times that name their zone.
"""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import Page, expect

from dissent.models import Role
from tests.helpers.browser import BROWSER_MARKS, staff_login
from tests.helpers.casework import approve_waiting_proposals, file_acknowledged

pytestmark = BROWSER_MARKS

SUMMARY = "Attendance at the literacy course was counted as completion in the quarterly figures."
STAFF_TIME = re.compile(r"\d{1,2} \w{3} \d{4} \d{2}:\d{2} UTC")


@pytest.fixture
def page(localized_page):
    return localized_page


def word(app, language: str, text: str) -> str:
    """Return ``text`` as the app says it in ``language``."""
    with app.test_request_context(), force_locale(language):
        return str(_(text))


def open_case(page: Page, live_server, shot, language: str, ref: str) -> None:
    """Log the adviser in (the helper reads English labels) and open the case in
    ``language``."""
    page.goto("/lang/en?next=/staff/login")
    staff_login(page, live_server.adviser, shot, home="/adviser/")
    page.goto(f"/lang/{language}?next=/adviser/o/{ref}")
    page.wait_for_url(f"**/adviser/o/{ref}")


def test_the_contents_list_reaches_each_part_of_the_page(
    app, page, live_server, new_client, language, view, shot
):
    ref = file_acknowledged(app, new_client, adviser=live_server.adviser)
    open_case(page, live_server, shot, language, ref)

    contents = page.locator("nav.contents")
    expect(contents).to_be_in_viewport()  # at the top, before the case's details
    shot(page, f"{language}-{view}-case-top")
    targets = [a.get_attribute("href") for a in contents.locator("a").all()]
    assert len(targets) >= 9
    for target in targets:
        assert target and target.startswith("#")
        page.locator(f"nav.contents a[href='{target}']").click()
        page.wait_for_url(f"**{target}")
        expect(page.locator(target)).to_be_in_viewport()
    page.locator("nav.contents a[href='#note']").click()
    shot(page, f"{language}-{view}-case-note")


def test_the_note_box_is_unlike_the_message_box_and_says_who_reads_it(
    app, page, live_server, new_client, language, view, shot
):
    ref = file_acknowledged(app, new_client, adviser=live_server.adviser)
    open_case(page, live_server, shot, language, ref)

    reply, note = page.locator("form#reply"), page.locator("form#note")
    expect(reply.locator("label[for=text]")).to_have_text(
        word(app, language, "Message to the source")
    )
    expect(note.locator("label[for=note-text]")).to_have_text(
        word(app, language, "Internal note — the source does not see this")
    )
    expect(reply).to_have_css("background-color", "rgb(234, 241, 248)")
    expect(note).to_have_css("background-color", "rgb(255, 248, 225)")
    expect(reply).to_have_css("border-top-style", "solid")
    expect(note).to_have_css("border-top-style", "dashed")
    page.locator("nav.contents a[href='#reply']").click()
    shot(page, f"{language}-{view}-message-box")
    page.locator("nav.contents a[href='#note']").click()
    shot(page, f"{language}-{view}-note-box")


def test_change_state_has_nothing_chosen_and_asks_for_a_state(
    app, page, live_server, new_client, language, view, shot
):
    ref = file_acknowledged(app, new_client, adviser=live_server.adviser)
    open_case(page, live_server, shot, language, ref)
    state = page.locator("form#state")
    options = state.locator("input[type=radio][name=to_state]")
    expect(options).to_have_count(3)
    for option in options.all():
        expect(option).not_to_be_checked()
    state.locator("textarea[name=reason]").fill("Looked into it.")

    state.locator("button[type=submit]").click()

    summary = page.locator("section.error-summary")
    expect(summary).to_be_focused()
    message = word(app, language, "Choose the new state.")
    expect(page.locator("#to_state-errors")).to_have_text(message)
    expect(page.locator("#to_state-group")).to_have_attribute("aria-describedby", "to_state-errors")
    expect(page.locator("textarea[name=reason]")).to_have_value("Looked into it.")
    shot(page, f"{language}-{view}-state-refused")
    summary.get_by_role("link", name=message).click()
    expect(page.locator("#to_state-0")).to_be_focused()


def test_propose_first_then_send_to_the_ticked_leaders_and_see_the_status(
    app, page, live_server, new_client, make_staff, language, view, shot
):
    leader = make_staff(Role.LEADERSHIP)
    ref = file_acknowledged(app, new_client, adviser=live_server.adviser)
    open_case(page, live_server, shot, language, ref)
    editor = page.locator("form#summary-editor")

    # Nothing approved yet: proposing is the one primary action; no one to send to.
    primary = editor.locator("button.primary")
    expect(primary).to_have_count(1)
    expect(primary).to_have_text(word(app, language, "Propose to the source"))
    expect(editor.locator("input[name=leaders]")).to_have_count(0)
    editor.locator("textarea[name=summary]").fill(SUMMARY)
    editor.locator("button[value=check]").click()
    shot(page, f"{language}-{view}-summary-checked")
    page.locator("form#summary-editor button.primary").click()
    page.wait_for_url(re.compile(rf"/adviser/o/{ref}#escalation$"))
    expect(page.locator("#escalation .proposal .who")).to_contain_text(STAFF_TIME)

    # Approved: the approved text goes to the leaders ticked under "Send to".
    approve_waiting_proposals(app)
    page.reload()
    primary = editor.locator("button.primary")
    expect(primary).to_have_text(word(app, language, "Escalate approved text"))
    send_to = page.locator("#leaders-group")
    expect(send_to.locator("legend")).to_have_text(word(app, language, "Send to"))
    box = send_to.get_by_role("checkbox", name=leader.username)
    expect(box).to_be_checked()  # a confirmed leader of the mission is ticked
    expect(page.locator("select[name=leaders]")).to_have_count(0)
    shot(page, f"{language}-{view}-send-to")
    box.uncheck()
    editor.locator("button[value=check]").click()
    expect(page.locator("#leaders-group input[type=checkbox]").first).not_to_be_checked()
    page.locator("form#summary-editor button.primary").click()
    expect(page.locator("#leaders-errors")).to_be_visible()  # nobody to send it to
    expect(page.locator("textarea[name=summary]")).to_have_value(SUMMARY)
    shot(page, f"{language}-{view}-send-to-refused")
    page.locator("#leaders-group").get_by_role("checkbox", name=leader.username).check()
    page.locator("form#summary-editor button.primary").click()
    page.wait_for_url(re.compile(rf"/adviser/o/{ref}#escalation$"))

    # Sent: its status stands where the editor was; a new summary is folded away.
    status = page.locator("#escalation dl.escalation-status")
    expect(status).to_contain_text("EUPOL-0001")
    expect(status).to_contain_text(leader.username)
    expect(status).to_contain_text(STAFF_TIME)
    expect(status).to_contain_text(word(app, language, "not yet"))
    expect(status).to_contain_text(word(app, language, "Respond by"))
    expect(page.locator("textarea#summary")).not_to_be_visible()
    expect(page.locator("details.another-summary")).not_to_have_attribute("open", "")
    shot(page, f"{language}-{view}-escalation-status")
