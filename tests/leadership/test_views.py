"""The leadership interface: escalations by ledger number, signatures, diffs, responses."""

from __future__ import annotations

import dataclasses
import html
import io
import re
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from dissent.crypto import VerifyKey
from dissent.extensions import current_context, db
from dissent.models import (
    AuditEntry,
    EscalationState,
    EscalationVersion,
    RecordDecision,
    ResponseKind,
    Role,
    today,
)
from dissent.services import audit, leadership
from dissent.services.evaluator import public_key, verify_copy
from dissent.services.report import whole_months
from tests.helpers.casework import SUMMARY, Sent, file_and_escalate, find
from tests.helpers.official_record import CLAIM, let_pass, plan
from tests.helpers.pages import (
    BASE_URL,
    csrf_from,
    field_errors,
    input_value,
    text_of,
    textarea_value,
)
from tests.helpers.services import revise as revise_version
from tests.helpers.staff import StaffLogin, adviser_keys, login_staff

REVISED = "The literacy course was attended by all 40 recruits; 12 completed it."


# --- helpers (shared with the report and CLI tests) -------------------------------------------


def revise(app, adviser: StaffLogin, sent: Sent, summary: str) -> None:
    """Send a corrected version of an escalation's summary."""
    with app.app_context():
        escalation_id = find(sent).id
    revise_version(app, adviser, escalation_id, summary)


def respond_form(browser, sent: Sent, **data):
    page = browser.get(sent.url, base_url=BASE_URL)
    return browser.post(
        f"{sent.url}/respond",
        data={"csrf_token": csrf_from(page), **data},
        base_url=BASE_URL,
    )


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def sent(app, new_client, adviser, leader) -> Sent:
    return file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])


@pytest.fixture
def browser(new_client, leader):
    """A browser with the leader logged in."""
    client = new_client()
    login_staff(client, leader)
    return client


# --- the list -----------------------------------------------------------------------------------


def test_the_list_shows_each_escalation_by_label_with_state_age_and_response(
    app, new_client, adviser, leader, browser
):
    first = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    second = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    with app.app_context():
        # The first was sent ten days ago and has been answered.
        row = find(first)
        row.created_at -= timedelta(days=10)
        db.session.commit()
    respond_form(browser, first, kind="action_taken", text="Figures corrected in the report.")

    page = browser.get("/leadership/", base_url=BASE_URL)

    assert page.status_code == 200
    rows = re.findall(r"<tr class=\"state-(\w+)\">(.*?)</tr>", page.get_data(as_text=True), re.S)
    assert [re.search(r">(EUPOL-\d{4})<", row).group(1) for _, row in rows] == [
        second.label,  # not answered yet, so first
        first.label,
    ]
    unanswered, answered = (
        " ".join(html.unescape(re.sub("<[^>]+>", " ", r)).split()) for _, r in rows
    )
    assert "EUPOL Test Mission" in unanswered
    assert "Sent, not yet acknowledged" in unanswered
    assert "0 days" in unanswered
    assert "Responded" in answered
    assert "10 days" in answered
    assert "Action taken" in answered
    assert f'href="{first.url}"' in page.get_data(as_text=True)


def test_a_leader_without_escalations_is_told_so(browser, mission):
    page = browser.get("/leadership/", base_url=BASE_URL)

    assert b"<h1>Escalations</h1>" in page.data
    assert b"No escalations have reached you yet." in page.data


# --- one escalation -------------------------------------------------------------------------------


def test_the_escalation_shows_the_summary_and_its_verified_signature(app, adviser, sent, browser):
    page = browser.get(sent.url, base_url=BASE_URL)

    assert page.status_code == 200
    assert f"Escalation {sent.label}" in text_of(page)
    assert SUMMARY in text_of(page)
    assert f"Signed by {adviser.username}, signature verified." in text_of(page)
    assert "FAILED" not in text_of(page)
    with app.app_context():
        views = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == audit.Action.ESCALATION_VIEW)
        ).all()
    assert [(v.subject, v.actor) for v in views] == [(sent.label, browser_user(app, sent))]


def browser_user(app, sent: Sent) -> str:
    """Return the username of the (only) recipient of an escalation."""
    with app.app_context():
        return find(sent).recipients[0].username


def test_a_changed_hash_is_shown_as_a_failed_signature_check(app, sent, browser):
    with app.app_context():
        db.session.execute(update(EscalationVersion).values(body_sha256="0" * 64))
        db.session.commit()

    page = browser.get(sent.url, base_url=BASE_URL)

    shown = text_of(page)
    assert page.status_code == 200
    assert "Signature check FAILED" in shown
    assert "the text is not the text the adviser signed" in shown
    assert "signature verified" not in shown
    assert 'role="alert"' in page.get_data(as_text=True)


