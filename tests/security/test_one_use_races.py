"""Issue 15, finding 11: a thing meant to be used once is used once, even by two requests
in flight together; the one that comes second is told so.

* A proposed summary answered from two tabs at once (approve in one, decline in the
  other) gets one answer.
* One enrolment link sent from two browsers at once sets up the account once: the
  second browser is not told "enrolled" with a password that does not work.

Each pair is held after it has read the proposal or link, so both have seen it unused
before either acts. Over real HTTP, on SQLite and (with ``DISSENT_TEST_DATABASE_URL``)
on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from sqlalchemy import func, select

from dissent.extensions import current_context, db
from dissent.models import Message, Observation, Proposal, ProposalStatus, Role, Sender
from dissent.services import accounts, consent, conversation
from tests.helpers.http import HttpClient, serving
from tests.helpers.pages import csrf_from, form_fields, text_of
from tests.helpers.races import at_once, released_together
from tests.helpers.source import submit_observation
from tests.helpers.staff import WRONG_LOGIN, adviser_keys, password_step

SUMMARY = "Attendance at the literacy course was reported higher than it was."
ALREADY_ANSWERED = "This proposal was already answered or withdrawn."
USED_MEANWHILE = "This link was used a moment ago"


@pytest.fixture
def served(app) -> Iterator[str]:
    with serving(app) as url:
        yield url


def proposed(app, adviser) -> int:
    """Acknowledge the newest observation and propose a summary; return its id."""
    with app.app_context(), db.unit():
        observation = db.session.scalar(select(Observation).order_by(Observation.id.desc()))
        user, _ = adviser_keys(adviser)
        ctx = current_context()
        conversation.acknowledge(db.session, ctx, staff=user, observation=observation)
        return consent.propose(
            db.session, ctx, staff=user, observation=observation, summary=SUMMARY
        ).id


def test_a_proposal_approved_and_declined_at_once_gets_one_answer(
    app, served, adviser, monkeypatch
):
    source = HttpClient(served)
    submit_observation(source, what="The course figures were inflated.", consent="ask_first")
    proposal_id = proposed(app, adviser)
    action = f"/inbox/proposals/{proposal_id}"
    tabs = [source.get("/inbox"), source.get("/inbox")]
    answers = [
        form_fields(tabs[0], action, decision="approve", comment="Yes, send it."),
        form_fields(tabs[1], action, decision="decline", comment="No, not this."),
    ]

    # Both requests have found the pending proposal before either records an answer.
    with released_together(monkeypatch, consent, "hold_observation", before=True):
        results = at_once(*[lambda a=a: source.post(action, a) for a in answers])

    assert sorted(r.status_code for r in results) == [303, 409]
    (second,) = [r for r in results if r.status_code == 409]
    assert ALREADY_ANSWERED in text_of(second)
    won = "approve" if results[0].status_code == 303 else "decline"
    with app.app_context():
        status = db.session.scalar(select(Proposal.status).where(Proposal.id == proposal_id))
        comments = db.session.scalar(select(func.count()).where(Message.sender == Sender.SOURCE))
    assert status is (ProposalStatus.APPROVED if won == "approve" else ProposalStatus.DECLINED)
    assert comments == 1  # the comment of the answer that was kept


PASSWORDS = ("velvet tractor orbit lantern 77", "copper meadow violin harbour 31")


def shown_secret(page) -> str:
    match = re.search(rb'<code[^>]*class="secret"[^>]*>([A-Z2-7]+)</code>', page.data)
    assert match, "no TOTP secret on the page"
    return match.group(1).decode()


def test_one_enrolment_link_sent_from_two_browsers_at_once_enrols_once(
    app, served, mission, monkeypatch
):
    with app.app_context(), db.unit():
        user, token = accounts.create_account(
            db.session, username="newadviser", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        staff_id = user.id
    path = f"/staff/enrol/{token}"
    browsers = [HttpClient(served) for _ in PASSWORDS]
    pages = [b.get(path) for b in browsers]
    secrets = [shown_secret(p) for p in pages]
    forms = [
        {
            "csrf_token": csrf_from(page),
            "password": password,
            "confirm": password,
            "code": pyotp.TOTP(secret).now(),
        }
        for page, password, secret in zip(pages, PASSWORDS, secrets, strict=True)
    ]

    # Both have found the link unused and checked their code before either sets up.
    with released_together(monkeypatch, accounts, "_matching_step"):
        results = at_once(
            *[lambda b=b, f=f: b.post(path, f) for b, f in zip(browsers, forms, strict=True)]
        )

    assert sorted(r.status_code for r in results) == [303, 409]
    (second,) = [r for r in results if r.status_code == 409]
    assert USED_MEANWHILE in text_of(second)
    winner = next(i for i, r in enumerate(results) if r.status_code == 303)
    loser = 1 - winner
    # The account is the winner's: their password opens it, the other's does not.
    assert password_step(HttpClient(served), "newadviser", PASSWORDS[winner]).status_code == 303
    assert WRONG_LOGIN in password_step(HttpClient(served), "newadviser", PASSWORDS[loser]).data
    with app.app_context():
        enrolled = db.session.get(accounts.StaffUser, staff_id)
        assert enrolled.enrolled
