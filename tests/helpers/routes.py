"""The URL map and a world with one of every principal, for the route matrix tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import select
from werkzeug.routing import Rule

from dissent.extensions import db
from dissent.models import (
    AccessGrant,
    Escalation,
    Proposal,
    ProposalStatus,
    Role,
)
from dissent.services import accounts, ladder
from tests.helpers.casework import checked_hash, observation_ref, post_summary
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import file_observation
from tests.helpers.staff import login_staff

PRINCIPALS = ("anonymous", "source", "pending", "adviser", "leadership", "oversight", "admin")


STAFF_ROLES = ("adviser", "leadership", "oversight", "admin")
# They end the caller's session; the matrix visits them last.
SESSION_ENDING = ("source.leave", "source.logout", "staff.logout")


def methods_of(rule: Rule) -> list[str]:
    """Return the methods a route really serves (not the automatic HEAD/OPTIONS)."""
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def url_rules(app: Flask) -> list[Rule]:
    """Return the URL rules, with the session-ending ones last."""
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint in SESSION_ENDING, r.rule))


def sample_url(app: Flask, rule: Rule, values: dict[str, object], method: str = "GET") -> str:
    """Return a concrete URL for ``rule`` with its variables filled from ``values``."""
    missing = rule.arguments - set(values)
    assert not missing, f"no sample value for {sorted(missing)} in {rule.rule}: add one"
    adapter = app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, {k: values[k] for k in rule.arguments}, method=method)


def log_in_password_only(client, login) -> None:
    """Pass the password step of a staff login and stop before the second factor."""
    page = client.get("/staff/login", base_url=BASE_URL)
    response = client.post(
        "/staff/login",
        data={
            "username": login.username,
            "password": login.password,
            "csrf_token": csrf_from(page),
        },
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/staff/2fa"


@dataclass
class World:
    """Logged-in browsers of every principal, and values for the URL variables."""

    clients: dict[str, object]
    values: dict[str, object]
    what: str


def take_the_case_to_leadership(app, clients, *, ref: str, leader_id: int) -> dict[str, object]:
    """Over HTTP: acknowledge, propose, approve and escalate ``ref``, then propose again.

    Returns the URL values of what that made: the escalation (by id, and by mission slug
    and ledger number) and the source's pending proposal.
    """
    adviser, source = clients["adviser"], clients["source"]
    page = adviser.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    response = adviser.post(
        f"/adviser/o/{ref}/acknowledge", data={"csrf_token": csrf_from(page)}, base_url=BASE_URL
    )
    assert response.status_code == 303

    def propose(text: str) -> str:
        checked = checked_hash(post_summary(adviser, ref, text, "check"))
        assert post_summary(adviser, ref, text, "propose", checked=checked).status_code == 303
        return checked

    summary = "Training hours in the quarterly figures are counted twice."
    checked = propose(summary)
    inbox = source.get("/inbox", base_url=BASE_URL)
    proposal_id = re.search(rb"/inbox/proposals/(\d+)", inbox.data).group(1).decode()
    response = source.post(
        f"/inbox/proposals/{proposal_id}",
        data={"csrf_token": csrf_from(inbox), "decision": "approve"},
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    response = post_summary(adviser, ref, summary, "escalate", [leader_id], checked)
    assert response.status_code == 303
    propose("Training hours are counted twice in the quarterly figures.")
    with app.app_context():
        escalation = db.session.scalar(select(Escalation))
        pending = db.session.scalar(
            select(Proposal).where(Proposal.status == ProposalStatus.PENDING)
        )
        return {
            "escalation_id": escalation.id,
            "slug": escalation.mission.slug,
            "number": escalation.ledger_number,
            "proposal_id": pending.id,
        }


def build_world(app, new_client, make_staff, *, mission_id: int) -> World:
    """Return one browser per principal and values for every URL variable.

    The source's observation is escalated to the leader (and has a pending proposal),
    and there is an unenrolled account.
    """
    logins = {role: make_staff(Role(role)) for role in STAFF_ROLES}
    clients = {name: new_client() for name in PRINCIPALS}
    what = "Training hours were counted twice in the quarterly figures."
    file_observation(clients["source"], what=what)
    for role in STAFF_ROLES:
        login_staff(clients[role], logins[role])
    log_in_password_only(clients["pending"], make_staff(Role.ADVISER))
    with app.app_context(), db.unit():
        newcomer, token = accounts.create_account(
            db.session, username="newcomer", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        # The adviser enrolled after the observation waits for access to it.
        grant_id = db.session.scalars(select(AccessGrant.id)).one()
    ref = observation_ref(app, mission_id=mission_id)
    escalated = take_the_case_to_leadership(
        app, clients, ref=ref, leader_id=logins["leadership"].id
    )
    # The escalation went up the ladder (the oversight pages show only such).
    with app.app_context(), db.unit():
        escalation = db.session.get(Escalation, escalated["escalation_id"])
        ladder.take_steps(db.session, now=escalation.created_at + timedelta(days=30))
    values = {
        "ref": ref,
        "staff_id": newcomer.id,
        "mission_id": mission_id,
        "action": "enrolment",
        "token": token,
        "code": "en",
        "filename": "style.css",
        "attachment_id": 1,  # none exists: the rule is checked before the lookup
        "grant_id": grant_id,
        **escalated,
    }
    return World(clients=clients, values=values, what=what)
