"""Separation of duties (invariant 3): the role-by-route matrix, built from the URL map.

Every route must carry an access rule, the rule must fit the part of the URL space the
route lives in (the URL contract of docs/architecture.md, stated here independently of
the decorators), and every principal must get what that rule promises: allowed ones the
page, the others a 403 or the right login page, nobody a 500.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from dissent.extensions import db
from dissent.models import (
    Message,
    Observation,
    Role,
    StaffUser,
    State,
)
from dissent.security.policy import Access, rule_for
from dissent.security.sessions import SOURCE_COOKIE
from dissent.services import accounts
from tests.helpers.casework import observation_ref
from tests.helpers.pages import BASE_URL, csrf_from, hidden
from tests.helpers.routes import (
    PRINCIPALS,
    STAFF_ROLES,
    World,
    build_world,
    methods_of,
    sample_url,
    url_rules,
)
from tests.helpers.staff import login_staff

LOGIN = {"source": "/login", "staff": "/staff/login"}
# What this is, how anonymity works, what happens next, and where else to report
# (/channels, as the law requires): for anyone, never behind a login.
INFORMATION_PAGES = ("/", "/anonymity", "/after", "/channels")
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
    Access.OVERSIGHT: frozenset({"oversight"}),
}


def contracted_rules(path: str) -> set[Access]:
    """Return the rules the URL contract allows for a route at ``path`` (a URL rule string)."""
    if path.startswith("/admin/"):
        return {Access.ADMIN}
    if path.startswith("/adviser/"):
        return {Access.ADVISER}
    if path.startswith("/leadership/"):
        return {Access.LEADERSHIP}
    if path.startswith("/oversight/"):
        return {Access.OVERSIGHT}
    if path == "/staff/2fa":
        return {Access.STAFF_PENDING}
    if path.startswith("/staff/"):
        return {Access.PUBLIC, Access.STAFF}
    if path in ("/inbox", "/submit/codename") or path.startswith("/inbox/"):
        return {Access.SOURCE}  # a source's own content, or their new codename
    if path in INFORMATION_PAGES:
        return {Access.PUBLIC}
    return {Access.PUBLIC, Access.SOURCE}


def login_path_for(rule: Access) -> str:
    """Return the login page a refused visitor of a route with ``rule`` is sent to."""
    return LOGIN["source"] if rule is Access.SOURCE else LOGIN["staff"]


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
    page = client.post("/submit", data=data, base_url=BASE_URL)
    assert page.status_code == 200, page.data.decode()[:2000]
    codename = re.search(rb'id="codename">([a-z -]+)<', page.data).group(1).decode()
    if confirm:
        response = client.post(
            "/submit/codename",
            data={"csrf_token": csrf_from(page), "saved": "y"},
            base_url=BASE_URL,
        )
        assert response.status_code == 303
    return codename


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
    if response.status_code == 401:
        # A form sent without the login it needs: the "session ended" page, which
        # links the login page (and shows back what was typed).
        link = re.search(rb'<a class="login-again" href="([^"]+)"', response.data)
        return "login:" + link.group(1).decode() if link else "error"
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
        ("oversight", "GET", "oversight.escalation"): 200,
        ("oversight", "POST", "oversight.respond"): 400,
        ("adviser", "POST", "adviser.revise"): 400,
        ("adviser", "GET", "adviser.names"): 200,
        ("source", "POST", "source.decide"): 400,
    }.items():
        assert statuses[key] == status, (key, statuses[key])
    # The matrix is not vacuous: each interface has routes, and its own role reaches them.
    for role, prefix in (
        ("adviser", "/adviser/"),
        ("leadership", "/leadership/"),
        ("oversight", "/oversight/"),
    ):
        assert reached(role, prefix), f"no {prefix} route reached by {role}"
    assert reached("admin", "/admin/")
    assert reached("source", "/inbox")
    # Separation of duties (invariant 3).
    assert not reached(
        "admin", "/adviser/", "/leadership/", "/oversight/", "/inbox", "/submit/codename"
    )
    assert not reached("adviser", "/admin/", "/leadership/", "/oversight/")
    assert not reached("leadership", "/adviser/", "/admin/", "/oversight/")
    # Oversight reaches its own pages and the staff account pages, nothing else.
    assert not reached("oversight", "/adviser/", "/leadership/", "/admin/", "/inbox", "/submit/")
    for principal in ("anonymous", "source", "pending"):
        assert not reached(principal, "/adviser/", "/leadership/", "/oversight/", "/admin/")


def test_only_the_adviser_reads_the_observation(app, world):
    url = f"/adviser/o/{world.values['ref']}"

    pages = {name: world.clients[name].get(url, base_url=BASE_URL) for name in PRINCIPALS}

    assert pages["adviser"].status_code == 200
    assert world.what.encode() in pages["adviser"].data
    for name in ("leadership", "oversight", "admin"):
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
        "oversight",
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
