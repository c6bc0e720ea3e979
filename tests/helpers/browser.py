"""Driving Debian's Chromium through Playwright: where it is, screenshots, common steps.

The fixtures (a live server, the browser, fresh contexts) are in ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.helpers.staff import StaffLogin, next_totp

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
SOURCE_COOKIE = "__Host-dissent-source"
STAFF_COOKIE = "__Host-dissent-staff"
# Generous for a slow CI machine, short enough that a broken flow fails in seconds.
TIMEOUT_MS = 10_000
# The screens the phone-and-desktop browser tests run on.
VIEWS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (make system-deps installs it)",
    ),
]


@dataclass
class LiveServer:
    """Where the app runs and who can log in to it."""

    base_url: str
    adviser: StaffLogin


@dataclass
class Screenshots:
    """Numbered full-page screenshots of one test."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def __call__(self, page: Page, name: str) -> None:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)


def cookie_names(context: BrowserContext) -> set[str]:
    """Return the names of the cookies the browser holds."""
    return {cookie["name"] for cookie in context.cookies()}


def open_submit_form(page: Page, shot: Screenshots) -> None:
    """Go from the landing page to the observation form, as a source would."""
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Report what official reporting leaves out"
    )
    shot(page, "landing")
    page.locator("main").get_by_role("link", name="File an observation").click()
    page.wait_for_url("**/submit")
    expect(page.get_by_role("heading", level=1)).to_have_text("File an observation")


def confirm_codename(page: Page, shot: Screenshots) -> str:
    """Read the codename shown after submitting, confirm it was saved, reach the inbox."""
    codename = page.locator("#codename").inner_text().strip()  # the answer to the form
    assert re.fullmatch(r"[a-z]+(?:-[a-z]+)*(?: [a-z]+(?:-[a-z]+)*){6}", codename), codename
    shot(page, "codename")
    page.get_by_label("I have written down my codename").check()
    page.get_by_role("button", name="Continue to my inbox").click()
    page.wait_for_url("**/inbox")
    return codename


def staff_login(page: Page, login: StaffLogin, shot: Screenshots, *, home: str) -> None:
    """Log in with password and a TOTP code of the next time step; land on ``home``."""
    page.goto("/staff/login")
    page.get_by_label("Username").fill(login.username)
    page.get_by_label("Password").fill(login.password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/staff/2fa")
    page.get_by_label("Six-digit code").fill(next_totp(login.totp_secret))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{home}")
    shot(page, f"{login.role.value}-home")
