"""A proposed summary in the source's inbox: listed first while it waits, who reads it,
two answers of equal weight, a word that the answer was kept, and the answer kept in
the thread (dissent.source.views, templates/source/inbox.html)."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale, format_date

from dissent.models import today
from tests.helpers.pages import BASE_URL, csrf_from, form_fields, text_of
from tests.helpers.proposals import SUMMARY, pass_on, propose
from tests.helpers.source import submit_observation

WAITING = "Waiting for your decision"
APPROVED_SAVED = "Your approval is saved."
DECLINED_SAVED = "Your answer is saved: this summary will not be passed on."
WHO_READS = "leadership of your mission (the official reporting line), who must respond to it"


@pytest.fixture
def source(client, adviser):
    """A source who filed an observation and asked to approve any summary first."""
    submit_observation(client, what="The course figures were inflated.", consent="ask_first")
    return client


def inbox(client, **query):
    page = client.get("/inbox", query_string=query, base_url=BASE_URL)
    assert page.status_code == 200
    return page


def answer(client, proposal_id: int, decision: str, comment: str = ""):
    page = inbox(client)
    action = f"/inbox/proposals/{proposal_id}"
    data = form_fields(page, action, decision=decision, comment=comment)
    return client.post(action, data=data, base_url=BASE_URL)


def shown_day(app) -> str:
    with app.test_request_context(), force_locale("en"):
        return format_date(today())


def test_a_waiting_proposal_is_listed_first_with_a_link_to_where_it_is_answered(
    app, source, adviser
):
    assert WAITING not in text_of(inbox(source))

    proposal_id = propose(app, adviser)
    html = inbox(source).get_data(as_text=True)

    news = html.index(WAITING)
    assert news < html.index('<article class="observation"')
    link = re.search(r'<section class="news[^"]*".*?</section>', html, re.S).group(0)
    assert f'href="#proposal-{proposal_id}"' in link
    assert f'id="proposal-{proposal_id}"' in html  # the link leads somewhere


def test_the_proposal_says_who_reads_a_passed_on_summary(app, source, adviser):
    propose(app, adviser)

    text = text_of(inbox(source))

    assert f"Who reads it: {WHO_READS}" in text
    assert "not what you wrote, not your messages, not your codename" in text


def test_approve_and_decline_are_two_buttons_of_the_same_kind(app, source, adviser):
    proposal_id = propose(app, adviser)
    html = inbox(source).get_data(as_text=True)

    form = re.search(rf'action="/inbox/proposals/{proposal_id}".*?</form>', html, re.S).group(0)
    buttons = re.findall(r"<button[^>]*>", form)
    assert [re.search(r'value="(\w+)"', b).group(1) for b in buttons] == ["approve", "decline"]
    # The same markup but for the value: no answer is the primary, highlighted one.
    assert buttons[0].replace("approve", "decline") == buttons[1]
    assert "primary" not in form
    assert re.search(r'<div class="actions decision">\s*<button', form)


def test_an_approval_is_confirmed_and_stays_in_the_thread(app, source, adviser):
    proposal_id = propose(app, adviser)

    response = answer(source, proposal_id, "approve", "Fine by me.")

    assert response.status_code == 303
    assert response.headers["Location"] == (f"/inbox?decided={proposal_id}#proposal-{proposal_id}")
    page = source.get(response.headers["Location"], base_url=BASE_URL)
    html, text = page.get_data(as_text=True), text_of(page)
    item = re.search(rf'<li id="proposal-{proposal_id}".*?</li>', html, re.S).group(0)
    assert 'role="status"' in item and APPROVED_SAVED in item
    assert f"You approved this summary on {shown_day(app)}." in text
    assert SUMMARY in item  # the text it was about, at hand
    assert f'action="/inbox/proposals/{proposal_id}"' not in html  # answered once
    assert WAITING not in text
    assert "Fine by me." in text  # the comment went to the adviser's thread

    later = text_of(inbox(source))
    assert APPROVED_SAVED not in later  # said once, after the answer
    assert f"You approved this summary on {shown_day(app)}." in later


def test_a_refusal_is_confirmed_and_stays_in_the_thread(app, source, adviser):
    proposal_id = propose(app, adviser)

    response = answer(source, proposal_id, "decline")
    page = source.get(response.headers["Location"], base_url=BASE_URL)

    text = text_of(page)
    assert DECLINED_SAVED in text
    assert f"You declined this summary on {shown_day(app)}. It will not be passed on." in text
    assert f"You declined this summary on {shown_day(app)}." in text_of(inbox(source))


def test_a_replaced_proposal_says_so_and_only_the_new_one_waits(app, source, adviser):
    first = propose(app, adviser)
    second = propose(app, adviser, "A shorter summary: attendance was counted as completion.")

    html = inbox(source).get_data(as_text=True)

    assert f'action="/inbox/proposals/{second}"' in html
    assert f'action="/inbox/proposals/{first}"' not in html
    item = re.search(rf'<li id="proposal-{first}".*?</li>', html, re.S).group(0)
    assert "The adviser replaced this proposal with a newer one before you answered." in item


def test_a_summary_passed_on_says_so_and_who_reads_it(app, source, adviser, leader):
    proposal_id = propose(app, adviser)
    answer(source, proposal_id, "approve")
    label = pass_on(app, adviser, leader)

    text = text_of(inbox(source))

    assert f"You approved this summary on {shown_day(app)}, and it was passed on." in text
    assert f"Passed on as {label} Read by leadership of your mission" in text


def test_an_answer_given_meanwhile_in_another_tab_is_explained_once(app, source, adviser):
    proposal_id = propose(app, adviser)
    old_tab = inbox(source)
    answer(source, proposal_id, "decline")

    late = source.post(
        f"/inbox/proposals/{proposal_id}",
        data={"csrf_token": csrf_from(old_tab), "decision": "approve"},
        base_url=BASE_URL,
    )

    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "This proposal was already answered or withdrawn." in html
    assert html.count(f'id="proposal-{proposal_id}"') == 1
    assert DECLINED_SAVED not in html


def test_the_word_after_an_answer_is_only_about_the_sources_own_answers(app, new_client, adviser):
    owner = new_client()
    submit_observation(owner, what="The course figures were inflated.", consent="ask_first")
    proposal_id = propose(app, adviser)
    answer(owner, proposal_id, "approve")
    stranger = new_client()
    submit_observation(stranger, what="Another observation.", consent="ask_first")

    assert APPROVED_SAVED in text_of(inbox(owner, decided=proposal_id))
    seen = text_of(inbox(stranger, decided=proposal_id))
    assert APPROVED_SAVED not in seen and SUMMARY not in seen


@pytest.mark.parametrize("decided", ["999999", "x", "-1", "1e9", ""])
def test_a_made_up_answer_number_shows_the_inbox_as_usual(source, decided):
    text = text_of(inbox(source, decided=decided))

    assert "Your inbox" in text and "saved" not in text
