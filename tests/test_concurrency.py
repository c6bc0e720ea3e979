"""Two people acting on the same case at the same moment, against a served app.

Each test lets two browsers load the same page, then sends both actions through a
barrier placed right after each request has loaded the case, so both requests have
read the same earlier state before either acts (the race as it happens when two
advisers click within a few milliseconds). Exactly one action takes effect; the
other gets a 409 page that shows the case as it now stands and keeps what was typed.
Runs on SQLite and, with ``DISSENT_TEST_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from flask import request
from sqlalchemy import func, select

from dissent.extensions import db
from dissent.models import (
    AuditEntry,
    Escalation,
    Message,
    MessageKind,
    Observation,
    Response,
    Role,
    StateChange,
)
from dissent.services import audit, inbox, leadership
from tests.helpers.casework import SUMMARY, Sent, checked_hash, file_and_escalate, refs
from tests.helpers.http import HttpClient, serving
from tests.helpers.pages import csrf_from, form_fields, hidden, text_of, textarea_value
from tests.helpers.source import submit_observation
from tests.helpers.staff import login_staff

CHANGED = "A colleague changed this just now"


@contextmanager
def released_together(monkeypatch, module: Any, name: str) -> Iterator[None]:
    """Hold each POST that loads its case through ``module.name`` until two have
    loaded it, then let both go on."""
    barrier = threading.Barrier(2, timeout=10)
    original = getattr(module, name)

    def loaded_then_wait(*args: Any, **kwargs: Any) -> Any:
        found = original(*args, **kwargs)
        if request.method == "POST":
            barrier.wait()
        return found

    with monkeypatch.context() as patch:
        patch.setattr(module, name, loaded_then_wait)
        yield
    assert not barrier.broken, "the two requests were not in flight together"


def at_once(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions in threads at the same time; return their results in order."""
    with ThreadPoolExecutor(len(actions)) as pool:
        return [f.result(timeout=60) for f in [pool.submit(a) for a in actions]]


@pytest.fixture
def served(app, mission) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def two_advisers(app, served, make_staff) -> tuple[HttpClient, HttpClient]:
    """Two advisers of the mission, each logged in in their own browser."""
    browsers = []
    for _ in range(2):
        browser = HttpClient(served)
        login_staff(browser, make_staff(Role.ADVISER))
        browsers.append(browser)
    return browsers[0], browsers[1]


def filed(app, served, *, consent: str = "summary_allowed") -> str:
    submit_observation(
        HttpClient(served), what="The literacy figures were rounded up.", consent=consent
    )
    (ref,) = refs(app)
    return ref


def count(app, statement) -> int:
    with app.app_context():
        return db.session.scalar(statement)


def test_two_advisers_acknowledging_at_once_send_one_acknowledgement(
    app, served, two_advisers, monkeypatch
):
    ref = filed(app, served)
    case = f"/adviser/o/{ref}"
    pages = [b.get(case) for b in two_advisers]

    with released_together(monkeypatch, inbox, "observation_for_adviser"):
        results = at_once(
            *[
                lambda b=b, p=p: b.post(
                    f"{case}/acknowledge", form_fields(p, f"{case}/acknowledge")
                )
                for b, p in zip(two_advisers, pages, strict=True)
            ]
        )

    assert sorted(r.status_code for r in results) == [303, 409]
    (loser,) = [r for r in results if r.status_code == 409]
    assert CHANGED in text_of(loser)
    assert "Acknowledge receipt" not in text_of(loser)  # shown as it stands: acknowledged
    assert count(app, select(func.count()).where(Message.kind == MessageKind.ACKNOWLEDGEMENT)) == 1
    assert count(app, select(func.count()).select_from(StateChange)) == 1


def test_conflicting_state_changes_at_once_keep_one_chain_of_states(
    app, served, two_advisers, monkeypatch
):
    ref = filed(app, served)
    case = f"/adviser/o/{ref}"
    first, second = two_advisers
    first.post(f"{case}/acknowledge", form_fields(first.get(case), f"{case}/acknowledge"))
    pages = [b.get(case) for b in two_advisers]

    with released_together(monkeypatch, inbox, "observation_for_adviser"):
        results = at_once(
            lambda: first.post(
                f"{case}/state",
                form_fields(pages[0], f"{case}/state", to_state="in_review", reason="needs a look"),
            ),
            lambda: second.post(
                f"{case}/state",
                form_fields(pages[1], f"{case}/state", to_state="closed", reason="nothing to do"),
            ),
        )

    assert sorted(r.status_code for r in results) == [303, 409]
    (loser,) = [r for r in results if r.status_code == 409]
    assert CHANGED in text_of(loser)
    with app.app_context():
        changes = db.session.scalars(select(StateChange).order_by(StateChange.id)).all()
        observation = db.session.scalar(select(Observation))
        assert [c.from_state.value for c in changes][1:] == [c.to_state.value for c in changes][:-1]
        assert observation.state == changes[-1].to_state
        assert len(changes) == 2  # the acknowledgement and the one change that won


