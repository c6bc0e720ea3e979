""" "New since your last visit" at the top of the source's inbox: the adviser's new
messages and files, counted, linked and marked, then no longer new (dissent.services.news,
dissent.source.views, templates/source/inbox.html)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from dissent.extensions import current_context, db
from dissent.models import Observation
from dissent.services import conversation, news
from tests.helpers.casework import observation_ref
from tests.helpers.files import adviser_upload, random_bytes, source_upload
from tests.helpers.pages import BASE_URL, csrf_from, text_of
from tests.helpers.races import at_once
from tests.helpers.source import source_reply, submit_observation
from tests.helpers.staff import adviser_keys, login_staff

NEW_SINCE = "New since your last visit"
NOTHING_NEW = "Nothing new since your last visit."


@pytest.fixture
def source(app, new_client, mission, adviser):
    """A source's browser, in their inbox after filing one observation (``.ref``)."""
    browser = new_client()
    submit_observation(browser, what="The course figures were inflated.")
    browser.ref = observation_ref(app, mission_id=mission.id)
    return browser


def adviser_writes(app, adviser, ref: str, text: str) -> None:
    """Add a message from ``adviser`` to the observation ``ref``."""
    with app.app_context(), db.unit():
        user, _identity = adviser_keys(adviser)
        found = db.session.scalar(select(Observation).where(Observation.ref == ref))
        conversation.post_adviser_message(
            db.session, current_context(), staff=user, observation=found, text=text
        )


def inbox(browser):
    page = browser.get("/inbox", base_url=BASE_URL)
    assert page.status_code == 200
    return page


def summary(page) -> list[tuple[str, str]]:
    """Return the links of the "new since your last visit" section: (target, text)."""
    section = re.search(
        r'<section class="news-since[^"]*"[^>]*>(.*?)</section>', page.get_data(as_text=True), re.S
    )
    if section is None:
        return []
    return [
        (href, " ".join(re.sub(r"<[^>]+>", " ", text).split()))
        for href, text in re.findall(r'<a href="#([^"]+)">(.*?)</a>', section.group(1), re.S)
    ]


def marked_new(page) -> list[str]:
    """Return the ids of the messages and files marked "New"."""
    return re.findall(
        r'<li class="(?:message|attachment) from-\w+" id="([^"]+)">\s*(?:<p class="who">)?'
        r'<strong class="new-mark">New</strong>',
        page.get_data(as_text=True),
    )


def counters(app, ref: str) -> tuple[int, int]:
    with app.app_context():
        found = db.session.scalar(select(Observation).where(Observation.ref == ref))
        return found.source_seen_message, found.source_seen_attachment


def test_the_adviser_s_new_messages_are_counted_linked_and_marked(app, source, adviser):
    ref = source.ref
    before = inbox(source)
    adviser_writes(app, adviser, ref, "Could you say which month?")
    adviser_writes(app, adviser, ref, "And which unit kept the figures?")

    page = inbox(source)

    assert NEW_SINCE not in text_of(before) and NOTHING_NEW not in text_of(before)
    assert summary(page) == [
        (f"message-{ref}-1", f"2 new messages from the adviser on observation {ref}")
    ]
    assert f'id="message-{ref}-1"' in page.get_data(as_text=True)  # the link lands
    assert marked_new(page) == [f"message-{ref}-1", f"message-{ref}-2"]
    # The news comes first, before the observation it is about.
    text = text_of(page)
    assert text.index(NEW_SINCE) < text.index(f"Observation {ref}")


def test_after_a_visit_what_was_shown_is_no_longer_new(app, source, adviser):
    ref = source.ref
    adviser_writes(app, adviser, ref, "Could you say which month?")
    inbox(source)
    adviser_writes(app, adviser, ref, "Thank you. One more question.")

    second = inbox(source)
    third = inbox(source)

    assert summary(second) == [
        (f"message-{ref}-2", f"1 new message from the adviser on observation {ref}")
    ]
    assert marked_new(second) == [f"message-{ref}-2"]
    assert summary(third) == [] and marked_new(third) == []
    assert NOTHING_NEW in text_of(third)
    assert "Thank you. One more question." in text_of(third)  # still in the thread


def test_the_source_s_own_messages_and_files_are_never_news(app, source, adviser):
    ref = source.ref
    assert source_reply(source, ref, "I remembered the month.").status_code == 303
    assert source_upload(source, random_bytes(2_000), "mine.bin").status_code == 303
    token = csrf_from(inbox(source))
    adviser_writes(app, adviser, ref, "Thank you.")
    # Sent from the page opened before the adviser wrote (a visit would show it).
    sent = source.post(
        f"/inbox/{ref}/reply", data={"csrf_token": token, "text": "Welcome."}, base_url=BASE_URL
    )
    assert sent.status_code == 303

    page = inbox(source)

    assert summary(page) == [
        (f"message-{ref}-2", f"1 new message from the adviser on observation {ref}")
    ]
    assert marked_new(page) == [f"message-{ref}-2"]
    assert "mine.bin" in text_of(page)


