"""The enrolment link names the instance's configured public address, never the one in
the request's Host header, and nothing serves without that address outside the demo and
the tests (issue 15, finding 16).

Whoever sends a request chooses its Host header: an operator's page built from it would
hand a new staff member a link to the sender's server, where their password and second
factor would be typed in.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dissent.app import create_app
from dissent.config import ConfigError
from dissent.extensions import db
from dissent.models import Role
from dissent.security.sessions import STAFF_COOKIE
from tests.helpers.cli import run
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.staff import login_staff

PUBLIC = "https://meldpunt.example.org"
DISSENT = str(Path(sys.executable).parent / "dissent")
LINK = re.compile(rb"(https?://[^/\s\"<]+)/staff/enrol/[A-Za-z0-9_-]+")


@pytest.fixture
def public_app(config):
    app = create_app({**config, "PUBLIC_URL": PUBLIC + "/"})
    yield app
    db.engine(app).dispose()


def test_the_enrolment_link_names_the_public_address_whatever_the_host_header(
    public_app, mission, make_staff
):
    # make_staff works on the test app; this app shares its database.
    operator = public_app.test_client()
    login_staff(operator, make_staff(Role.ADMIN))
    # The operator's own session, on requests whose Host header someone else chose (a
    # proxy passing any Host through). Sent by hand: the test client picks cookies by host.
    cookie = operator.get_cookie(STAFF_COOKIE)
    forged = public_app.test_client(use_cookies=False)
    headers = {"Cookie": f"{cookie.key}={cookie.value}"}
    host = {"HTTP_HOST": "attacker.example"}
    page = forged.get("/admin/", base_url=BASE_URL, headers=headers, environ_overrides=host)

    forged.post(
        "/admin/accounts",
        data={
            "csrf_token": csrf_from(page),
            "username": "anna",
            "role": "adviser",
            "missions": "eupol",
        },
        base_url=BASE_URL,
        headers=headers,
        environ_overrides=host,
    )
    shown = forged.get("/admin/", base_url=BASE_URL, headers=headers, environ_overrides=host)

    assert [m.group(1).decode() for m in LINK.finditer(shown.data)] == [PUBLIC]
    assert b"attacker.example" not in shown.data


def test_the_application_refuses_to_start_without_a_public_address(config):
    with pytest.raises(ConfigError, match="DISSENT_PUBLIC_URL"):
        create_app({**config, "PUBLIC_URL": None, "TESTING": False})


@pytest.mark.parametrize(
    "address",
    ["meldpunt.example.org", "ftp://meldpunt.example.org", "https://", "https://a.example/?x=1"],
)
def test_the_application_refuses_an_address_that_is_not_one(config, address):
    with pytest.raises(ConfigError, match="public_url"):
        create_app({**config, "PUBLIC_URL": address})


def test_the_command_line_works_without_a_public_address(tmp_path):
    instance = tmp_path / "inst"
    assert run("init", "--instance", str(instance)).exit_code == 0

    result = run("mission", "add", "eupol", "EUPOL", instance=instance)

    assert result.exit_code == 0, result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.sqlite_only
def test_serve_refuses_to_start_without_a_public_address(tmp_path):
    instance = tmp_path / "inst"
    assert run("init", "--instance", str(instance)).exit_code == 0
    env = {"DISSENT_INSTANCE": str(instance), "PATH": "/usr/bin:/bin"}

    # Before the fix it would serve (and this would time out).
    result = subprocess.run(
        [DISSENT, "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "DISSENT_PUBLIC_URL" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.sqlite_only
def test_init_keeps_the_public_address(tmp_path):
    instance = tmp_path / "inst"

    result = run("init", "--instance", str(instance), "--public-url", PUBLIC)

    assert result.exit_code == 0, result.output
    assert json.loads((instance / "dissent.json").read_text())["public_url"] == PUBLIC
    app = create_app({"INSTANCE_PATH": str(instance)})
    db.engine(app).dispose()


@pytest.mark.sqlite_only
def test_the_demo_names_its_own_address(tmp_path):
    instance = tmp_path / "demo"

    result = run("demo", "--no-serve", "--instance", str(instance), "--port", "5123")

    assert result.exit_code == 0, result.output
    settings = json.loads((instance / "dissent.json").read_text())
    assert settings["public_url"] == "http://127.0.0.1:5123"
