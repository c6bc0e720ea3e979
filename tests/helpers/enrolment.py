"""Enrolling a staff account over HTTP, through its one-time link, as a person would."""

from __future__ import annotations

import re

import pyotp

from dissent.extensions import current_context, db
from dissent.models import Role
from dissent.services import accounts
from tests.helpers.pages import BASE_URL, csrf_from

ENROL_PASSWORD = "a long enrolment passphrase 77"
_LINK = re.compile(rb"(/staff/enrol/[A-Za-z0-9_-]+)")
_SECRET = re.compile(rb'<code[^>]*class="secret"[^>]*>([A-Z2-7]+)</code>')
_FINGERPRINT = re.compile(rb'<p class="fingerprint"><code>([A-Z2-7 ]+)</code>')


def link_on(page) -> str:
    """Return the enrolment path shown on an operator's page."""
    match = _LINK.search(page.data)
    assert match, "no enrolment link on the page"
    return match.group(1).decode()


def enrol_by_link(client, path: str, *, password: str = ENROL_PASSWORD) -> str:
    """Complete an enrolment link; return the TOTP secret the page showed."""
    page = client.get(path, base_url=BASE_URL)
    match = _SECRET.search(page.data)
    assert match, "no TOTP secret on the enrolment page"
    secret = match.group(1).decode()
    response = client.post(
        path,
        data={
            "csrf_token": csrf_from(page),
            "password": password,
            "confirm": password,
            "code": pyotp.TOTP(secret).now(),
        },
        base_url=BASE_URL,
    )
    assert response.status_code == 303, response.data[:400]
    return secret


def own_fingerprint(page) -> str:
    """Return the fingerprint a newcomer's own page shows them, or ''."""
    match = _FINGERPRINT.search(page.data)
    return match.group(1).decode() if match else ""


def enrol_unconfirmed(
    app, username: str, *, actor: str = "cli", missions: tuple[str, ...] = ("eupol",)
) -> int:
    """Make an adviser account and complete its enrolment link, as an operator alone
    could (``actor`` made it); nobody confirms its key. Return its id."""
    with app.app_context(), db.unit():
        user, token = accounts.create_account(
            db.session,
            username=username,
            role=Role.ADVISER,
            mission_slugs=list(missions),
            actor=actor,
        )
        secret = accounts.new_totp_secret()
        accounts.complete_enrolment(
            db.session,
            current_context(),
            token=token,
            password=ENROL_PASSWORD,
            totp_secret=secret,
            totp_code=pyotp.TOTP(secret).now(),
        )
        return user.id
