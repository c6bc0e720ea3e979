"""Separation of duties (invariant 3): the role-by-route matrix, built from the URL map.

Every route must carry an access rule, the rule must fit the part of the URL space the
route lives in (DESIGN §5, stated here independently of the decorators), and every
principal must get what that rule promises: allowed ones the page, the others a 403 or
the right login page, nobody a 500.

The helpers at the top are shared with the other security tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.routing import Rule

from dissent.extensions import db
from dissent.models import (
    AccessGrant,
    Escalation,
    Message,
    Observation,
    Proposal,
    ProposalStatus,
    Role,
    StaffUser,
    State,
)
from dissent.security.policy import Access, rule_for
from dissent.security.sessions import SOURCE_COOKIE
from dissent.services import accounts

from ..conftest import BASE_URL, csrf_from, login_staff
from ..test_core_loop import hidden
from ..test_escalation_flow import checked_hash, post_summary

PRINCIPALS = ("anonymous", "source", "pending", "adviser", "leadership", "admin")
STAFF_ROLES = ("adviser", "leadership", "admin")
LOGIN = {"source": "/login", "staff": "/staff/login"}
# Both end the caller's session; the matrix visits them last.
SESSION_ENDING = ("source.leave", "staff.logout")
REDIRECTS = (301, 302, 303, 307, 308)

# Who each rule lets in.
AUDIENCE: dict[Access, frozenset[str]] = {
    Access.PUBLIC: frozenset(PRINCIPALS),
    Access.SOURCE: frozenset({"source"}),
    Access.STAFF_PENDING: frozenset({"pending"}),
    Access.STAFF: frozenset(STAFF_ROLES),
    Access.ADVISER: frozenset({"adviser"}),
    Access.LEADERSHIP: frozenset({"leadership"}),
    Access.ADMIN: frozenset({"admin"}),
}


def contracted_rules(path: str) -> set[Access]:
    """Return the rules DESIGN §5 allows for a route at ``path`` (a URL rule string)."""
    if path.startswith("/admin/"):
        return {Access.ADMIN}
    if path.startswith("/adviser/"):
        return {Access.ADVISER}
    if path.startswith("/leadership/"):
        return {Access.LEADERSHIP}
    if path == "/staff/2fa":
        return {Access.STAFF_PENDING}
    if path.startswith("/staff/"):
        return {Access.PUBLIC, Access.STAFF}
    if path in ("/inbox", "/submit/codename") or path.startswith("/inbox/"):
        return {Access.SOURCE}  # a source's own content, or their new codename
    return {Access.PUBLIC, Access.SOURCE}


def login_path_for(rule: Access) -> str:
    """Return the login page a refused visitor of a route with ``rule`` is sent to."""
    return LOGIN["source"] if rule is Access.SOURCE else LOGIN["staff"]


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


def file_observation(
    client, *, what: str, mission_id: int | None = None, confirm: bool = True, **fields
) -> str:
    """File an observation through the form (any mission) and return the codename shown."""
    page = client.get("/submit", base_url=BASE_URL)
    if mission_id is None:
        mission_id = int(re.search(rb'name="mission" value="(\d+)"', page.data).group(1))
    data = {
        "csrf_token": csrf_from(page),
        "submit_token": hidden(page, "submit_token"),
        "mission": str(mission_id),
        "category": "reporting_accuracy",
        "what": what,
        "when": "last_month",
        "where": "",
        "contradicts": "yes",
        "official_report": "",
        "consent": "ask_first",
        **fields,
    }
    response = client.post("/submit", data=data, base_url=BASE_URL)
    assert response.status_code == 303, response.data.decode()[:2000]
    page = client.get(response.headers["Location"], base_url=BASE_URL)
    codename = re.search(rb'id="codename">([a-z -]+)<', page.data).group(1).decode()
    if confirm:
        response = client.post(
            "/submit/codename",
            data={"csrf_token": csrf_from(page), "saved": "y"},
            base_url=BASE_URL,
        )
        assert response.status_code == 303
    return codename


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


def observation_ref(app: Flask, *, mission_id: int) -> str:
    """Return the reference of the newest observation of a mission."""
    with app.app_context():
        return db.session.scalar(
            select(Observation.ref)
            .where(Observation.mission_id == mission_id)
            .order_by(Observation.id.desc())
        )


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
    values = {
        "ref": ref,
        "staff_id": newcomer.id,
        "action": "enrolment",
        "token": token,
        "code": "en",
        "filename": "style.css",
        "attachment_id": 1,  # none exists: the rule is checked before the lookup
        "grant_id": grant_id,
        **take_the_case_to_leadership(app, clients, ref=ref, leader_id=logins["leadership"].id),
    }
    return World(clients=clients, values=values, what=what)


@pytest.fixture
def world(app, new_client, mission, make_staff) -> World:
    """Browsers of every principal and values for the URL variables."""
    return build_world(app, new_client, make_staff, mission_id=mission.id)


def classify(response) -> str:
    """Return how a response treats its visitor: allowed, forbidden, login:<path> or error."""
    if response.status_code >= 500:
        return "error"
    if response.status_code == 403:
        return "forbidden"
    if response.status_code in REDIRECTS:
        target = urlsplit(response.headers["Location"])
        # A refusal sends to the bare login page; a logout's goodbye carries a query.
        if target.path in LOGIN.values() and not target.query:
            return "login:" + target.path
    return "allowed"


def expected_outcomes(rule: Access, principal: str) -> set[str]:
    """Return the acceptable outcomes of a principal on a route with ``rule``."""
    if principal in AUDIENCE[rule]:
        return {"allowed"}
    refusal = {"login:" + login_path_for(rule)}
    if principal in STAFF_ROLES and rule is not Access.SOURCE:
        refusal.add("forbidden")  # logged in, but the wrong role
    return refusal


def test_every_route_has_an_access_rule(app):
    unruled = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule_for(app.view_functions[rule.endpoint]) is None
    ]
    assert not unruled, f"routes without an access rule: {unruled}"


def test_every_rule_fits_its_part_of_the_url_space(app):
    misplaced = []
    for rule in app.url_map.iter_rules():
        access = rule_for(app.view_functions[rule.endpoint])
        if access not in contracted_rules(rule.rule):
            misplaced.append(f"{rule.rule} has {access}, allowed {contracted_rules(rule.rule)}")
    assert not misplaced, "\n".join(misplaced)


def test_a_route_without_a_rule_is_refused_to_everyone(app, client):
    app.add_url_rule("/probe", "probe", lambda: "inside")

    unruled = [e for e, view in app.view_functions.items() if rule_for(view) is None]
    response = client.get("/probe", base_url=BASE_URL)

    assert "probe" in unruled
    assert response.status_code == 403
    assert b"inside" not in response.data


def test_role_route_matrix(app, world):
    outcomes: dict[tuple[str, str, str], str] = {}
    statuses: dict[tuple[str, str, str], int] = {}
    mismatches = []
    for principal in PRINCIPALS:
        browser = world.clients[principal]
        for rule in url_rules(app):
            access = rule_for(app.view_functions[rule.endpoint])
            for method in methods_of(rule):
                url = sample_url(app, rule, world.values, method)
                with browser.open(url, method=method, base_url=BASE_URL) as response:
                    got = classify(response)
                outcomes[(principal, method, rule.rule)] = got
                statuses[(principal, method, rule.endpoint)] = response.status_code
                # A route without a rule must be refused to everyone.
                wanted = expected_outcomes(access, principal) if access else {"forbidden"}
                if got not in wanted:
                    mismatches.append(
                        f"{principal:>10} {method:4} {url}: {got} "
                        f"({response.status_code}), expected {sorted(wanted)}"
                    )
    assert not mismatches, "\n".join(mismatches)

    def reached(principal: str, *prefixes: str) -> list[str]:
        return [
            f"{method} {path}"
            for (who, method, path), got in outcomes.items()
            if who == principal and got == "allowed" and path.startswith(prefixes)
        ]

    # The sample values name real records: the views find them (a miss would be a 404)
    # and get as far as the missing token (400).
    for key, status in {
        ("leadership", "GET", "leadership.escalation"): 200,
        ("leadership", "POST", "leadership.respond"): 400,
        ("adviser", "POST", "adviser.revise"): 400,
        ("adviser", "GET", "adviser.names"): 200,
        ("source", "POST", "source.decide"): 400,
    }.items():
        assert statuses[key] == status, (key, statuses[key])
    # The matrix is not vacuous: each interface has routes, and its own role reaches them.
    for role, prefix in (("adviser", "/adviser/"), ("leadership", "/leadership/")):
        assert reached(role, prefix), f"no {prefix} route reached by {role}"
    assert reached("admin", "/admin/")
    assert reached("source", "/inbox")
    # Separation of duties (invariant 3).
    assert not reached("admin", "/adviser/", "/leadership/", "/inbox", "/submit/codename")
    assert not reached("adviser", "/admin/", "/leadership/")
    assert not reached("leadership", "/adviser/", "/admin/")
    for principal in ("anonymous", "source", "pending"):
        assert not reached(principal, "/adviser/", "/leadership/", "/admin/")


def test_only_the_adviser_reads_the_observation(app, world):
    url = f"/adviser/o/{world.values['ref']}"

    pages = {name: world.clients[name].get(url, base_url=BASE_URL) for name in PRINCIPALS}

    assert pages["adviser"].status_code == 200
    assert world.what.encode() in pages["adviser"].data
    for name in ("leadership", "admin"):
        assert pages[name].status_code == 403
    for name in ("anonymous", "source", "pending"):
        assert pages[name].status_code in REDIRECTS
        assert urlsplit(pages[name].headers["Location"]).path == "/staff/login"
    for name, page in pages.items():
        if name != "adviser":
            assert world.what.encode() not in page.data


def count(app, model) -> int:
    """Return the number of rows of ``model``."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_adviser_of_another_mission_gets_404(app, new_client, mission, make_staff):
    with app.app_context(), db.unit():
        other = accounts.create_mission(db.session, slug="eubam", name="EUBAM Test Mission")
    adviser_a = make_staff(Role.ADVISER, missions=["eupol"])
    adviser_b = make_staff(Role.ADVISER, missions=["eubam"])
    what = "The border post logbook was rewritten after the visit."
    file_observation(new_client(), what=what, mission_id=other.id)
    ref_b = observation_ref(app, mission_id=other.id)
    messages_before = count(app, Message)
    staff_a = new_client()
    inbox = login_staff(staff_a, adviser_a)
    token = csrf_from(inbox)  # the logout form's token: valid for this staff session

    views = [staff_a.get(f"/adviser/o/{r}", base_url=BASE_URL) for r in (ref_b, ref_b.lower())]
    reply = staff_a.post(
        f"/adviser/o/{ref_b}/reply",
        data={"csrf_token": token, "text": "Who else saw this?"},
        base_url=BASE_URL,
    )
    ack = staff_a.post(
        f"/adviser/o/{ref_b}/acknowledge", data={"csrf_token": token}, base_url=BASE_URL
    )

    assert [v.status_code for v in views] == [404, 404]
    assert reply.status_code == 404
    assert ack.status_code == 404
    for response in (*views, reply, ack, inbox):
        assert what.encode() not in response.data
    assert ref_b.encode() not in inbox.data
    assert count(app, Message) == messages_before
    with app.app_context():
        state = db.session.scalar(select(Observation.state).where(Observation.ref == ref_b))
    assert state is State.RECEIVED
    # The mission's own adviser does read it.
    staff_b = new_client()
    login_staff(staff_b, adviser_b)
    own = staff_b.get(f"/adviser/o/{ref_b}", base_url=BASE_URL)
    assert own.status_code == 200
    assert what.encode() in own.data