def test_a_body_swapped_from_another_version_fails_the_check(app, adviser, sent, browser):
    revise(app, adviser, sent, REVISED)
    with app.app_context():
        first, second = find(sent).versions
        # Someone with database access puts another version's text in its place.
        second.body = first.body
        db.session.commit()

    page = browser.get(sent.url, base_url=BASE_URL)

    articles = re.findall(
        r'<article class="version[^"]*" id="v(\d)">(.*?)</article>',
        page.get_data(as_text=True),
        re.S,
    )
    assert [number for number, _ in articles] == ["1", "2"]
    assert "signature verified" in articles[0][1]
    assert "Signature check FAILED" in articles[1][1]
    assert "signature verified" not in articles[1][1]


def test_a_revision_shows_the_word_diff_between_versions(app, adviser, sent, browser):
    revise(app, adviser, sent, REVISED)

    page = browser.get(sent.url, base_url=BASE_URL)

    body = page.get_data(as_text=True)
    assert "Summary (2 versions)" in text_of(page)
    deleted = [
        html.unescape(re.sub("<[^>]+>", "", d)) for d in re.findall(r"<del>(.*?)</del>", body, re.S)
    ]
    inserted = [
        html.unescape(re.sub("<[^>]+>", "", i)) for i in re.findall(r"<ins>(.*?)</ins>", body, re.S)
    ]
    assert any("completed" in d for d in deleted)
    assert any("attended" in i for i in inserted)
    assert any("12 completed it." in i for i in inserted)
    # Both versions are there in full, each with its own verified signature.
    assert SUMMARY in text_of(page) and REVISED in text_of(page)
    assert text_of(page).count("signature verified") == 2


def test_acknowledging_receipt(app, sent, browser, leader):
    page = browser.get(sent.url, base_url=BASE_URL)
    assert b"Acknowledge receipt" in page.data

    response = browser.post(
        f"{sent.url}/acknowledge", data={"csrf_token": csrf_from(page)}, base_url=BASE_URL
    )

    assert response.status_code == 303
    after = browser.get(response.headers["Location"], base_url=BASE_URL)
    assert "Receipt acknowledged." in text_of(after)
    assert b"Acknowledge receipt</button>" not in after.data
    with app.app_context():
        row = find(sent)
        assert row.state is EscalationState.ACKNOWLEDGED
        assert row.acknowledged_by_id == leader.id
    again = browser.post(
        f"{sent.url}/acknowledge", data={"csrf_token": csrf_from(after)}, base_url=BASE_URL
    )
    assert again.status_code == 409
    assert "already acknowledged" in text_of(again)


def test_acknowledging_with_an_expired_form_changes_nothing(app, sent, browser):
    response = browser.post(f"{sent.url}/acknowledge", data={}, base_url=BASE_URL)

    assert response.status_code == 400
    assert "This form has expired" in text_of(response)
    with app.app_context():
        assert find(sent).state is EscalationState.SENT


def test_responding_with_an_expired_form_keeps_the_text_and_changes_nothing(app, sent, browser):
    text = "We will correct the figures in the next report."

    response = browser.post(
        f"{sent.url}/respond", data={"kind": "action_taken", "text": text}, base_url=BASE_URL
    )

    assert response.status_code == 400
    assert "This form has expired" in text_of(response)
    assert textarea_value(response, "text") == text
    with app.app_context():
        row = find(sent)
        assert row.state is EscalationState.SENT
        assert row.responses == []


@pytest.mark.parametrize(
    ("kind", "planned", "label"),
    [
        ("action_taken", "", "Action taken"),
        ("action_planned", "+30", "Action planned"),
        ("declined", "", "Declined"),
    ],
)
def test_each_kind_of_response_is_recorded_and_reaches_the_adviser(
    app, adviser, sent, browser, kind, planned, label
):
    day = (today() + timedelta(days=30)).isoformat() if planned else ""
    text = f"Our answer ({kind}): the figures go to the evaluation team."

    response = respond_form(browser, sent, kind=kind, planned_for=day, text=text)

    assert response.status_code == 303
    page = browser.get(response.headers["Location"], base_url=BASE_URL)
    assert "Response recorded." in text_of(page)
    assert label in text_of(page)
    assert text in text_of(page)
    with app.app_context():
        row = find(sent)
        assert row.state is EscalationState.RESPONDED
        assert row.responses[-1].kind is ResponseKind(kind)
        assert (row.responses[-1].planned_for is not None) is bool(planned)
        # The response flows back: the adviser can read it.
        _, identity = adviser_keys(adviser)
        assert [r.text for r in leadership.open_responses(row, identity)] == [text]


