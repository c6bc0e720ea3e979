"""The adviser's interface: the inbox, one observation, acknowledgement and replies."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from dissent.extensions import db
from dissent.models import (
    AuditEntry,
    Category,
    Escalation,
    Message,
    MessageKind,
    Observation,
    Proposal,
    Role,
    State,
    today,
)
from dissent.services import accounts, consent, inbox, triage
from dissent.services.conversation import MESSAGE_MAX
from dissent.services.errors import InvalidInput, Problem
from tests.helpers.casework import (
    checked_hash,
    file_and_acknowledge,
    file_and_escalate,
    find,
    post_summary,
    refs,
)
from tests.helpers.official_record import CLAIM, let_pass, plan
from tests.helpers.pages import BASE_URL, csrf_from, field_errors, text_of, textarea_value
from tests.helpers.source import ACK_TEXT, file_to_mission, source_login, submit_observation
from tests.helpers.staff import login_staff


@pytest.fixture
def staff(new_client, adviser):
    """A browser with the adviser logged in."""
    browser = new_client()
    login_staff(browser, adviser)
    return browser


def inbox_refs(page) -> list[str]:
    return [m.decode() for m in re.findall(rb'<a href="/adviser/o/([A-Z0-9-]{9})">', page.data)]


def acknowledge(staff, ref: str):
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    return staff.post(
        f"/adviser/o/{ref}/acknowledge", data={"csrf_token": csrf_from(page)}, base_url=BASE_URL
    )


def adviser_reply(staff, ref: str, text: str):
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    return staff.post(
        f"/adviser/o/{ref}/reply",
        data={"csrf_token": csrf_from(page), "text": text},
        base_url=BASE_URL,
    )


def messages(app, **where) -> int:
    with app.app_context():
        query = select(func.count()).select_from(Message)
        for name, value in where.items():
            query = query.where(getattr(Message, name) == value)
        return db.session.scalar(query)


# --- the inbox --------------------------------------------------------------------------------


def test_the_inbox_lists_only_the_advisers_own_missions(
    app, new_client, mission, adviser, make_staff
):
    with app.app_context(), db.unit():
        other_id = accounts.create_mission(db.session, slug="eutm", name="EUTM Mission").id
    other_adviser = make_staff(Role.ADVISER, missions=["eutm"])
    file_to_mission(new_client(), mission.id, what="For the EUPOL adviser.")
    file_to_mission(new_client(), other_id, what="For the EUTM adviser.")
    own_ref, other_ref = refs(app)

    staff = new_client()
    inbox = login_staff(staff, adviser)

    assert inbox_refs(inbox) == [own_ref]
    assert b"1 observation." in inbox.data
    assert staff.get(f"/adviser/o/{other_ref}", base_url=BASE_URL).status_code == 404
    assert acknowledge(staff, own_ref).status_code == 303
    foreign = staff.post(
        f"/adviser/o/{other_ref}/reply",
        data={"csrf_token": csrf_from(inbox), "text": "Reaching into another mission."},
        base_url=BASE_URL,
    )
    assert foreign.status_code == 404
    assert messages(app, sender="adviser", kind=MessageKind.MESSAGE) == 0
    other_staff = new_client()
    assert inbox_refs(login_staff(other_staff, other_adviser)) == [other_ref]


def test_overdue_first_then_newest(app, new_client, staff):
    for what in ("Oldest, left too long.", "Middle.", "Newest."):
        submit_observation(new_client(), what=what)
    oldest, middle, newest = refs(app)
    with app.app_context():
        db.session.execute(
            update(Observation)
            .where(Observation.ref == oldest)
            .values(received_on=today() - timedelta(days=10))
        )
        db.session.commit()

    inbox = staff.get("/adviser/", base_url=BASE_URL)

    assert inbox_refs(inbox) == [oldest, newest, middle]
    assert b"1 overdue for acknowledgement" in inbox.data
    first_row = re.search(rb'<tr([^>]*)>\s*<td[^>]*><a href="/adviser/o/', inbox.data)
    assert first_row and b"overdue" in first_row.group(1)
    assert inbox.data.count(b"<strong>overdue</strong>") == 1


def test_the_last_page_of_the_inbox_offers_no_next_page(app, new_client, staff, monkeypatch):
    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    for n in range(3):
        submit_observation(new_client(), what=f"Fuel was sold on, case {n}.")

    first = staff.get("/adviser/", base_url=BASE_URL)
    last = staff.get("/adviser/?page=2", base_url=BASE_URL)

    assert b"page=2" in first.data and b">Next<" in first.data
    assert b"Page 1 of 2" in first.data
    assert len(inbox_refs(last)) == 1
    assert b">Next<" not in last.data and b">Previous<" in last.data
    assert b"Page 2 of 2" in last.data


def test_an_acknowledged_observation_is_no_longer_overdue(app, new_client, staff):
    submit_observation(new_client(), what="Late, then acknowledged.")
    (ref,) = refs(app)
    with app.app_context():
        db.session.execute(update(Observation).values(received_on=today() - timedelta(days=10)))
        db.session.commit()
    assert b"overdue for acknowledgement" in staff.get("/adviser/", base_url=BASE_URL).data

    acknowledge(staff, ref)

    assert b"overdue" not in staff.get("/adviser/", base_url=BASE_URL).data


# --- one observation --------------------------------------------------------------------------


def test_the_observation_page_decrypts_the_content(app, new_client, staff):
    canary = "canary-4411 the audit was cancelled after the visit"
    submit_observation(
        new_client(), what=canary, where="Northern province", official_report="Audit plan 2025"
    )
    (ref,) = refs(app)
    with app.app_context():
        stored = db.session.scalar(select(Observation.content))
    assert canary.encode() not in stored

    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)

    assert page.status_code == 200
    assert canary.encode() in page.data
    assert b"Northern province" in page.data
    assert b"Audit plan 2025" in page.data
    assert b"Reporting accuracy and pressure to misreport" in page.data


def test_acknowledging_sets_state_and_date_and_tells_the_source(app, client, new_client, staff):
    codename = submit_observation(client, what="Please acknowledge me.")
    (ref,) = refs(app)

    response = acknowledge(staff, ref)

    assert response.status_code == 303
    page = staff.get(response.headers["Location"], base_url=BASE_URL)
    assert b"Acknowledged. The source sees the standard acknowledgement." in page.data
    assert b"Standard acknowledgement sent." in page.data
    assert b"Acknowledge receipt</button>" not in page.data
    with app.app_context():
        observation = db.session.scalars(select(Observation)).one()
        assert observation.state is State.ACKNOWLEDGED
        assert observation.acknowledged_on == today()
    returning = new_client()
    source_login(returning, codename)
    assert ACK_TEXT in returning.get("/inbox", base_url=BASE_URL).data


def test_acknowledging_twice_is_a_conflict_without_a_second_message(app, new_client, staff):
    submit_observation(new_client(), what="Acknowledge me once.")
    (ref,) = refs(app)
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    data = {"csrf_token": csrf_from(page)}

    first = staff.post(f"/adviser/o/{ref}/acknowledge", data=data, base_url=BASE_URL)
    second = staff.post(f"/adviser/o/{ref}/acknowledge", data=data, base_url=BASE_URL)

    assert first.status_code == 303
    assert second.status_code == 409
    assert messages(app, kind=MessageKind.ACKNOWLEDGEMENT) == 1
    assert second.data.count(b"Standard acknowledgement sent.") == 1


@pytest.mark.parametrize(
    "ref",
    [
        "../../etc",
        "..%2F..%2Fetc%2Fpasswd",
        "x" * 200,
        "x",
        "ABCD-EFGH",
        "abcd-efgh",
        "%C3%A9%C3%A9%C3%A9%C3%A9-%C3%A9%C3%A9%C3%A9%C3%A9",
        "'%20OR%201=1",
    ],
)
def test_a_malformed_reference_is_404(app, new_client, staff, ref):
    submit_observation(new_client(), what="A real one exists.")

    for response in (
        staff.get(f"/adviser/o/{ref}", base_url=BASE_URL),
        staff.post(f"/adviser/o/{ref}/acknowledge", base_url=BASE_URL),
        staff.post(f"/adviser/o/{ref}/reply", data={"text": "x"}, base_url=BASE_URL),
    ):
        assert response.status_code == 404
    assert messages(app) == 0


def test_a_reference_with_a_nul_character_is_refused(new_client, staff):
    submit_observation(new_client(), what="A real one exists.")

    assert staff.get("/adviser/o/ABCD-EFG%00", base_url=BASE_URL).status_code == 400


def test_a_lower_case_reference_finds_the_observation(app, new_client, staff):
    submit_observation(new_client(), what="Read aloud on the phone.")
    (ref,) = refs(app)

    page = staff.get(f"/adviser/o/{ref.lower()}", base_url=BASE_URL)

    assert page.status_code == 200
    assert b"Read aloud on the phone." in page.data


# --- replies ----------------------------------------------------------------------------------


def test_a_reply_reaches_the_source(app, client, new_client, staff):
    codename = submit_observation(client, what="Waiting for an answer.")
    (ref,) = refs(app)

    response = adviser_reply(staff, ref, "Could you say which month?")

    assert response.status_code == 303
    assert b"Could you say which month?" in staff.get(f"/adviser/o/{ref}", base_url=BASE_URL).data
    returning = new_client()
    source_login(returning, codename)
    assert b"Could you say which month?" in returning.get("/inbox", base_url=BASE_URL).data


@pytest.mark.parametrize("text", ["", "   \r\n  "], ids=["empty", "blank"])
def test_an_empty_reply_is_refused(app, new_client, staff, text):
    submit_observation(new_client(), what="Needs a real answer.")
    (ref,) = refs(app)

    response = adviser_reply(staff, ref, text)

    assert response.status_code == 400
    assert field_errors(response, "text") == ["Write a message first."]
    assert messages(app) == 0


def test_an_over_long_reply_is_refused_and_kept(app, new_client, staff):
    submit_observation(new_client(), what="Needs a shorter answer.")
    (ref,) = refs(app)
    text = "Answer: " + "a" * (MESSAGE_MAX + 1 - len("Answer: "))

    response = adviser_reply(staff, ref, text)

    assert response.status_code == 400
    assert field_errors(response, "text") == [f"At most {MESSAGE_MAX} characters."]
    assert textarea_value(response, "text") == text
    assert messages(app) == 0


def test_triage_is_saved_together_or_not_at_all(app, new_client, staff, adviser, monkeypatch):
    """A failure on the last of the three changes leaves the first two unsaved as well."""
    submit_observation(new_client(), what="The checkpoint log was rewritten after the visit.")
    ref = refs(app)[-1]

    def refuse(*_args, **_kwargs):
        raise InvalidInput("category", Problem.NOT_ALLOWED)

    monkeypatch.setattr(triage, "correct_category", refuse)
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    with app.app_context():
        audit_rows = db.session.scalar(select(func.count()).select_from(AuditEntry))
    response = staff.post(
        f"/adviser/o/{ref}/triage",
        data={
            "csrf_token": csrf_from(page),
            "assignee": str(adviser.id),
            "severity": "high",
            "category": "other",
        },
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert field_errors(response, "category")
    with app.app_context():
        observation = db.session.scalar(select(Observation).where(Observation.ref == ref))
        assert observation.assigned_to_id is None
        assert observation.severity is None
        assert observation.category is Category.REPORTING_ACCURACY
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audit_rows


# --- the official record ----------------------------------------------------------------------


def test_a_ticked_box_without_the_report_s_name_is_asked_for_and_the_text_kept(
    app, new_client, staff, leader
):
    _source, ref = file_and_acknowledge(new_client, staff, consent="summary_allowed")
    text = "The figure counts attendance as completion."

    response = post_summary(
        staff, ref, text, "check", record_contradicts="y", record_period="Q2 2026"
    )

    assert response.status_code == 400
    assert field_errors(response, "record_title") == [
        "Name the report or figure this summary contradicts."
    ]
    assert textarea_value(response, "summary") == text
    assert b'id="record_contradicts" name="record_contradicts" type="checkbox"' in response.data
    assert b'value="Q2 2026"' in response.data


def test_overdue_corrections_are_shown_in_the_adviser_s_inbox(
    app, new_client, staff, adviser, leader
):
    sent = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader], record=CLAIM)
    with app.app_context():
        escalation_id, ref = find(sent).id, find(sent).observation.ref
    plan(app, leader, escalation_id)
    assert (
        b"Corrections of the official record past their date"
        not in staff.get("/adviser/", base_url=BASE_URL).data
    )

    let_pass(app, escalation_id, days=5)
    page = staff.get("/adviser/", base_url=BASE_URL)
    case = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)

    due = (today() - timedelta(days=5)).strftime("%b %-d, %Y")
    assert "Corrections of the official record past their date" in text_of(page)
    assert f"{sent.label} · due {due}" in text_of(page)
    assert f'href="/adviser/o/{ref}#escalation"' in page.get_data(as_text=True)
    assert f"Official record: Correction overdue · by {due}" in text_of(case)


def test_the_correction_form_keeps_the_statement_it_was_sent_with(
    app, new_client, staff, adviser, leader
):
    sent = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader], record=CLAIM)
    with app.app_context():
        row = find(sent)
        escalation_id, ref = row.id, row.observation.ref

    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)

    assert f"Contradicts: {CLAIM.title} ({CLAIM.period})" in text_of(page)
    body = page.get_data(as_text=True)
    inline = body.split(f"/escalations/{escalation_id}/revise", 1)[1].split("</form>", 1)[0]
    assert 'name="record_contradicts" value="y" checked' in inline
    assert f'value="{CLAIM.title}"' in inline and f'value="{CLAIM.period}"' in inline


# --- the case page on a phone and at a desk (issue 12, item 8) ----------------------------


def contents_links(response) -> list[str]:
    """Return the targets of the page's contents list, in order."""
    nav = re.search(rb'<nav class="contents"[^>]*>(.*?)</nav>', response.data, re.S)
    assert nav, "no contents list"
    return [m.decode() for m in re.findall(rb'<a href="#([^"]+)"', nav.group(1))]