def test_two_advisers_escalating_the_same_text_make_one_escalation(
    app, served, two_advisers, make_staff, monkeypatch
):
    leader = make_staff(Role.LEADERSHIP)
    ref = filed(app, served)
    case = f"/adviser/o/{ref}"
    first = two_advisers[0]
    first.post(f"{case}/acknowledge", form_fields(first.get(case), f"{case}/acknowledge"))
    checked = []
    for browser in two_advisers:
        page = browser.get(case)
        check = browser.post(
            f"{case}/summary",
            {
                "csrf_token": csrf_from(page),
                "seen": hidden(page, "seen"),
                "summary": SUMMARY,
                "action": "check",
            },
        )
        checked.append(
            {
                "csrf_token": csrf_from(check),
                "seen": hidden(check, "seen"),
                "summary": SUMMARY,
                "checked": checked_hash(check),
                "action": "escalate",
                "leaders": [str(leader.id)],
            }
        )

    with released_together(monkeypatch, inbox, "observation_for_adviser"):
        results = at_once(
            *[
                lambda b=b, d=d: b.post(f"{case}/summary", d)
                for b, d in zip(two_advisers, checked, strict=True)
            ]
        )

    assert sorted(r.status_code for r in results) == [303, 409]
    (loser,) = [r for r in results if r.status_code == 409]
    assert CHANGED in text_of(loser)
    assert textarea_value(loser, "summary") == SUMMARY  # what they typed is kept
    with app.app_context():
        numbers = db.session.scalars(select(Escalation.ledger_number)).all()
        notices = db.session.scalar(
            select(func.count()).where(Message.kind == MessageKind.ESCALATED)
        )
    assert numbers == [1]
    assert notices == 1


@pytest.fixture
def escalated(app, served, make_staff, new_client) -> tuple[Sent, list[HttpClient]]:
    """An escalation to two leaders, each logged in in their own browser."""
    leaders = [make_staff(Role.LEADERSHIP), make_staff(Role.LEADERSHIP)]
    sent = file_and_escalate(app, new_client, adviser=make_staff(Role.ADVISER), leaders=leaders)
    browsers = []
    for leader in leaders:
        browser = HttpClient(served)
        login_staff(browser, leader)
        browsers.append(browser)
    return sent, browsers


def test_two_leaders_acknowledging_at_once_acknowledge_once(app, escalated, monkeypatch):
    sent, leaders = escalated
    pages = [b.get(sent.url) for b in leaders]

    with released_together(monkeypatch, leadership, "escalation_for_leader"):
        results = at_once(
            *[
                lambda b=b, p=p: b.post(
                    f"{sent.url}/acknowledge", form_fields(p, f"{sent.url}/acknowledge")
                )
                for b, p in zip(leaders, pages, strict=True)
            ]
        )

    assert sorted(r.status_code for r in results) == [303, 409]
    (loser,) = [r for r in results if r.status_code == 409]
    assert "This escalation was already acknowledged." in text_of(loser)
    assert (
        count(app, select(func.count()).where(AuditEntry.action == audit.Action.ESCALATION_ACK))
        == 1
    )


def test_two_leaders_responding_at_once_record_one_response(app, escalated, monkeypatch):
    sent, leaders = escalated
    pages = [b.get(sent.url) for b in leaders]
    texts = ["We will correct the figures.", "The figures stand as reported."]

    with released_together(monkeypatch, leadership, "escalation_for_leader"):
        results = at_once(
            *[
                lambda b=b, p=p, t=t: b.post(
                    f"{sent.url}/respond",
                    form_fields(p, f"{sent.url}/respond", kind="action_taken", text=t),
                )
                for b, p, t in zip(leaders, pages, texts, strict=True)
            ]
        )

    assert sorted(r.status_code for r in results) == [303, 409]
    (loser,) = [r for r in results if r.status_code == 409]
    assert "Another response was recorded just now" in text_of(loser)
    kept = textarea_value(loser, "text")
    assert kept in texts
    assert count(app, select(func.count()).select_from(Response)) == 1
    # The winner's response is on the loser's page; they can still add theirs.
    (winner_text,) = [t for t in texts if t != kept]
    assert winner_text in text_of(loser)
    again = leaders[results.index(loser)].post(
        f"{sent.url}/respond",
        form_fields(loser, f"{sent.url}/respond", kind="action_taken", text=kept),
    )
    assert again.status_code == 303
    assert count(app, select(func.count()).select_from(Response)) == 2


def test_a_change_sent_from_an_overtaken_page_is_refused_and_kept(app, served, two_advisers):
    ref = filed(app, served)
    case = f"/adviser/o/{ref}"
    first, second = two_advisers
    first.post(f"{case}/acknowledge", form_fields(first.get(case), f"{case}/acknowledge"))
    stale = second.get(case)
    done = first.post(
        f"{case}/triage",
        form_fields(
            first.get(case),
            f"{case}/triage",
            severity="high",
            category="reporting_accuracy",
            assignee="",
        ),
    )
    assert done.status_code == 303

    refused = second.post(
        f"{case}/triage",
        form_fields(
            stale, f"{case}/triage", severity="low", category="reporting_accuracy", assignee=""
        ),
    )

    assert refused.status_code == 409
    assert CHANGED in text_of(refused)
    assert re.search(rb'<option selected value="low">|<option value="low" selected>', refused.data)
    with app.app_context():
        assert db.session.scalar(select(Observation)).severity.value == "high"
    again = second.post(
        f"{case}/triage",
        form_fields(
            refused, f"{case}/triage", severity="low", category="reporting_accuracy", assignee=""
        ),
    )
    assert again.status_code == 303
