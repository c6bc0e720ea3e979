"""Links that leave the site name the configured public address, not the request's host."""

from __future__ import annotations

import pytest

from dissent.app import create_app
from dissent.extensions import db
from dissent.web.links import public_url_for


@pytest.fixture
def make_app(config):
    made = []

    def make(public_url):
        app = create_app({**config, "PUBLIC_URL": public_url})
        made.append(app)
        return app

    yield make
    for app in made:
        db.engine(app).dispose()


@pytest.mark.parametrize(
    ("public_url", "expected"),
    [
        ("https://meldpunt.example.org", "https://meldpunt.example.org/staff/enrol/tok"),
        ("https://meldpunt.example.org/", "https://meldpunt.example.org/staff/enrol/tok"),
        ("http://127.0.0.1:5123", "http://127.0.0.1:5123/staff/enrol/tok"),
        ("https://intranet.example/dissent/", "https://intranet.example/dissent/staff/enrol/tok"),
        ("http://abcdefghijklmnop.onion", "http://abcdefghijklmnop.onion/staff/enrol/tok"),
    ],
)
def test_a_link_is_made_at_the_public_address_whatever_the_request_says(
    make_app, public_url, expected
):
    app = make_app(public_url)

    with app.test_request_context("/admin/", base_url="https://attacker.example:8443/x"):
        assert public_url_for("staff.enrol", token="tok") == expected


def test_without_a_public_address_no_link_is_made(make_app):
    app = make_app(None)

    with app.test_request_context("/admin/"), pytest.raises(RuntimeError):
        public_url_for("staff.enrol", token="tok")