def test_a_planned_action_without_a_date_is_refused_and_the_text_kept(app, sent, browser):
    text = "We will retrain the evaluation team."

    response = respond_form(browser, sent, kind="action_planned", planned_for="", text=text)

    assert response.status_code == 400
    assert field_errors(response, "planned_for") == [
        "Give the date by which the action is planned."
    ]
    assert textarea_value(response, "text") == text
    assert re.search(
        rb'value="action_planned"[^>]*checked|checked[^>]*value="action_planned"', response.data
    )
    with app.app_context():
        assert find(sent).responses == []


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("next tuesday", "Enter a date as YYYY-MM-DD."),
        ("2026-02-30", "Enter a date as YYYY-MM-DD."),
        ("2001-01-01", "This date is in the past: was the action taken?"),
    ],
)
def test_a_planned_date_that_is_no_date_is_refused(app, sent, browser, given, message):
    response = respond_form(browser, sent, kind="action_planned", planned_for=given, text="Soon.")

    assert response.status_code == 400
    assert field_errors(response, "planned_for") == [message]
    assert input_value(response, "planned_for") == given


@pytest.mark.parametrize(
    ("kind", "message"),
    [("action_taken", "Describe the action."), ("declined", "Give the reason for declining.")],
)
def test_an_empty_text_is_asked_for(app, sent, browser, kind, message):
    response = respond_form(browser, sent, kind=kind, planned_for="", text="  \r\n ")

    assert response.status_code == 400
    assert field_errors(response, "text") == [message]


def test_no_kind_chosen_is_asked_for(app, sent, browser):
    response = respond_form(browser, sent, text="Something was done.")

    assert response.status_code == 400
    assert field_errors(response, "kind") == ["Choose what you decided."]
    assert textarea_value(response, "text") == "Something was done."


