"""The enrolment QR code scans: whole, square, with its quiet zone, on a phone and a desktop.

A staff member enrols their authenticator app by pointing it at the QR code on the
enrolment page. Each test opens that page in Chromium (JavaScript off), photographs only
the QR element, and reads it back with Debian's ``zbarimg``, the way a phone camera
would: a code cut by CSS (a lost finder pattern) or without its quiet zone does not read.
Nothing here prints the otpauth URI or its secret: a failure says what differed, not what
was encoded.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from dissent.extensions import db
from dissent.models import Role
from dissent.services import accounts
from dissent.web.qr import QUIET_ZONE_MODULES
from tests.helpers.browser import BROWSER_MARKS, Screenshots

ZBARIMG = shutil.which("zbarimg")
pytestmark = [
    *BROWSER_MARKS,
    pytest.mark.skipif(
        ZBARIMG is None,
        reason="needs zbarimg (Debian package zbar-tools; make system-deps installs it)",
    ),
]

USERNAME = "qradviser"
QR_NAME = "Scan with your authenticator app"
PHONE = {"width": 390, "height": 844}
# Narrower than the code's natural size: CSS shrinks it (a small phone, or text zoom).
NARROW = {"width": 240, "height": 640}
DESKTOP = {"width": 1280, "height": 800}
# zbarimg exits with 4 when the image holds no symbol it can read.
ZBAR_NOTHING_FOUND = 4
# Chromium lays out in fractions of a CSS pixel; the box may differ from a whole
# number by less than one.
LAYOUT_SLACK_PX = 1.0
# Where the dark modules land on the screen: (left, top, right, bottom) of all paths.
DARK_MODULES_ON_SCREEN = """svg => {
  const boxes = [...svg.querySelectorAll("path")].map(path => path.getBoundingClientRect());
  return [Math.min(...boxes.map(b => b.left)), Math.min(...boxes.map(b => b.top)),
          Math.max(...boxes.map(b => b.right)), Math.max(...boxes.map(b => b.bottom))];
}"""
# How many CSS pixels one unit of the SVG's view box takes (0: no view box).
PIXELS_PER_UNIT = "svg => svg.getBoundingClientRect().width / svg.viewBox.baseVal.width || 0"


def invite(app) -> str:
    """Create an adviser account waiting for enrolment; return its enrolment path."""
    with app.app_context(), db.unit():
        _, token = accounts.create_account(
            db.session, username=USERNAME, role=Role.ADVISER, mission_slugs=["eupol"]
        )
    return f"/staff/enrol/{token}"


def decode_qr(image: Path) -> list[str]:
    """Return the texts of the QR codes zbarimg reads in ``image`` (none: an empty list)."""
    result = subprocess.run(
        [str(ZBARIMG), "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(image)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if result.returncode == ZBAR_NOTHING_FOUND:
        return []
    # Not the output: it would hold the secret.
    assert result.returncode == 0, f"zbarimg failed with exit code {result.returncode}"
    return result.stdout.splitlines()


def open_enrolment(page: Page, path: str, viewport: dict[str, int]) -> str:
    """Show the enrolment page at ``viewport``; return the secret it offers as text."""
    page.set_viewport_size(viewport)
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your account")
    return page.locator("code.secret").inner_text().strip()


def assert_whole_and_square(page: Page, viewport: dict[str, int]) -> None:
    """The QR code is square, inside the screen, and its box shows all of its drawing."""
    qr = page.get_by_role("img", name=QR_NAME)
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box is not None
    assert abs(box["width"] - box["height"]) < LAYOUT_SLACK_PX, f"not square: {box}"
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (
        f"the QR code runs off a {viewport['width']} px wide screen: {box}"
    )
    # Against the element's box: an SVG without a viewBox keeps its drawing's own size
    # and the box crops it. The quiet zone must show, as wide as the standard asks, on
    # every side.
    left, top, right, bottom = qr.evaluate(DARK_MODULES_ON_SCREEN)
    margins = [left - box["x"], top - box["y"], box["x"] + box["width"] - right]
    margins.append(box["y"] + box["height"] - bottom)
    assert min(margins) > 0, f"the box cuts the drawing: margins {margins} px"
    quiet_zone = QUIET_ZONE_MODULES * qr.evaluate(PIXELS_PER_UNIT)
    assert all(abs(margin - quiet_zone) < LAYOUT_SLACK_PX for margin in margins), (
        f"quiet zone of {margins} px, not {quiet_zone} px on every side"
    )


@pytest.mark.parametrize(
    "viewport",
    [
        pytest.param(PHONE, id="phone-390px"),
        pytest.param(NARROW, id="narrow-240px"),
        pytest.param(DESKTOP, id="desktop"),
    ],
)
def test_the_enrolment_qr_code_scans_as_the_accounts_otpauth_uri(
    app, live_server, fresh_context, shot: Screenshots, viewport, caplog
):
    """An authenticator app reading the QR code gets this account and the secret shown."""
    caplog.set_level(logging.DEBUG)  # whatever the server logs, at any level
    path = invite(app)
    page = fresh_context().new_page()
    secret = open_enrolment(page, path, viewport)
    shot(page, "enrol")
    assert_whole_and_square(page, viewport)

    image = shot.folder / "qr.png"
    page.get_by_role("img", name=QR_NAME).screenshot(path=str(image))
    decoded = decode_qr(image)

    assert len(decoded) == 1, f"the QR code did not scan ({len(decoded)} codes read)"
    uri = urlsplit(decoded[0])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp"), "not a TOTP provisioning URI"
    # Compared to booleans first: pytest would print both sides, and with them the secret.
    same_secret = parse_qs(uri.query).get("secret") == [secret]
    assert same_secret, "the secret in the QR code is not the one shown"
    same_uri = decoded[0] == accounts.totp_uri(secret, username=USERNAME)
    assert same_uri, "the URI differs from the account's (name or issuer)"
    logged = secret in caplog.text
    assert not logged, "the TOTP secret was logged"