def test_source_cannot_reach_another_sources_observation(app, new_client, mission, make_staff):
    make_staff(Role.ADVISER)
    alice, bob = new_client(), new_client()
    file_observation(alice, what="Alice saw the vehicle log altered.")
    file_observation(bob, what="Bob saw the attendance lists padded.")
    ref_bob = observation_ref(app, mission_id=mission.id)
    messages_before = count(app, Message)
    inbox = alice.get("/inbox", base_url=BASE_URL)

    response = alice.post(
        f"/inbox/{ref_bob}/reply",
        data={"csrf_token": csrf_from(inbox), "text": "Hello Bob"},
        base_url=BASE_URL,
    )

    assert response.status_code == 404
    assert b"attendance lists padded" not in inbox.data + response.data
    assert count(app, Message) == messages_before


@pytest.mark.parametrize(
    "role",
    [
        "adviser",
        "leadership",
        "admin",
    ],
)
def test_deactivated_staff_lose_access_at_once(app, new_client, mission, make_staff, role):
    operator = make_staff(Role.ADMIN)
    member = make_staff(Role(role))
    browser = new_client()
    home = login_staff(browser, member)
    assert home.status_code == 200
    admin_browser = new_client()
    admin_page = login_staff(admin_browser, operator)

    response = admin_browser.post(
        f"/admin/accounts/{member.id}/deactivate",
        data={"csrf_token": csrf_from(admin_page)},
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(StaffUser, member.id).active is False
    again = browser.get(urlsplit(home.request.url).path, base_url=BASE_URL)

    assert classify(again) in {"forbidden", "login:/staff/login"}, again.status_code


def test_a_cookie_from_before_submitting_does_not_open_the_inbox(
    app, new_client, mission, make_staff
):
    make_staff(Role.ADVISER)
    victim = new_client()
    victim.get("/submit", base_url=BASE_URL)
    planted = victim.get_cookie(SOURCE_COOKIE, domain="localhost").value
    file_observation(victim, what="The evaluation wording was changed after review.")
    attacker = new_client()
    attacker.set_cookie(SOURCE_COOKIE, planted, domain="localhost", secure=True)

    response = attacker.get("/inbox", base_url=BASE_URL)

    assert b"evaluation wording was changed" not in response.data
    assert classify(response) == "login:/login"