def test_a_source_with_only_their_own_messages_is_told_nothing(app, source):
    assert source_reply(source, source.ref, "One more detail.").status_code == 303

    page = inbox(source)

    assert summary(page) == [] and marked_new(page) == []
    # Nothing from the adviser yet: "nothing new" would be news of nothing.
    assert NOTHING_NEW not in text_of(page)


def test_the_adviser_s_new_files_are_counted_linked_and_marked(app, new_client, source, adviser):
    ref = source.ref
    staff = new_client()
    login_staff(staff, adviser)
    assert source_upload(source, random_bytes(2_000), "mine.bin").status_code == 303
    assert adviser_upload(staff, ref, random_bytes(3_000, seed=2), "advice.bin").status_code == 303
    assert adviser_upload(staff, ref, random_bytes(3_000, seed=3), "form.bin").status_code == 303

    page = inbox(source)
    again = inbox(source)

    [(target, words)] = summary(page)
    assert words == f"2 new files from the adviser on observation {ref}"
    marked = marked_new(page)
    assert len(marked) == 2 and marked[0] == target
    html = page.get_data(as_text=True)
    # The marked ones are the adviser's files, not the source's own.
    for attachment_id in marked:
        item = re.search(rf'id="{attachment_id}">(.*?)</li>', html, re.S).group(1)
        assert "mine.bin" not in item
    assert summary(again) == [] and marked_new(again) == []
    assert counters(app, ref) == (0, 3)


def test_a_failed_reply_shows_the_news_but_does_not_count_as_a_visit(app, source, adviser):
    ref = source.ref
    token = csrf_from(inbox(source))
    adviser_writes(app, adviser, ref, "Could you say which month?")

    refused = source.post(
        f"/inbox/{ref}/reply", data={"csrf_token": token, "text": "   "}, base_url=BASE_URL
    )

    assert refused.status_code == 400
    assert marked_new(refused) == [f"message-{ref}-1"]
    assert counters(app, ref) == (0, 0)
    assert marked_new(inbox(source)) == [f"message-{ref}-1"]  # still new on the next visit
    assert counters(app, ref) == (1, 0)


def test_a_head_request_is_not_a_visit(app, source, adviser):
    adviser_writes(app, adviser, source.ref, "Could you say which month?")

    assert source.head("/inbox", base_url=BASE_URL).status_code == 200

    assert counters(app, source.ref) == (0, 0)
    assert marked_new(inbox(source)) == [f"message-{source.ref}-1"]


def test_two_visits_at_once_never_move_a_counter_back(
    app, new_client, source, adviser, monkeypatch
):
    """A first tab reads the thread, then a message arrives and a second tab shows and
    records it; the first tab, finishing last with less shown, leaves the counter."""
    ref = source.ref
    adviser_writes(app, adviser, ref, "First question.")
    first_read, second_done = threading.Event(), threading.Event()
    original = news.mark_shown
    calls = []

    def held(session, *, source_id, shown):
        shown = list(shown)
        calls.append([n.shown_message for _o, n in shown])
        if len(calls) == 1:
            first_read.set()
            assert second_done.wait(timeout=30)
        return original(session, source_id=source_id, shown=shown)

    monkeypatch.setattr(news, "mark_shown", held)

    def first_tab():
        return source.get("/inbox", base_url=BASE_URL)

    def second_tab():
        assert first_read.wait(timeout=30)
        adviser_writes(app, adviser, ref, "Second question.")
        # Another tab: the same session cookie, another connection.
        twin = new_client()
        for cookie in source._cookies.values():
            twin.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
        page = twin.get("/inbox", base_url=BASE_URL)
        second_done.set()
        return page

    first, second = at_once(first_tab, second_tab)

    assert first.status_code == 200 and second.status_code == 200
    assert calls == [[1], [2]]
    assert marked_new(first) == [f"message-{ref}-1"]
    assert marked_new(second) == [f"message-{ref}-1", f"message-{ref}-2"]
    assert counters(app, ref) == (2, 0)
    assert marked_new(inbox(source)) == []


def test_staff_pages_do_not_change_when_the_source_reads(app, new_client, source, adviser):
    ref = source.ref
    adviser_writes(app, adviser, ref, "Could you say which month?")
    staff = new_client()
    login_staff(staff, adviser)

    def case_page() -> str:
        page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
        assert page.status_code == 200
        # Without the form tokens, which change with every page.
        return re.sub(r'value="[^"]*"', "", page.get_data(as_text=True))

    unread = case_page()
    inbox(source)

    assert counters(app, ref) == (1, 0)
    assert case_page() == unread


def test_only_the_source_s_inbox_reads_the_counters():
    """No staff page, export, report or notification can show how far a source has read:
    the counters are read by the news service and, to keep file places unique, by the
    attachment service, nowhere else."""
    root = Path(__file__).resolve().parents[2]
    readers = {
        str(path.relative_to(root))
        for folder in ("dissent", "templates")
        for path in (root / folder).rglob("*")
        if path.suffix in (".py", ".html", ".txt", ".csv")
        and "source_seen" in path.read_text(encoding="utf-8")
    }

    assert readers == {
        "dissent/models/observation.py",
        "dissent/services/news.py",
        "dissent/services/attachments.py",
    }