def form_html(response, action: str) -> str:
    """Return the markup of the first form posting to ``action``."""
    body = response.get_data(as_text=True)
    match = re.search(rf'<form[^>]+action="{re.escape(action)}[#"].*?</form>', body, re.S)
    assert match, f"no form posting to {action}"
    return match.group(0)


def test_the_case_page_starts_with_a_contents_list_of_its_sections(app, new_client, staff):
    _source, ref = file_and_acknowledge(new_client, staff, consent="ask_first")

    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)

    links = contents_links(page)
    body = page.get_data(as_text=True)
    for target in ("observation-text", "attachments", "thread", "reply", "feedback"):
        assert target in links
    for target in ("summary-editor", "escalation", "triage", "state", "history", "note"):
        assert target in links
    for target in links:
        assert body.count(f'id="{target}"') == 1, target
    # It comes first, before the case's own details.
    assert body.index('<nav class="contents"') < body.index('<dl class="meta">')


def test_every_link_of_the_contents_list_has_its_target_in_each_state(
    app, new_client, staff, adviser, leader
):
    submit_observation(new_client(), what="Not yet acknowledged.")
    received = refs(app)[-1]
    sent = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    escalated = refs(app)[-1]

    for ref in (received, escalated):
        page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
        body = page.get_data(as_text=True)
        for target in contents_links(page):
            assert body.count(f'id="{target}"') == 1, (ref, target)
    assert "feedback" not in contents_links(staff.get(f"/adviser/o/{received}", base_url=BASE_URL))
    # Once sent, the editor is folded away and the list points at the status instead.
    shown = staff.get(f"/adviser/o/{escalated}", base_url=BASE_URL)
    assert "summary-editor" not in contents_links(shown)
    assert f"{sent.label}" in text_of(shown)


