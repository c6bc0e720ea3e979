"""The route to the official reporting line in a real browser, with JavaScript off.

The issue's acceptance check, end to end: a source files an observation ("Ask me first"),
an adviser acknowledges it and proposes a de-identified summary, the source approves it,
the adviser escalates it to a leader, the leader acknowledges and responds, the adviser
passes the response on as feedback, the source reads it, and the leader's periodic report
lists the escalation by its ledger number.

The official record (issue 14), end to end: the adviser marks a summary as contradicting
a report, the leader must decide about it, the report counts the decision and, once its
date has passed, its lateness, and the evaluator's copy downloads and verifies.

Every actor has a fresh browser context (no shared cookies); the server, the browser and
the screenshot helper are those of ``test_browser``.
"""

from __future__ import annotations

import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from dissent.crypto import VerifyKey
from dissent.extensions import db
from dissent.models import Response, Role
from dissent.services.evaluator import verify_copy
from tests.helpers.browser import BROWSER_MARKS, confirm_codename, open_submit_form, staff_login
from tests.helpers.staff import StaffLogin

pytestmark = BROWSER_MARKS

OBSERVATION = (
    "My section head told us to count attendance as completion in the literacy figures, "
    "so that the quarterly report would show the target as met."
)
SUMMARY = (
    "Staff were told to count attendance as completion in the literacy figures, "
    "so that the quarterly report would show the target as met."
)
RESPONSE = "The literacy figures were recounted from completion records and corrected."
FEEDBACK = "Leadership had the literacy figures recounted and corrected in the report."
ESCALATED_NOTICE = (
    "A summary of your observation, with what could identify you removed, was passed on "
    "to the official reporting line. Leadership must respond; you will hear what was done."
)
LABEL = "EUPOL-0001"


@pytest.fixture
def leader(live_server, make_staff) -> StaffLogin:
    """A leader of the mission, enrolled before anything is escalated."""
    return make_staff(Role.LEADERSHIP)


def source_login(page: Page, codename: str) -> None:
    """Come back with the codename and reach the inbox."""
    page.goto("/login")
    page.get_by_label("Your codename").fill(codename)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/inbox")


