"""Security headers, cookies and third-party resources, on every page and error page."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest

from dissent.models import Role
from dissent.security.headers import CONTENT_SECURITY_POLICY
from dissent.security.policy import Access, allow
from dissent.security.sessions import SOURCE_COOKIE, STAFF_COOKIE
from dissent.staff.views import DEVICE_COOKIE
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.routes import PRINCIPALS, build_world, methods_of, sample_url, url_rules
from tests.helpers.source import file_observation
from tests.helpers.staff import login_staff, next_totp

# A tag that loads something (script, style, image, frame, media) from another origin.
EXTERNAL_RESOURCE = re.compile(
    rb"<(?:script|link|img|iframe|frame|embed|object|source|audio|video|track|input)\b"
    rb"[^>]*\b(?:src|href|data|srcset|poster)\s*=\s*[\"']?\s*(?:https?:)?//",
    re.IGNORECASE,
)
# A stylesheet that pulls something from another origin.
EXTERNAL_IN_CSS = re.compile(rb"(?:@import|url\()\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE)


def csp_directives(policy: str) -> dict[str, list[str]]:
    """Return a Content-Security-Policy as ``{directive: [sources]}``."""
    directives = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def header_problems(response, path: str) -> list[str]:
    """Return what is wrong with a response's security headers."""
    headers = response.headers
    problems = []
    if headers.get("Content-Security-Policy") != CONTENT_SECURITY_POLICY:
        problems.append(f"CSP is {headers.get('Content-Security-Policy')!r}")
    if headers.get("Referrer-Policy") != "no-referrer":
        problems.append(f"Referrer-Policy is {headers.get('Referrer-Policy')!r}")
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"X-Content-Type-Options is {headers.get('X-Content-Type-Options')!r}")
    cache = headers.get("Cache-Control", "")
    if not path.startswith("/static/") and "no-store" not in cache:
        problems.append(f"Cache-Control is {cache!r}")
    return problems


def page_problems(response) -> list[str]:
    """Return scripts and third-party resources found in an HTML page."""
    if response.mimetype != "text/html":
        return []
    problems = []
    if re.search(rb"<script", response.data, re.IGNORECASE):
        problems.append("contains <script")
    for match in EXTERNAL_RESOURCE.finditer(response.data):
        problems.append(f"loads a third-party resource: {match.group(0)[:120]!r}")
    return problems


def parse_set_cookie(header: str) -> tuple[str, str, dict[str, str]]:
    """Return the name, value and (lower-cased) attributes of a Set-Cookie header."""
    first, *rest = header.split(";")
    name, _, value = first.strip().partition("=")
    attributes = {}
    for item in rest:
        key, _, val = item.strip().partition("=")
        attributes[key.lower()] = val
    return name, value, attributes


def set_cookies(response) -> list[tuple[str, str, dict[str, str]]]:
    """Return every cookie a response sets."""
    return [parse_set_cookie(h) for h in response.headers.getlist("Set-Cookie")]


def cookie_problems(name: str, attributes: dict[str, str]) -> list[str]:
    """Return what makes a cookie weaker than Secure, HttpOnly, SameSite=Strict, Path=/."""
    problems = []
    if "secure" not in attributes:
        problems.append(f"{name} is not Secure")
    if "httponly" not in attributes:
        problems.append(f"{name} is not HttpOnly")
    if attributes.get("samesite", "").lower() != "strict":
        problems.append(f"{name} has SameSite={attributes.get('samesite')!r}")
    if attributes.get("path") != "/":
        problems.append(f"{name} has Path={attributes.get('path')!r}")
    if "domain" in attributes:
        problems.append(f"{name} has a Domain")
    return problems


def session_cookie_problems(name: str, attributes: dict[str, str]) -> list[str]:
    """Return what is wrong with a session cookie: also __Host- and gone with the browser."""
    problems = cookie_problems(name, attributes)
    if not name.startswith("__Host-"):
        problems.append(f"{name} lacks the __Host- prefix")
    if "max-age" in attributes or "expires" in attributes:
        problems.append(f"{name} outlives the browser")
    return problems


def is_deletion(attributes: dict[str, str]) -> bool:
    """Return whether a Set-Cookie tells the browser to drop the cookie now."""
    if attributes.get("max-age") == "0":
        return True
    expires = attributes.get("expires")
    return bool(expires) and parsedate_to_datetime(expires) < datetime.now(UTC)