def test_the_note_box_says_the_source_does_not_see_it_and_the_reply_box_whom_it_reaches(
    app, new_client, staff
):
    _source, ref = file_and_acknowledge(new_client, staff, consent="ask_first")

    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)

    note = form_html(page, f"/adviser/o/{ref}/notes")
    reply = form_html(page, f"/adviser/o/{ref}/reply")
    assert 'class="compose internal-note"' in note
    assert "Internal note — the source does not see this" in note
    assert 'class="compose to-source"' in reply
    assert "Message to the source" in reply
    assert "the source does not see" not in reply


def test_change_state_has_no_state_chosen_and_asks_for_one(app, new_client, staff):
    _source, ref = file_and_acknowledge(new_client, staff, consent="ask_first")
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    state_form = form_html(page, f"/adviser/o/{ref}/state")
    assert state_form.count('type="radio"') == 3
    assert "checked" not in state_form

    response = staff.post(
        f"/adviser/o/{ref}/state",
        data={"csrf_token": csrf_from(page), "reason": "Looked into it."},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert field_errors(response, "to_state") == ["Choose the new state."]
    assert textarea_value(response, "reason") == "Looked into it."
    with app.app_context():
        assert db.session.scalar(select(Observation.state)) is State.ACKNOWLEDGED


def test_until_the_source_approved_proposing_is_the_primary_action(app, new_client, staff, leader):
    _source, ref = file_and_acknowledge(new_client, staff, consent="ask_first")
    text = "Figures in the quarterly report were rounded up."

    fresh = form_html(
        staff.get(f"/adviser/o/{ref}", base_url=BASE_URL), f"/adviser/o/{ref}/summary"
    )
    assert re.search(r'value="propose" class="primary"', fresh)
    assert 'value="escalate"' not in fresh
    assert 'name="leaders"' not in fresh

    checked = post_summary(staff, ref, text, "check")
    assert (
        post_summary(staff, ref, text, "propose", checked=checked_hash(checked)).status_code == 303
    )
    with app.app_context(), db.unit():
        proposal = db.session.scalars(select(Proposal)).one()
        consent.source_decides(
            db.session,
            source_id=proposal.observation.source_id,
            proposal_id=proposal.id,
            approve=True,
        )

    approved = form_html(
        staff.get(f"/adviser/o/{ref}", base_url=BASE_URL), f"/adviser/o/{ref}/summary"
    )
    assert re.search(r'value="escalate" class="primary"', approved)
    assert 'value="propose" class="primary"' not in approved
    assert 'name="leaders"' in approved


def test_send_to_offers_the_leaders_as_checkboxes_and_asks_for_one(app, new_client, staff, leader):
    _source, ref = file_and_acknowledge(new_client, staff, consent="summary_allowed")
    text = "Figures in the quarterly report were rounded up."
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    summary_form = form_html(page, f"/adviser/o/{ref}/summary")
    assert "<select" not in summary_form.split('name="leaders"')[0].rsplit("<fieldset", 1)[-1]
    box = re.search(rf'<input[^>]*name="leaders"[^>]*value="{leader.id}"[^>]*>', summary_form)
    assert box and 'type="checkbox"' in box.group(0) and "checked" in box.group(0)
    assert "<legend>Send to</legend>" in summary_form

    checked = post_summary(staff, ref, text, "check")
    # Nobody ticked:
    response = post_summary(staff, ref, text, "escalate", checked=checked_hash(checked))

    assert response.status_code == 400
    assert field_errors(response, "leaders")
    assert b'href="#leaders-0"' in response.data  # the summary links to the first box
    assert textarea_value(response, "summary") == text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Escalation)) == 0