def test_escalation_route(live_server, leader, fresh_context, shot):
    """Submit, acknowledge, propose, approve, escalate, respond, feed back, report."""
    adviser = live_server.adviser

    # 1. A source files an observation and keeps the default consent, "Ask me first".
    source = fresh_context().new_page()
    open_submit_form(source, shot)
    source.get_by_label("Reporting accuracy and pressure to misreport").check()
    source.get_by_label("What happened?").fill(OBSERVATION)
    source.get_by_label("When did it happen?").select_option(label="Last month")
    expect(
        source.get_by_label("Ask me first: show me the proposed summary to approve")
    ).to_be_checked()
    shot(source, "submit-filled")
    source.get_by_role("button", name="Send observation").click()
    codename = confirm_codename(source, shot)

    # 2. The adviser logs in once, opens the observation and acknowledges it.
    staff = fresh_context().new_page()
    staff_login(staff, adviser, shot, home="/adviser/")
    row = staff.locator("table.list tbody tr")
    expect(row).to_have_count(1)
    ref = row.first.get_by_role("link").inner_text().strip()
    row.first.get_by_role("link", name=ref).click()
    staff.wait_for_url(f"**/adviser/o/{ref}")
    staff.get_by_role("button", name="Acknowledge receipt").click()
    staff.wait_for_url(f"**/adviser/o/{ref}?acknowledged=1")
    expect(staff.get_by_role("status")).to_contain_text("Acknowledged.")
    shot(staff, "adviser-acknowledged")

    # 3. ... writes a de-identified summary, checks it for identifiers, proposes it.
    editor = staff.get_by_label("De-identified summary")
    checked = staff.locator("input[name=checked]")
    expect(checked).to_have_value("")
    editor.fill(SUMMARY)
    staff.get_by_role("button", name="Check for identifiers").click()
    expect(staff.locator("#flags")).to_be_visible()
    expect(checked).to_have_value(re.compile(r"^[0-9a-f]{64}$"))
    expect(staff.get_by_label("De-identified summary")).to_have_value(SUMMARY)
    shot(staff, "adviser-checked")
    staff.get_by_role("button", name="Propose to the source").click()
    staff.wait_for_url(re.compile(rf"/adviser/o/{ref}#escalation$"))
    proposal = staff.locator("#escalation .proposal")
    expect(proposal).to_have_count(1)
    expect(proposal.locator(".text")).to_have_text(SUMMARY)
    expect(proposal).to_contain_text("waiting for the source")
    shot(staff, "adviser-proposed")

    # 4. The source logs in with the codename, reads the proposal and approves it.
    approving = fresh_context().new_page()
    source_login(approving, codename)
    offer = approving.locator(f"#thread-{ref} section.proposal")
    expect(offer).to_have_count(1)
    expect(offer.locator(".text")).to_have_text(SUMMARY)
    shot(approving, "source-sees-proposal")
    offer.get_by_role("button", name="Approve this summary").click()
    # Back at the answer, now in the thread, with a word that it was kept.
    approving.wait_for_url(re.compile(r"/inbox\?decided=(\d+)#proposal-\1$"))
    expect(approving.locator("section.proposal")).to_have_count(0)
    expect(approving.get_by_role("status")).to_contain_text("Your approval is saved.")
    shot(approving, "source-approved")

    # 5. The adviser escalates exactly the approved text to the leader.
    staff.goto(f"/adviser/o/{ref}")
    expect(proposal).to_contain_text("approved by the source")
    # The approved text is offered in the editor: escalating needs exactly that text.
    expect(staff.get_by_label("De-identified summary")).to_have_value(SUMMARY)
    send_to = staff.get_by_role("group", name="Send to")
    send_to.get_by_role("checkbox", name=leader.username).check()
    staff.get_by_role("button", name="Check for identifiers").click()
    expect(staff.locator("#flags")).to_be_visible()
    expect(send_to.get_by_role("checkbox", name=leader.username)).to_be_checked()
    staff.get_by_role("button", name="Escalate approved text").click()
    staff.wait_for_url(re.compile(rf"/adviser/o/{ref}#escalation$"))
    sent = staff.locator("#escalation article.escalation")
    expect(sent).to_have_count(1)
    expect(sent.locator("h3")).to_contain_text(LABEL)
    expect(sent.locator("dl.escalation-status")).to_contain_text(leader.username)
    expect(sent.locator(".ok")).to_have_text("signature verified")
    expect(sent.locator(".version .text")).to_have_text(SUMMARY)
    expect(sent).to_contain_text("No response from leadership yet.")
    expect(staff.locator("#thread")).to_contain_text(
        "The source was told that a summary was escalated."
    )
    shot(staff, "adviser-escalated")

    # 6. The leader logs in, finds the escalation by its ledger number and opens it.
    chief = fresh_context().new_page()
    staff_login(chief, leader, shot, home="/leadership/")
    line = chief.locator("table.escalations tbody tr")
    expect(line).to_have_count(1)
    expect(line.first).to_contain_text("Sent, not yet acknowledged")
    line.first.get_by_role("link", name=LABEL).click()
    chief.wait_for_url("**/leadership/e/eupol/1")
    expect(chief.get_by_role("heading", level=1)).to_have_text(f"Escalation {LABEL}")
    expect(chief.locator("#v1 .signature.ok")).to_contain_text(
        f"Signed by {adviser.username}, signature verified."
    )
    expect(chief.locator("#v1 .text")).to_have_text(SUMMARY)
    expect(chief.locator(".signature-alert")).to_have_count(0)
    shot(chief, "leader-escalation")

    # 7. ... acknowledges receipt, then records that action was taken.
    chief.get_by_role("button", name="Acknowledge receipt").click()
    chief.wait_for_url("**/leadership/e/eupol/1?done=acknowledged")
    expect(chief.get_by_role("status")).to_contain_text("Receipt acknowledged.")
    expect(chief.get_by_role("button", name="Acknowledge receipt")).to_have_count(0)
    shot(chief, "leader-acknowledged")
    chief.get_by_label("Action taken").check()
    chief.get_by_label("What was done or is planned; if declined, the reason").fill(RESPONSE)
    chief.get_by_role("button", name="Record the response").click()
    chief.wait_for_url(re.compile(r"/leadership/e/eupol/1\?done=responded#responses$"))
    expect(chief.get_by_role("status")).to_contain_text("Response recorded.")
    answer = chief.locator("#responses li.response")
    expect(answer).to_have_count(1)
    expect(answer.locator(".who")).to_contain_text("Action taken")
    expect(answer.locator(".text")).to_have_text(RESPONSE)
    shot(chief, "leader-responded")

    # 8. The adviser sees the response and gives the source feedback.
    staff.goto(f"/adviser/o/{ref}")
    expect(sent.locator(".response .text")).to_have_text(RESPONSE)
    expect(sent.locator(".response .who")).to_contain_text(leader.username)
    shot(staff, "adviser-sees-response")
    feedback = staff.locator("form#feedback")
    feedback.get_by_label("Feedback to the source: what was done with the observation").fill(
        FEEDBACK
    )
    feedback.get_by_role("button", name="Send feedback").click()
    staff.wait_for_url(re.compile(rf"/adviser/o/{ref}#thread$"))
    expect(staff.locator("#thread .message.feedback .text")).to_have_text(FEEDBACK)
    shot(staff, "adviser-gave-feedback")

    # 9. The source comes back and reads the escalation notice and the feedback.
    reading = fresh_context().new_page()
    source_login(reading, codename)
    thread = reading.locator(f"#thread-{ref}")
    expect(thread.locator("section.escalation h3")).to_have_text(f"Passed on as {LABEL}")
    expect(thread.locator("section.escalation .text")).to_have_text(SUMMARY)
    messages = thread.locator(".message.from-adviser .text")
    expect(messages.filter(has_text=ESCALATED_NOTICE)).to_have_count(1)
    expect(messages.filter(has_text=FEEDBACK)).to_have_count(1)
    expect(thread.locator(".message.from-adviser", has_text=FEEDBACK)).to_contain_text(
        "Feedback on what was done"
    )
    shot(reading, "source-reads-feedback")

    # 10. The leader's periodic report for a period covering today lists the escalation.
    chief.goto("/leadership/")
    chief.get_by_role("link", name="Periodic report").click()
    chief.wait_for_url("**/leadership/report")
    today = datetime.now(UTC).date()
    chief.get_by_label("First day").fill((today - timedelta(days=7)).isoformat())
    chief.get_by_label("Last day").fill((today + timedelta(days=1)).isoformat())
    chief.get_by_role("button", name="Show the report").click()
    chief.wait_for_url(re.compile(r"/leadership/report\?.*start="))
    listed = chief.locator("#escalations tbody tr")
    expect(listed).to_have_count(1)
    expect(listed.first.locator("td").first).to_have_text(LABEL)
    expect(listed.first).to_contain_text("Responded")
    expect(listed.first).to_contain_text("Action taken")
    expect(chief.locator("#ledger")).to_contain_text("numbers 1 to 1, none missing.")
    shot(chief, "leader-report")


