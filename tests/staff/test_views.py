"""Staff enrolment by one-time link, two-factor login, logout, split-knowledge sessions."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import timedelta
from types import SimpleNamespace

import pyotp
import pytest
from sqlalchemy import text

from dissent.crypto import unwrap_identity
from dissent.crypto.secretbox import open_sealed
from dissent.extensions import db
from dissent.models import Role, StaffUser, utcnow
from dissent.security.sessions import STAFF_COOKIE, _id_hash
from dissent.services import accounts, login_throttle
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.staff import (
    PASSWORD,
    WRONG_LOGIN,
    StaffLogin,
    login_staff,
    next_totp,
    password_step,
)

NEW_PASSWORD = "velvet tractor orbit lantern 77"
TOTP_REFUSED = b"That code is wrong, expired or already used. Wait for the next one."
LINK_INVALID = b"This link cannot be used"


def invite(app, *, role: Role = Role.ADVISER, username: str = "newadviser") -> tuple[int, str]:
    """Create an account waiting for enrolment; return its id and enrolment path."""
    with app.app_context(), db.unit():
        user, token = accounts.create_account(
            db.session,
            username=username,
            role=role,
            mission_slugs=[] if role is Role.ADMIN else ["eupol"],
        )
        return user.id, f"/staff/enrol/{token}"


def shown_secret(page) -> str:
    match = re.search(rb'<code[^>]*class="secret"[^>]*>([A-Z2-7]+)</code>', page.data)
    assert match, "no TOTP secret on the page"
    return match.group(1).decode()


def wrong_code(secret: str) -> str:
    """Return a six-digit code that matches none of the steps the server accepts."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    accepted = {totp.at(now + steps * totp.interval) for steps in (-2, -1, 0, 1, 2)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in accepted)


def enrol(client, path: str, **fields):
    """Show the enrolment page and send it; return (page, response)."""
    page = client.get(path, base_url=BASE_URL)
    secret = shown_secret(page)
    data = {
        "csrf_token": csrf_from(page),
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "code": pyotp.TOTP(secret).now(),
    }
    data.update(fields)
    return page, client.post(path, data=data, base_url=BASE_URL)


def field_error_text(response, field_id: str) -> str:
    match = re.search(
        rf'<ul[^>]*id="{field_id}-errors"[^>]*>(.*?)</ul>'.encode(), response.data, re.S
    )
    return match.group(1).decode() if match else ""


def code_step(client, code: str):
    page = client.get("/staff/2fa", base_url=BASE_URL)
    return client.post(
        "/staff/2fa", data={"csrf_token": csrf_from(page), "code": code}, base_url=BASE_URL
    )


def is_enrolled(app, staff_id: int) -> bool:
    with app.app_context():
        return db.session.get(StaffUser, staff_id).enrolled


@pytest.fixture
def adviser(mission, make_staff) -> StaffLogin:
    return make_staff(Role.ADVISER)


# --- enrolment --------------------------------------------------------------------------------


def test_the_enrolment_page_shows_a_qr_code_and_the_secret(app, client, mission):
    _, path = invite(app)

    page = client.get(path, base_url=BASE_URL)

    assert page.status_code == 200
    assert b"newadviser" in page.data
    svg = re.search(rb"<svg[^>]*>.*?</svg>", page.data, re.S)
    assert svg and b"<path" in svg.group(0)
    assert re.fullmatch(r"[A-Z2-7]{32}", shown_secret(page))
    # The QR code is drawn inline: nothing is fetched from elsewhere.
    assert b"<img" not in page.data


def test_the_secret_stays_the_same_while_the_page_is_reloaded(app, client, new_client, mission):
    _, path = invite(app)

    first = shown_secret(client.get(path, base_url=BASE_URL))
    second = shown_secret(client.get(path, base_url=BASE_URL))
    _, failed = enrol(client, path, confirm="something else entirely 9")

    assert first == second == shown_secret(failed)
    assert shown_secret(new_client().get(path, base_url=BASE_URL)) != first


