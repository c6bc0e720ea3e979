""" "New since your last visit" as a source sees it in Chromium, JavaScript off.

In English and Dutch, on a 390 px phone and a desktop: what the adviser wrote since the
source last looked is counted at the top of the inbox, links to its place in the
conversation, and is marked "New" in words there; what the source wrote themself is not;
on the next visit nothing is new any more, and the page says so calmly.
"""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from dissent.extensions import current_context, db
from dissent.models import Observation
from dissent.services import conversation
from tests.helpers.browser import BROWSER_MARKS, VIEWS
from tests.helpers.staff import adviser_keys

pytestmark = BROWSER_MARKS

WORDS = {
    "en": {
        "what": "What happened?",
        "send": "Send observation",
        "message": "Your message",
        "send_message": "Send message",
        "new_since": "New since your last visit",
        "two_new": "2 new messages from the adviser on observation {ref}",
        "new": "New",
        "nothing_new": "Nothing new since your last visit.",
    },
    "nl": {
        "what": "Wat is er gebeurd?",
        "send": "Melding versturen",
        "message": "Uw bericht",
        "send_message": "Bericht versturen",
        "new_since": "Nieuw sinds uw vorige bezoek",
        "two_new": "2 nieuwe berichten van de vertrouwenspersoon bij melding {ref}",
        "new": "Nieuw",
        "nothing_new": "Niets nieuws sinds uw vorige bezoek.",
    },
}
QUESTION = "Which month were the figures from?"


def adviser_answers(app, adviser) -> str:
    """Acknowledge the newest observation and ask the source a question; return its ref."""
    with app.app_context(), db.unit():
        observation = db.session.scalar(select(Observation).order_by(Observation.id.desc()))
        user, _identity = adviser_keys(adviser)
        ctx = current_context()
        conversation.acknowledge(db.session, ctx, staff=user, observation=observation)
        conversation.post_adviser_message(
            db.session, ctx, staff=user, observation=observation, text=QUESTION
        )
        return observation.ref


def test_what_the_adviser_wrote_since_the_last_visit_is_counted_linked_and_marked(
    app, live_server, localized_page, shot, language, view
):
    page, words = localized_page, WORDS[language]
    page.goto("/submit")
    page.get_by_label(words["what"]).fill("The literacy figures counted attendance as completion.")
    page.locator('input[name="category"]').first.check()
    page.get_by_role("button", name=words["send"]).click()
    page.locator('input[name="saved"]').check()
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/inbox")
    # Nothing from the adviser yet: no news, and no "nothing new" either.
    assert page.locator("main .news-since").count() == 0
    page.get_by_label(words["message"]).fill("I can send the attendance list.")
    page.get_by_role("button", name=words["send_message"]).click()
    page.wait_for_url("**/inbox*")
    ref = adviser_answers(app, live_server.adviser)

    page.goto("/inbox")

    news = page.locator("main section.news-since")
    assert news.get_by_role("heading").inner_text() == words["new_since"]
    link = news.get_by_role("link")
    assert link.inner_text() == words["two_new"].format(ref=ref)
    assert news.bounding_box()["y"] < page.locator("article.observation").first.bounding_box()["y"]
    box = news.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= VIEWS[view]["width"]
    shot(page, f"{language}-{view}-news")
    link.click()
    assert page.url.endswith(f"#message-{ref}-2")
    thread = page.locator(f"#thread-{ref} ol.thread > li")
    marks = [thread.nth(i).locator(".new-mark").count() for i in range(thread.count())]
    # The source's own message first, then the acknowledgement and the question.
    assert marks == [0, 1, 1]
    assert thread.nth(2).locator(".new-mark").inner_text() == words["new"]
    assert thread.nth(2).locator(".text").inner_text() == QUESTION
    expect(page.locator(f"#message-{ref}-2")).to_be_in_viewport()  # scrolled to it
    shot(page, f"{language}-{view}-marked")

    page.goto("/inbox")

    assert page.locator("main section.news-since").count() == 0
    assert page.locator("main .new-mark").count() == 0
    assert page.locator("main p.news-since").inner_text() == words["nothing_new"]
    assert page.locator(f"#thread-{ref}").get_by_text(QUESTION).count() == 1
    shot(page, f"{language}-{view}-seen")