def test_once_sent_the_escalation_s_status_takes_the_summary_form_s_place(
    app, new_client, staff, adviser, leader
):
    sent = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    with app.app_context():
        row = find(sent)
        ref, escalation_id = row.observation.ref, row.id

    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)

    status = re.search(
        r'<dl class="meta escalation-status">(.*?)</dl>', page.get_data(as_text=True), re.S
    )
    assert status
    shown = " ".join(re.sub(r"<[^>]+>", " ", status.group(1)).split())
    assert f"Ledger number {sent.label}" in shown
    assert f"Sent to {leader.username}" in shown
    assert re.search(r"Sent \d{1,2} \w{3} \d{4} \d{2}:\d{2} UTC", shown)
    assert "Acknowledged not yet" in shown
    assert "Respond by" in shown
    # The editor for a new summary is folded away; correcting this one is offered.
    assert re.search(r'<details class="another-summary">\s*<summary>', page.get_data(as_text=True))
    assert f"/escalations/{escalation_id}/revise" in page.get_data(as_text=True)
    assert b'<details class="another-summary" open>' not in page.data


def test_staff_times_show_their_time_zone_and_the_source_s_dates_the_day(
    app, client, new_client, staff
):
    codename = submit_observation(client, what="Waiting for an answer.")
    (ref,) = refs(app)
    adviser_reply(staff, ref, "Could you say which month?")

    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)

    thread = page.get_data(as_text=True).split('id="thread"', 1)[1]
    assert re.search(r"· \d{1,2} \w{3} \d{4} \d{2}:\d{2} UTC</p>", thread)
    returning = new_client()
    source_login(returning, codename)
    inbox_page = returning.get("/inbox", base_url=BASE_URL).get_data(as_text=True)
    assert "Could you say which month?" in inbox_page
    assert not re.search(r"\d{2}:\d{2}", inbox_page)