def test_a_weak_password_is_refused(app, client, mission):
    staff_id, path = invite(app)

    _, response = enrol(client, path, password="password1234", confirm="password1234")

    assert response.status_code == 400
    assert "too common or too easy to guess" in field_error_text(response, "password")
    assert not is_enrolled(app, staff_id)


def test_a_short_password_is_refused(app, client, mission):
    staff_id, path = invite(app)

    _, response = enrol(client, path, password="Xq7#short", confirm="Xq7#short")

    assert response.status_code == 400
    assert "Between 12 and 256 characters." in field_error_text(response, "password")
    assert not is_enrolled(app, staff_id)


def test_a_mismatched_confirmation_is_refused(app, client, mission):
    staff_id, path = invite(app)

    _, response = enrol(client, path, confirm=NEW_PASSWORD + "x")

    assert response.status_code == 400
    assert "The passwords differ." in field_error_text(response, "confirm")
    assert not is_enrolled(app, staff_id)


def test_a_wrong_code_is_refused(app, client, mission):
    staff_id, path = invite(app)
    page = client.get(path, base_url=BASE_URL)

    response = client.post(
        path,
        data={
            "csrf_token": csrf_from(page),
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "code": wrong_code(shown_secret(page)),
        },
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert "That code does not match." in field_error_text(response, "code")
    assert not is_enrolled(app, staff_id)


def test_enrolment_succeeds_once_and_the_new_login_works(app, client, new_client, mission):
    staff_id, path = invite(app)
    page, response = enrol(client, path)

    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/login?enrolled=1"
    assert is_enrolled(app, staff_id)
    landing = client.get(response.headers["Location"], base_url=BASE_URL)
    assert b"Your account is ready." in landing.data
    second_use = new_client().get(path, base_url=BASE_URL)
    assert second_use.status_code == 404
    assert LINK_INVALID in second_use.data
    staff = new_client()
    home = login_staff(
        staff,
        StaffLogin(
            id=staff_id,
            username="newadviser",
            role=Role.ADVISER,
            password=NEW_PASSWORD,
            totp_secret=shown_secret(page),
        ),
    )
    assert home.status_code == 200
    assert b"<h1>Inbox</h1>" in home.data


def test_an_enrolment_link_expires_after_72_hours(app, client, mission, monkeypatch):
    _, path = invite(app)
    later = {"by": timedelta(hours=71)}
    monkeypatch.setattr("dissent.services.accounts.utcnow", lambda: utcnow() + later["by"])

    assert client.get(path, base_url=BASE_URL).status_code == 200
    later["by"] = timedelta(hours=73)
    expired = client.get(path, base_url=BASE_URL)

    assert expired.status_code == 404
    assert LINK_INVALID in expired.data


@pytest.mark.parametrize("token", ["nope", "x" * 500, "..%2F..%2Fadmin"])
def test_an_unknown_enrolment_link_is_invalid(client, mission, token):
    response = client.get(f"/staff/enrol/{token}", base_url=BASE_URL)

    assert response.status_code == 404


# --- login ------------------------------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_user_get_the_same_message(client, adviser):
    wrong_password = password_step(client, adviser.username, "not the password at all")
    unknown_user = password_step(client, "nobody", adviser.password)

    for response in (wrong_password, unknown_user):
        assert response.status_code == 400
        assert WRONG_LOGIN in response.data
    assert client.get("/staff/2fa", base_url=BASE_URL).status_code == 302


def test_the_second_factor_refuses_a_wrong_code_then_accepts_the_right_one(client, adviser):
    assert password_step(client, adviser.username, adviser.password).status_code == 303
    # Without the second factor there is no access yet.
    assert client.get("/adviser/", base_url=BASE_URL).status_code == 302

    refused = code_step(client, wrong_code(adviser.totp_secret))
    accepted = code_step(client, next_totp(adviser.totp_secret))

    assert refused.status_code == 400
    assert TOTP_REFUSED in refused.data
    assert accepted.status_code == 303
    assert client.get("/adviser/", base_url=BASE_URL).status_code == 200


def test_a_code_cannot_be_used_twice(new_client, adviser):
    code = next_totp(adviser.totp_secret)
    first = new_client()
    password_step(first, adviser.username, adviser.password)
    assert code_step(first, code).status_code == 303

    second = new_client()
    password_step(second, adviser.username, adviser.password)
    replayed = code_step(second, code)

    assert replayed.status_code == 400
    assert b"already used" in replayed.data
    assert second.get("/adviser/", base_url=BASE_URL).status_code == 302


@pytest.mark.parametrize(
    ("role", "home", "heading"),
    [
        (Role.ADVISER, "/adviser/", b"<h1>Inbox</h1>"),
        (Role.LEADERSHIP, "/leadership/", b"<h1>Escalations</h1>"),
        (Role.ADMIN, "/admin/", b"<h1>Missions and accounts</h1>"),
    ],
)
def test_each_role_lands_on_its_own_page(client, mission, make_staff, role, home, heading):
    login = make_staff(role)
    password_step(client, login.username, login.password)

    response = code_step(client, next_totp(login.totp_secret))

    assert response.status_code == 303
    assert response.headers["Location"] == home
    page = client.get(home, base_url=BASE_URL)
    assert page.status_code == 200
    assert heading in page.data


def test_logout_ends_the_session_and_deletes_its_record(app, client, adviser):
    page = login_staff(client, adviser)
    id_hash = _id_hash(base64.urlsafe_b64decode(staff_cookie(client) + "==")[:32])
    store = app.session_interface.store
    assert store.load(id_hash) is not None

    response = client.post("/staff/logout", data={"csrf_token": csrf_from(page)}, base_url=BASE_URL)

    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/login?bye=1"
    assert store.load(id_hash) is None
    assert client.get_cookie(STAFF_COOKIE) is None
    assert client.get("/adviser/", base_url=BASE_URL).status_code == 302
    bye = client.get("/staff/login?bye=1", base_url=BASE_URL)
    assert b"You are logged out." in bye.data


def test_a_deactivated_account_cannot_log_in(app, client, adviser):
    with app.app_context(), db.unit():
        accounts.set_active(db.session, staff_id=adviser.id, active=False)

    response = password_step(client, adviser.username, adviser.password)

    assert response.status_code == 400
    assert WRONG_LOGIN in response.data
    assert client.get("/staff/2fa", base_url=BASE_URL).status_code == 302


def test_a_deactivated_account_loses_its_open_session(app, client, adviser):
    login_staff(client, adviser)
    with app.app_context(), db.unit():
        accounts.set_active(db.session, staff_id=adviser.id, active=False)

    response = client.get("/adviser/", base_url=BASE_URL)

    assert response.status_code in {302, 403}
    assert b"<h1>Inbox</h1>" not in response.data
    again = client.get("/adviser/", base_url=BASE_URL)
    assert again.status_code == 302
    assert again.headers["Location"] == "/staff/login"


def test_a_username_with_a_nul_character_is_refused(client, adviser):
    response = password_step(client, adviser.username + "\x00", adviser.password)

    assert response.status_code == 400
    assert WRONG_LOGIN not in response.data  # refused before any account lookup
    assert client.get("/adviser/", base_url=BASE_URL).status_code == 302


# --- split knowledge --------------------------------------------------------------------------


def staff_cookie(client) -> str:
    cookie = client.get_cookie(STAFF_COOKIE)
    assert cookie is not None, "no staff session cookie"
    return cookie.value


def encodings(secret: bytes) -> list[bytes]:
    """Every form in which a secret could plausibly be written down."""
    return [
        secret,
        base64.b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
        secret.hex().encode(),
        secret.hex().upper().encode(),
    ]


def test_neither_the_store_nor_the_cookie_alone_holds_the_identity(app, client, adviser):
    login_staff(client, adviser)
    with app.app_context():
        wrapped = db.session.get(StaffUser, adviser.id).wrapped_identity
    identity = unwrap_identity(wrapped, passphrase=PASSWORD)
    secret = identity.secret_bytes()
    forms = [*encodings(secret), identity.secret_string().encode()]
    with db.engine(app).connect() as conn:
        rows = conn.execute(text("SELECT id_hash, sealed, expires_at FROM stored_session")).all()
    assert rows
    dump = b"\n".join(
        bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode()
        for row in rows
        for v in row
    )
    cookie = staff_cookie(client)
    cookie_bytes = base64.urlsafe_b64decode(cookie + "==")

    for form in forms:
        assert form not in dump
        assert form not in cookie.encode()
        assert form not in cookie_bytes
    # Together they do hold it: the check above looked in the right place.
    sid, key = cookie_bytes[:32], cookie_bytes[32:]
    sealed = next(bytes(row.sealed) for row in rows if bytes(row.id_hash) == _id_hash(sid))
    session_data = json.loads(open_sealed(sealed, key=key, context=_id_hash(sid)))
    assert base64.b64decode(session_data["identity"]) == secret


# --- limits and forged cookies ---------------------------------------------------------------


def freeze_rate_limit_clock(monkeypatch) -> dict[str, float]:
    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(
        "dissent.security.ratelimit.time", SimpleNamespace(time=lambda: clock["now"])
    )
    return clock


def test_too_many_password_attempts_pause_that_account_only(
    client, new_client, adviser, make_staff, monkeypatch
):
    monkeypatch.setattr(login_throttle, "STAFF_LOGIN_BACKOFF", ((3, 900),))
    clock = freeze_rate_limit_clock(monkeypatch)
    colleague = make_staff(Role.ADVISER)
    for _ in range(3):
        assert WRONG_LOGIN in password_step(client, adviser.username, "guess guess guess").data

    paused = password_step(client, adviser.username, adviser.password)

    assert paused.status_code == 400
    assert b"Too many attempts. Try again in" in paused.data
    assert password_step(new_client(), colleague.username, colleague.password).status_code == 303
    clock["now"] += 15 * 60
    assert password_step(new_client(), adviser.username, adviser.password).status_code == 303


def test_too_many_wrong_codes_pause_the_second_factor(client, adviser, monkeypatch):
    monkeypatch.setattr(accounts, "TOTP_ATTEMPTS", 2)
    freeze_rate_limit_clock(monkeypatch)
    password_step(client, adviser.username, adviser.password)
    for _ in range(2):
        assert TOTP_REFUSED in code_step(client, wrong_code(adviser.totp_secret)).data

    paused = code_step(client, next_totp(adviser.totp_secret))

    assert paused.status_code == 400
    assert b"Too many attempts." in paused.data
    assert client.get("/adviser/", base_url=BASE_URL).status_code == 302


@pytest.mark.parametrize(
    "value",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(bytes(64)).decode().rstrip("="),
        base64.urlsafe_b64encode(bytes(10)).decode(),
        "é",
    ],
    ids=["garbage", "unknown-id", "short", "non-ascii"],
)
def test_a_forged_cookie_is_just_no_session(client, adviser, value):
    client.set_cookie(STAFF_COOKIE, value, domain="localhost")

    response = client.get("/adviser/", base_url=BASE_URL)

    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"
    assert client.get("/staff/login", base_url=BASE_URL).status_code == 200


def test_a_cookie_with_the_wrong_key_opens_nothing(client, new_client, adviser):
    login_staff(client, adviser)
    sid = base64.urlsafe_b64decode(staff_cookie(client) + "==")[:32]
    thief = new_client()
    forged = base64.urlsafe_b64encode(sid + bytes(32)).decode().rstrip("=")
    thief.set_cookie(STAFF_COOKIE, forged, domain="localhost")

    response = thief.get("/adviser/", base_url=BASE_URL)

    assert response.status_code == 302
    assert client.get("/adviser/", base_url=BASE_URL).status_code == 200