RECORD_SUMMARY = (
    "The quarterly report counts attendance at the literacy course as completion; "
    "the course records show far fewer completions."
)
RECORD_TITLE = "Quarterly progress report: literacy course completed by all recruits"
RECORD_PERIOD = "second quarter"
CORRECTION = "The quarterly report will be reissued with completions counted."


def test_official_record_route(app, live_server, leader, fresh_context, shot, tmp_path):
    """The adviser marks a summary as contradicting a report, the leader must decide about
    it, the report counts the decision (and its lateness), and the evaluator's copy
    downloads and verifies."""
    adviser = live_server.adviser

    # 1. A source files an observation that contradicts an official report.
    source = fresh_context().new_page()
    open_submit_form(source, shot)
    source.get_by_label("Reporting accuracy and pressure to misreport").check()
    source.get_by_label("What happened?").fill(OBSERVATION)
    source.get_by_role(
        "group", name="Does this contradict an official report or figure?"
    ).get_by_label("Yes").check()
    source.get_by_label(
        "The adviser may pass on a summary with everything that could identify me removed"
    ).check()
    source.get_by_role("button", name="Send observation").click()
    confirm_codename(source, shot)

    # 2. The adviser acknowledges it and marks the summary as contradicting the report.
    staff = fresh_context().new_page()
    staff_login(staff, adviser, shot, home="/adviser/")
    ref = staff.locator("table.list tbody tr").first.get_by_role("link").inner_text().strip()
    staff.goto(f"/adviser/o/{ref}")
    staff.get_by_role("button", name="Acknowledge receipt").click()
    staff.wait_for_url(f"**/adviser/o/{ref}?acknowledged=1")
    staff.get_by_label("De-identified summary").fill(RECORD_SUMMARY)
    staff.get_by_label("This summary contradicts an official report or figure").check()
    staff.get_by_role("button", name="Check for identifiers").click()
    # Ticked without naming the report: asked for, with everything typed kept.
    expect(staff.locator("#record_title-errors")).to_have_text(
        "Name the report or figure this summary contradicts."
    )
    expect(staff.get_by_label("De-identified summary")).to_have_value(RECORD_SUMMARY)
    expect(
        staff.get_by_label("This summary contradicts an official report or figure")
    ).to_be_checked()
    staff.get_by_label("Which report or figure, as it was reported").fill(RECORD_TITLE)
    staff.get_by_label("The period it covers").fill(RECORD_PERIOD)
    staff.get_by_role("button", name="Check for identifiers").click()
    expect(staff.locator("#record-flags")).to_be_visible()
    shot(staff, "adviser-marks-record")
    staff.get_by_role("group", name="Send to").get_by_role("checkbox", name=leader.username).check()
    staff.get_by_role("button", name="Escalate to leadership").click()
    staff.wait_for_url(re.compile(rf"/adviser/o/{ref}#escalation$"))
    sent = staff.locator("#escalation article.escalation")
    expect(sent.locator(".record-claim")).to_have_text(
        f"Contradicts: {RECORD_TITLE} ({RECORD_PERIOD})"
    )
    expect(sent.locator(".ok")).to_have_text("signature verified")
    expect(sent.locator(".official-record")).to_contain_text("Awaiting a decision")

    # 3. The leader sees the statement, and must decide about the record to respond.
    chief = fresh_context().new_page()
    staff_login(chief, leader, shot, home="/leadership/")
    chief.goto("/leadership/e/eupol/1")
    expect(chief.locator("#v1 .record-claim")).to_contain_text(RECORD_TITLE)
    chief.get_by_label("Action planned").check()
    planned = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    chief.get_by_label("Planned for").fill(planned)
    chief.get_by_label("What was done or is planned; if declined, the reason").fill(CORRECTION)
    chief.get_by_role("button", name="Record the response").click()
    expect(chief.locator("#record_decision-errors")).to_contain_text(
        "This escalation contradicts an official report or figure"
    )
    expect(
        chief.get_by_label("What was done or is planned; if declined, the reason")
    ).to_have_value(CORRECTION)
    shot(chief, "leader-must-decide")
    chief.get_by_label("Correction planned").check()
    chief.get_by_label("Corrected by").fill(planned)
    chief.get_by_role("button", name="Record the response").click()
    chief.wait_for_url(re.compile(r"/leadership/e/eupol/1\?done=responded#responses$"))
    expect(chief.locator("#responses .record-decision")).to_contain_text("Correction planned")
    shot(chief, "leader-decided")

    # 4. The adviser sees the decision, to pass it on to the source.
    staff.goto(f"/adviser/o/{ref}")
    expect(sent.locator(".response .record-decision")).to_contain_text("Correction planned")

    # 5. The report's section counts it; once its date has passed, as overdue.
    today = datetime.now(UTC).date()
    period = f"start={(today - timedelta(days=7)).isoformat()}&end={today.isoformat()}"
    chief.goto(f"/leadership/report?{period}")
    planned_row = chief.locator("#official-record tr.outcome-correction_planned")
    expect(planned_row).to_contain_text("1")
    expect(planned_row).to_contain_text(LABEL)
    with app.app_context(), db.unit():
        db.session.execute(update(Response).values(correction_due=today - timedelta(days=1)))
    chief.goto("/leadership/")
    expect(chief.locator("table.escalations tbody tr").first).to_contain_text("Correction overdue")
    chief.goto(f"/leadership/report?{period}")
    overdue_row = chief.locator("#official-record tr.outcome-correction_overdue")
    expect(overdue_row).to_contain_text(LABEL)
    expect(chief.locator("#official-record tr.outcome-correction_planned")).to_contain_text("—")
    shot(chief, "report-official-record")
    staff.goto("/adviser/")
    expect(staff.locator("#official-record")).to_contain_text(LABEL)

    # 6. The evaluator's copy downloads as a zip and verifies with the key on the page.
    key = chief.locator("#report-key code").inner_text().strip()
    with chief.expect_download() as download:
        chief.get_by_role("link", name="Download the evaluator's copy (signed, zip)").click()
    archive = tmp_path / "copy.zip"
    download.value.save_as(archive)
    zipfile.ZipFile(archive).extractall(tmp_path / "received")
    [folder] = list((tmp_path / "received").iterdir())
    checked = verify_copy(folder, VerifyKey.from_text(key))
    assert checked.problems == []
    assert checked.document["official_record"]["correction_overdue"]["ledger_numbers"] == [LABEL]