def test_a_leader_who_is_not_a_recipient_gets_404(app, new_client, adviser, sent, make_staff):
    other = make_staff(Role.LEADERSHIP)  # same mission, but not chosen
    client = new_client()
    home = login_staff(client, other)
    token = csrf_from(home)

    responses = [
        client.get(sent.url, base_url=BASE_URL),
        client.post(f"{sent.url}/acknowledge", data={"csrf_token": token}, base_url=BASE_URL),
        client.post(
            f"{sent.url}/respond",
            data={"csrf_token": token, "kind": "declined", "text": "No."},
            base_url=BASE_URL,
        ),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert sent.label.encode() not in home.data
    for response in responses:
        assert SUMMARY.encode() not in response.data
    with app.app_context():
        row = find(sent)
        assert row.state is EscalationState.SENT
        assert row.responses == []


def test_an_unknown_ledger_number_is_404(browser, sent):
    assert browser.get(f"/leadership/e/{sent.slug}/999", base_url=BASE_URL).status_code == 404
    assert browser.get("/leadership/e/nosuch/1", base_url=BASE_URL).status_code == 404


# --- the official record ------------------------------------------------------------------------


@pytest.fixture
def contradicting(app, new_client, adviser, leader) -> Sent:
    """An escalation whose summary contradicts an official report."""
    return file_and_escalate(app, new_client, adviser=adviser, leaders=[leader], record=CLAIM)


def test_the_leader_sees_which_report_the_summary_contradicts(contradicting, browser):
    page = browser.get(contradicting.url, base_url=BASE_URL)

    assert (
        f"This summary contradicts an official report or figure: {CLAIM.title} ({CLAIM.period})"
        in text_of(page)
    )
    assert "Official record Awaiting a decision" in text_of(page)
    assert 'name="record_decision"' in page.get_data(as_text=True)


def test_a_summary_that_contradicts_nothing_asks_for_no_decision(sent, browser):
    page = browser.get(sent.url, base_url=BASE_URL)

    assert "contradicts no official report or figure" in text_of(page)
    assert 'name="record_decision"' not in page.get_data(as_text=True)


def test_a_response_without_a_decision_about_the_record_is_refused_and_kept(
    app, contradicting, browser
):
    text = "The evaluation team was told."

    response = respond_form(browser, contradicting, kind="action_taken", text=text)

    assert response.status_code == 400
    assert field_errors(response, "record_decision") == [
        "This escalation contradicts an official report or figure: say whether it was "
        "corrected, a correction is planned, or it is not corrected."
    ]
    assert textarea_value(response, "text") == text
    with app.app_context():
        assert find(contradicting).responses == []


@pytest.mark.parametrize(
    ("decision", "due", "note", "field", "message"),
    [
        (
            "corrected",
            "",
            "",
            "record_note",
            "Give the reference of the correction, or the reason it is not corrected.",
        ),
        (
            "not_corrected",
            "",
            " ",
            "record_note",
            "Give the reference of the correction, or the reason it is not corrected.",
        ),
        (
            "correction_planned",
            "",
            "",
            "correction_due",
            "Give the date by which it will be corrected.",
        ),
        (
            "correction_planned",
            "-1",
            "",
            "correction_due",
            "This date is in the past: was the report or figure corrected?",
        ),
        ("correction_planned", "soon", "", "correction_due", "Enter a date as YYYY-MM-DD."),
        ("rewritten", "", "", "record_decision", "Choose one of the options in the list."),
    ],
)
def test_each_decision_asks_for_what_it_needs(
    app, contradicting, browser, decision, due, note, field, message
):
    if due == "-1":
        due = (today() - timedelta(days=1)).isoformat()
    response = respond_form(
        browser,
        contradicting,
        kind="action_taken",
        text="Checked.",
        record_decision=decision,
        correction_due=due,
        record_note=note,
    )

    assert response.status_code == 400
    assert field_errors(response, field) == [message]
    with app.app_context():
        assert find(contradicting).responses == []


def test_a_decision_is_recorded_and_reaches_the_adviser(app, adviser, contradicting, browser):
    day = today() + timedelta(days=14)

    response = respond_form(
        browser,
        contradicting,
        kind="action_planned",
        planned_for=day.isoformat(),
        text="The report will be reissued.",
        record_decision="correction_planned",
        correction_due=day.isoformat(),
        record_note="Reissue of the quarterly progress report",
    )

    assert response.status_code == 303
    page = browser.get(response.headers["Location"], base_url=BASE_URL)
    assert "Official report or figure: Correction planned" in text_of(page)
    assert "Reissue of the quarterly progress report" in text_of(page)
    with app.app_context():
        row = find(contradicting)
        assert row.responses[-1].record_decision is RecordDecision.CORRECTION_PLANNED
        assert row.responses[-1].correction_due == day
        _, identity = adviser_keys(adviser)
        [opened] = leadership.open_responses(row, identity)
        assert opened.record_note == "Reissue of the quarterly progress report"


def test_an_overdue_correction_is_marked_and_listed_first(
    app, new_client, adviser, leader, contradicting, browser
):
    later = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    respond_form(browser, later, kind="action_taken", text="Done.")
    with app.app_context():
        escalation_id = find(contradicting).id
        find(contradicting).created_at -= timedelta(days=40)
        db.session.commit()
    plan(app, leader, escalation_id)
    first = browser.get("/leadership/", base_url=BASE_URL)
    assert "Correction overdue" not in text_of(first)

    let_pass(app, escalation_id, days=2)
    page = browser.get("/leadership/", base_url=BASE_URL)

    rows = re.findall(r"<tr class=\"state-(\w+)\">(.*?)</tr>", page.get_data(as_text=True), re.S)
    assert [re.search(r">(EUPOL-\d{4})<", row).group(1) for _, row in rows] == [
        contradicting.label,  # responded, but its correction is late: first
        later.label,
    ]
    assert '<strong class="overdue">Correction overdue</strong>' in rows[0][1]
    assert (
        f"1 planned correction of the official record is past its date: {contradicting.label}."
        in text_of(page)
    )
    escalation_page = browser.get(contradicting.url, base_url=BASE_URL)
    due = (today() - timedelta(days=2)).strftime("%b %-d, %Y")
    assert f"The correction of the official record planned for {due} is overdue." in text_of(
        escalation_page
    )


def test_the_evaluator_s_copy_downloads_as_a_zip_that_verifies(
    app, contradicting, browser, tmp_path
):
    start = today().replace(day=1).isoformat()

    response = browser.get(
        "/leadership/report/evaluator.zip",
        query_string={"start": start, "end": today().isoformat()},
        base_url=BASE_URL,
    )

    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    folder = f"dissent-report-{start}-{whole_months(today(), today())[1].isoformat()}"
    assert f'filename="{folder}' in response.headers["Content-Disposition"]
    zipfile.ZipFile(io.BytesIO(response.data)).extractall(tmp_path / "received")
    [unpacked] = list((tmp_path / "received").iterdir())
    with app.app_context():
        key = VerifyKey.from_text(public_key(current_context().settings.report_key))
        last = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
    checked = verify_copy(unpacked, key)
    assert checked.problems == []
    assert checked.document["official_record"]["awaiting_decision"]["ledger_numbers"] == [
        contradicting.label
    ]
    assert (last.action, last.subject.split()[0]) == (audit.Action.REPORT, "evaluator")


def test_without_a_report_key_there_is_no_evaluator_s_copy(app, browser, mission, monkeypatch):
    context = app.extensions["dissent.context"]
    without = dataclasses.replace(context.settings, report_key=None)
    monkeypatch.setitem(
        app.extensions, "dissent.context", dataclasses.replace(context, settings=without)
    )

    page = browser.get("/leadership/report", base_url=BASE_URL)
    download = browser.get("/leadership/report/evaluator.zip", base_url=BASE_URL)

    assert "This instance has no report key yet" in text_of(page)
    assert "evaluator.zip" not in page.get_data(as_text=True)
    assert download.status_code == 409
