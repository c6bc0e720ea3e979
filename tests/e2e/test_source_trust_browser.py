"""What happens next, and whom to trust, as a source sees it in Chromium, JavaScript off.

In English and Dutch, on a 390 px phone and a desktop: the landing page says who runs the
channel and what protection the law gives; the other channels, with their numbers, are
one tap from the footer of every source page; a proposed summary waits at the top of the
inbox, says who would read it, is answered with one of two equal buttons, and the answer
is confirmed and kept in the thread; Log out sits at the top, under Quick exit.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.browser import BROWSER_MARKS, VIEWS
from tests.helpers.proposals import SUMMARY, propose

pytestmark = BROWSER_MARKS

WORDS = {
    "en": {
        "who_runs": "Who runs this channel",
        "protection": "Protection against retaliation",
        "not_advice": "This is general information, not legal advice.",
        "channels_h1": "External reporting channels",
        "footer_link": "Other places to report, with phone numbers",
        "phone": "Phone:",
        "what": "What happened?",
        "send": "Send observation",
        "waiting": "Waiting for your decision",
        "who_reads": "Who reads it:",
        "approve": "Approve this summary",
        "decline": "Decline this summary",
        "comment": "Comment for the adviser (optional)",
        "approved": "Your approval is saved.",
        "declined": "Your answer is saved: this summary will not be passed on.",
        "approved_on": "You approved this summary on",
        "declined_on": "You declined this summary on",
        "log_out": "Log out",
    },
    "nl": {
        "who_runs": "Wie dit meldpunt beheert",
        "protection": "Bescherming tegen benadeling",
        "not_advice": "Dit is algemene informatie, geen juridisch advies.",
        "channels_h1": "Externe meldkanalen",
        "footer_link": "Andere plekken om te melden, met telefoonnummers",
        "phone": "Telefoon:",
        "what": "Wat is er gebeurd?",
        "send": "Melding versturen",
        "waiting": "Wacht op uw beslissing",
        "who_reads": "Wie de samenvatting leest:",
        "approve": "Deze samenvatting goedkeuren",
        "decline": "Deze samenvatting afwijzen",
        "comment": "Opmerking voor de vertrouwenspersoon (niet verplicht)",
        "approved": "Uw goedkeuring is opgeslagen.",
        "declined": "Uw antwoord is opgeslagen: deze samenvatting wordt niet doorgegeven.",
        "approved_on": "U hebt deze samenvatting op",
        "declined_on": "U hebt deze samenvatting op",
        "log_out": "Uitloggen",
    },
}
# Each listed with the numbers found for it; the police with its site only.
CHANNELS = {
    "COID": ["0800-22 55 733", "+31 70 414 33 00"],
    "Marechaussee": ["0800-1814"],
    "(VIK)": [],
}


@pytest.fixture
def page(localized_page):
    return localized_page


def fits(page: Page, view: str, selector: str) -> None:
    """Assert that what ``selector`` finds lies within the screen's width (no sideways
    scrolling to read it)."""
    for box in (
        page.locator(selector).nth(i).bounding_box() for i in range(page.locator(selector).count())
    ):
        assert box is not None and box["x"] >= 0
        assert box["x"] + box["width"] <= VIEWS[view]["width"], f"{selector} runs off the screen"


def test_the_landing_page_says_who_runs_it_and_how_the_law_protects(page, shot, language, view):
    words = WORDS[language]
    page.goto("/")

    expect(page.get_by_role("heading", name=words["who_runs"])).to_be_visible()
    protection = page.locator("main section.protection")
    expect(protection.get_by_role("heading")).to_have_text(words["protection"])
    expect(protection).to_contain_text("Wet bescherming klokkenluiders")
    expect(protection).to_contain_text(words["not_advice"])
    fits(page, view, "main section")
    shot(page, f"{language}-{view}-landing")

    protection.get_by_role("link").click()

    page.wait_for_url("**/channels")
    expect(page.get_by_role("heading", level=1)).to_have_text(words["channels_h1"])


def test_the_other_channels_and_their_numbers_are_a_tap_from_the_footer(page, shot, language, view):
    words = WORDS[language]
    page.goto("/submit")

    page.locator("footer").get_by_role("link", name=words["footer_link"]).click()

    page.wait_for_url("**/channels")
    for name, numbers in CHANNELS.items():
        entry = page.locator("dl.channels dt", has_text=name).locator(
            "xpath=following-sibling::dd[1]"
        )
        expect(entry).to_have_count(1)
        for number in numbers:
            expect(entry.locator(".phone", has_text=number)).to_be_visible()
            expect(entry).to_contain_text(f"{words['phone']} {number}")
        if not numbers:
            expect(entry.locator(".phone")).to_have_count(0)
            expect(entry.locator("code")).to_contain_text("politie.nl")
    fits(page, view, "dl.channels .phone")
    shot(page, f"{language}-{view}-channels")


@pytest.mark.parametrize("decision", ["approve", "decline"])
def test_a_proposal_waits_first_and_is_answered_with_equal_weight(
    app, live_server, page, shot, language, view, decision
):
    words = WORDS[language]
    page.goto("/submit")
    page.get_by_label(words["what"]).fill("The literacy figures counted attendance as completion.")
    page.locator('input[name="category"]').first.check()
    page.get_by_role("button", name=words["send"]).click()  # consent: "ask me first"
    page.locator('input[name="saved"]').check()
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/inbox")
    # Log out is at the top, right under Quick exit, on the first screen.
    log_out = page.get_by_role("button", name=words["log_out"]).bounding_box()
    heading = page.locator("main h1").bounding_box()
    assert log_out is not None and heading is not None
    assert log_out["y"] + log_out["height"] <= min(heading["y"], VIEWS[view]["height"])
    proposal_id = propose(app, live_server.adviser)

    page.reload()

    waiting = page.locator("main section.news")
    expect(waiting.get_by_role("heading")).to_have_text(words["waiting"])
    first_article = page.locator("article.observation").first.bounding_box()
    assert waiting.bounding_box()["y"] < first_article["y"]
    shot(page, f"{language}-{view}-waiting")
    waiting.get_by_role("link").click()
    assert page.url.endswith(f"#proposal-{proposal_id}")

    proposal = page.locator(f"#proposal-{proposal_id}")
    expect(proposal.locator(".who-reads")).to_contain_text(words["who_reads"])
    approve = proposal.get_by_role("button", name=words["approve"], exact=True)
    decline = proposal.get_by_role("button", name=words["decline"], exact=True)
    a, d = approve.bounding_box(), decline.bounding_box()
    assert a is not None and d is not None
    assert abs(a["width"] - d["width"]) <= 1 and abs(a["height"] - d["height"]) <= 1
    if view == "desktop":
        assert a["y"] == d["y"]  # side by side
    else:
        assert a["x"] == d["x"] and a["y"] < d["y"]  # one above the other, as wide
    shot(page, f"{language}-{view}-proposal")

    proposal.get_by_label(words["comment"]).fill("Please leave out the month.")
    (approve if decision == "approve" else decline).click()

    page.wait_for_url(re.compile(rf"/inbox\?decided={proposal_id}#proposal-{proposal_id}$"))
    answered = page.locator(f"#proposal-{proposal_id}")
    status = answered.get_by_role("status")
    expect(status).to_contain_text(words["approved" if decision == "approve" else "declined"])
    expect(status).to_be_in_viewport()
    expect(answered).to_contain_text(words[f"{decision}d_on"])
    expect(answered.locator("details .text")).to_have_text(SUMMARY)
    expect(page.locator("main section.news")).to_have_count(0)
    expect(page.locator(f'form[action="/inbox/proposals/{proposal_id}"]')).to_have_count(0)
    shot(page, f"{language}-{view}-{decision}d")