def test_policy_forbids_scripts_inline_code_and_framing():
    directives = csp_directives(CONTENT_SECURITY_POLICY)

    assert directives["default-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "script-src" not in directives  # falls back to default-src 'none'
    for sources in directives.values():
        for source in sources:
            assert source not in ("'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:")
            assert not source.startswith(("http://", "https://")), "a third-party origin"


def test_every_get_route_as_every_principal(app, new_client, mission, make_staff):
    world = build_world(app, new_client, make_staff, mission_id=mission.id)
    problems = []
    seen_cookies = []
    for principal in PRINCIPALS:
        browser = world.clients[principal]
        for rule in url_rules(app):
            if "GET" not in methods_of(rule):
                continue
            url = sample_url(app, rule, world.values)
            with browser.get(url, base_url=BASE_URL) as response:
                found = header_problems(response, urlsplit(url).path) + page_problems(response)
                problems += [f"{principal} GET {url} ({response.status_code}): {p}" for p in found]
                assert response.status_code < 500, (principal, url)
                seen_cookies += set_cookies(response)

    assert not problems, "\n".join(problems)
    assert seen_cookies, "the sweep set no cookie at all"
    for name, _, attributes in seen_cookies:
        assert not cookie_problems(name, attributes)


def test_stylesheet_pulls_nothing_from_elsewhere(client):
    with client.get("/static/style.css", base_url=BASE_URL) as response:
        assert response.status_code == 200
        assert not EXTERNAL_IN_CSS.search(response.data)
        assert not header_problems(response, "/static/style.css")


def boom():
    """A view that fails the way a bug would."""
    raise RuntimeError("detail that must not leak: 4242")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no-such-page", 404),
        ("GET", "/staff/no-such-page", 404),
        ("GET", "/staff/logout", 405),
        ("PUT", "/submit", 405),
        ("POST", "/login", 400),
        ("POST", "/boom", 500),
    ],
)
def test_error_pages_carry_the_headers(app, client, caplog, method, path, status):
    app.add_url_rule("/boom", "boom", allow(Access.PUBLIC)(boom), methods=["POST"])

    with caplog.at_level(logging.DEBUG):
        response = client.open(path, method=method, base_url=BASE_URL)

    assert response.status_code == status
    assert not header_problems(response, path)
    assert not page_problems(response)
    assert b"Traceback" not in response.data
    assert b"4242" not in response.data
    assert "4242" not in caplog.text


def test_oversized_form_gets_a_413_page_with_headers(client):
    response = client.post("/login", data={"codename": "x" * (300 * 1024)}, base_url=BASE_URL)

    assert response.status_code == 413
    assert not header_problems(response, "/login")
    assert b"larger than this form accepts" in response.data


def test_forbidden_page_carries_the_headers(app, new_client, mission, make_staff):
    browser = new_client()
    login_staff(browser, make_staff(Role.ADMIN))

    response = browser.get("/adviser/", base_url=BASE_URL)

    assert response.status_code == 403
    assert not header_problems(response, "/adviser/")


def test_source_cookie(new_client, mission, make_staff):
    make_staff(Role.ADVISER)
    browser = new_client()

    response = browser.get("/submit", base_url=BASE_URL)

    cookies = {name: attrs for name, _, attrs in set_cookies(response)}
    assert SOURCE_COOKIE in cookies
    assert not session_cookie_problems(SOURCE_COOKIE, cookies[SOURCE_COOKIE])


def test_staff_cookie_is_new_at_each_login_step(new_client, mission, make_staff):
    login = make_staff(Role.ADVISER)
    browser = new_client()
    page = browser.get("/staff/login", base_url=BASE_URL)
    password_step = browser.post(
        "/staff/login",
        data={
            "username": login.username,
            "password": login.password,
            "csrf_token": csrf_from(page),
        },
        base_url=BASE_URL,
    )
    page = browser.get("/staff/2fa", base_url=BASE_URL)
    second_step = browser.post(
        "/staff/2fa",
        data={"code": next_totp(login.totp_secret), "csrf_token": csrf_from(page)},
        base_url=BASE_URL,
    )

    values = []
    for response in (password_step, second_step):
        assert response.status_code == 303
        cookies = {name: (value, attrs) for name, value, attrs in set_cookies(response)}
        # A full login also marks the browser as one its owner uses (not a session
        # cookie: it outlives the browser, and only keeps others' guesses from pausing it).
        assert set(cookies) - {DEVICE_COOKIE} == {STAFF_COOKIE}
        value, attributes = cookies[STAFF_COOKIE]
        assert not session_cookie_problems(STAFF_COOKIE, attributes)
        values.append(value)
    device = {name: attrs for name, _, attrs in set_cookies(second_step)}[DEVICE_COOKIE]
    assert DEVICE_COOKIE.startswith("__Host-") and not cookie_problems(DEVICE_COOKIE, device)
    assert values[0] != values[1], "the second factor must rotate the session"
    assert STAFF_COOKIE != SOURCE_COOKIE
    # The staff cookie opens the staff interface, never the source's.
    assert browser.get("/adviser/", base_url=BASE_URL).status_code == 200
    assert browser.get("/inbox", base_url=BASE_URL).headers["Location"] == "/login"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_quick_exit_clears_the_site_and_ends_the_session(new_client, mission, make_staff, method):
    make_staff(Role.ADVISER)
    browser = new_client()
    file_observation(browser, what="The mentoring sessions listed never took place.")
    old_cookie = browser.get_cookie(SOURCE_COOKIE, domain="localhost").value

    response = browser.open("/leave", method=method, base_url=BASE_URL)

    assert response.status_code == 200
    clear = response.headers.get("Clear-Site-Data", "")
    assert '"cookies"' in clear
    assert '"cache"' in clear
    assert not header_problems(response, "/leave")
    deletions = {name: attrs for name, _, attrs in set_cookies(response) if is_deletion(attrs)}
    assert SOURCE_COOKIE in deletions
    # A __Host- cookie is only replaced (here: deleted) with Secure and Path=/.
    assert "secure" in deletions[SOURCE_COOKIE]
    assert deletions[SOURCE_COOKIE].get("path") == "/"
    assert browser.get_cookie(SOURCE_COOKIE, domain="localhost") is None
    # The page is neutral: it says nothing about this site.
    assert b"dissent" not in response.data.lower()
    assert b"observation" not in response.data.lower()
    # The server forgot the session: the old cookie, kept by someone, opens nothing.
    replay = new_client()
    replay.set_cookie(SOURCE_COOKIE, old_cookie, domain="localhost", secure=True)
    inbox = replay.get("/inbox", base_url=BASE_URL)
    assert inbox.status_code in (302, 303)
    assert urlsplit(inbox.headers["Location"]).path == "/login"
