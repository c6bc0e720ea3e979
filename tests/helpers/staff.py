"""Staff accounts in tests: the known password, TOTP codes, logging in."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyotp

from dissent.crypto import unwrap_identity
from dissent.extensions import db
from dissent.models import (
    Role,
    StaffUser,
)
from tests.helpers.pages import BASE_URL, csrf_from

PASSWORD = "correct horse battery staple 42"


@dataclass
class StaffLogin:
    """A staff account the tests can log in with."""

    id: int
    username: str
    role: Role
    password: str
    totp_secret: str


def next_totp(secret: str, *, offset_steps: int = 1) -> str:
    """A code the server has not seen yet: the next time step (within the drift window)."""
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + offset_steps * totp.interval)


def login_staff(client, login: StaffLogin, *, offset_steps: int = 1):
    """Log a staff member in with password and TOTP; return the landing response."""
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
    assert response.status_code == 303, response.data[:500]
    page = client.get("/staff/2fa", base_url=BASE_URL)
    response = client.post(
        "/staff/2fa",
        data={
            "code": next_totp(login.totp_secret, offset_steps=offset_steps),
            "csrf_token": csrf_from(page),
        },
        base_url=BASE_URL,
    )
    assert response.status_code == 303, response.data[:500]
    return client.get(response.headers["Location"], base_url=BASE_URL)


WRONG_LOGIN = b"Wrong username or password."


def password_step(client, username: str, password: str):
    page = client.get("/staff/login", base_url=BASE_URL)
    return client.post(
        "/staff/login",
        data={"csrf_token": csrf_from(page), "username": username, "password": password},
        base_url=BASE_URL,
    )


def adviser_keys(adviser: StaffLogin):
    """Return the adviser's account and identity (unwrapped with the known password)."""
    user = db.session.get(StaffUser, adviser.id)
    return user, unwrap_identity(user.wrapped_identity, passphrase=PASSWORD)
