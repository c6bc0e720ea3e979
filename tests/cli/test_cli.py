"""``dissent init``, ``mission add``, ``user add`` and ``demo`` as an operator runs them."""

from __future__ import annotations

import itertools
import json
import os
import re
import stat
import sys

import pytest
from click.testing import CliRunner, Result

from dissent.app import create_app
from dissent.cli import cli, main
from dissent.crypto import KeyKind, identity_from_secret
from dissent.crypto.errors import KeyFormatError
from dissent.crypto.shamir import combine_shares, parse_share
from dissent.extensions import db
from dissent.models import Role
from dissent.services import accounts
from tests.helpers.cli import CLEAN_ENV, assert_one_line_error, run
from tests.helpers.pages import BASE_URL
from tests.helpers.staff import StaffLogin, login_staff

# These commands make their own SQLite instances whatever the test database is, so the
# PostgreSQL run would only repeat them.
pytestmark = pytest.mark.sqlite_only

SHARE = re.compile(r"^\s*share (\d+): (DISSENT-SHARE1 [A-Z0-9 ]+)$", re.M)


def recovery_recipient(result: Result) -> str:
    match = re.search(r"^Recovery recipient: (age1\S+)$", result.stdout, re.M)
    assert match, result.stdout
    return match.group(1)


@pytest.fixture
def instance(tmp_path):
    """An initialised instance folder with one mission."""
    path = tmp_path / "inst"
    assert run("init", "--instance", str(path)).exit_code == 0
    assert run("mission", "add", "eupol", "EUPOL Test Mission", instance=path).exit_code == 0
    return path


# --- before anything is set up ----------------------------------------------------------------


def test_help_on_a_fresh_machine_lists_the_commands_without_a_traceback(tmp_path):
    """`dissent --help` is the first thing an operator types, before `dissent init`."""
    result = run("--help", instance=tmp_path / "nothing-here")

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "Error" not in result.stderr
    for command in ("init", "demo", "serve", "mission", "user", "audit", "report"):
        assert re.search(rf"^  {command}\b", result.stdout, re.M), command


def test_an_unknown_command_on_a_fresh_machine_is_a_usage_error(tmp_path):
    result = run("frobnicate", instance=tmp_path / "nothing-here")

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "No such command 'frobnicate'" in result.output


def test_a_command_that_needs_the_instance_says_to_run_init(tmp_path):
    result = run("mission", "add", "eupol", "EUPOL", instance=tmp_path / "nothing-here")

    assert "dissent init" in assert_one_line_error(result)


# --- init -------------------------------------------------------------------------------------


def test_init_creates_an_owner_only_instance_file_and_the_recovery_ceremony(tmp_path):
    path = tmp_path / "inst"

    result = run("init", "--instance", str(path))

    assert result.exit_code == 0, result.stderr
    instance_file = path / "dissent.json"
    assert stat.S_IMODE(os.stat(instance_file).st_mode) == 0o600
    settings = json.loads(instance_file.read_text())
    assert settings["recovery_recipient"] == recovery_recipient(result)
    assert recovery_recipient(result).startswith("age1pq1")
    shares = SHARE.findall(result.stdout)
    assert [int(number) for number, _ in shares] == [1, 2, 3, 4, 5]
    assert "any 3 of which recover it" in result.stdout
    # The shares are printed, never stored.
    for _, share in shares:
        for file in path.iterdir():
            if file.is_file():
                assert share.encode() not in file.read_bytes()


def test_any_threshold_of_the_printed_shares_recovers_the_recovery_key(tmp_path):
    result = run("init", "--instance", str(tmp_path / "inst"), "--custodians", "4")
    shares = [parse_share(text) for _, text in SHARE.findall(result.stdout)]
    assert len(shares) == 4

    for chosen in itertools.combinations(shares, 3):
        secret = combine_shares(list(chosen))
        identity = identity_from_secret(secret, kind=KeyKind.HYBRID)
        assert identity.recipient.encode() == recovery_recipient(result)
    with pytest.raises(KeyFormatError):
        combine_shares(shares[:2])


def test_init_with_x25519_keys(tmp_path):
    result = run("init", "--instance", str(tmp_path / "inst"), "--key-kind", "x25519")
    shares = [parse_share(text) for _, text in SHARE.findall(result.stdout)][:3]

    identity = identity_from_secret(combine_shares(shares), kind=KeyKind.X25519)

    assert identity.recipient.encode() == recovery_recipient(result)
    assert re.fullmatch(r"age1[02-9ac-hj-np-z]{58}", recovery_recipient(result))


def test_init_refuses_to_run_twice(tmp_path):
    path = tmp_path / "inst"
    run("init", "--instance", str(path))
    before = (path / "dissent.json").read_bytes()

    message = assert_one_line_error(run("init", "--instance", str(path)))

    assert "exists already" in message
    assert (path / "dissent.json").read_bytes() == before


def test_init_refuses_a_threshold_above_the_custodians(tmp_path):
    path = tmp_path / "inst"

    message = assert_one_line_error(
        run("init", "--instance", str(path), "--threshold", "4", "--custodians", "3")
    )

    assert "--threshold" in message
    assert not (path / "dissent.json").exists()


# --- mission add and user add -----------------------------------------------------------------


def test_mission_add_creates_a_mission_sources_will_see(instance):
    result = run("mission", "add", "eutm", "EUTM Training Mission", instance=instance)

    assert result.exit_code == 0, result.stderr
    assert "eutm" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("eupol", "Again"), "exists already"),
        (("Bad Slug", "Name"), "slug"),
    ],
)
def test_mission_add_errors_are_one_line(instance, args, expected):
    message = assert_one_line_error(run("mission", "add", *args, instance=instance))

    assert expected in message


def test_user_add_prints_a_working_enrolment_link(instance):
    result = run(
        "user", "add", "anna", "--role", "adviser", "--mission", "eupol", instance=instance
    )

    assert result.exit_code == 0, (result.stderr, result.exception)
    link = re.search(
        r"^(http://127\.0\.0\.1:5000/staff/enrol/[A-Za-z0-9_-]+)$", result.stdout, re.M
    )
    assert link, result.stdout
    app = create_app({"INSTANCE_PATH": str(instance)})
    try:
        path = "/staff/enrol/" + link.group(1).rsplit("/", 1)[1]
        page = app.test_client().get(path, base_url=BASE_URL)
        assert page.status_code == 200
        assert b"anna" in page.data
    finally:
        db.engine(app).dispose()


def test_user_add_links_to_the_public_address(instance):
    result = run(
        "user",
        "add",
        "ops",
        "--role",
        "admin",
        "--base-url",
        "https://dissent.example.org/",
        instance=instance,
    )

    assert result.exit_code == 0, (result.stderr, result.exception)
    assert re.search(r"^https://dissent\.example\.org/staff/enrol/\S+$", result.stdout, re.M)


def test_user_add_unknown_mission_is_a_one_line_error(instance):
    message = assert_one_line_error(
        run("user", "add", "anna", "--role", "adviser", "--mission", "nope", instance=instance)
    )

    assert "nope" in message


def test_user_add_taken_username_is_a_one_line_error(instance):
    app = create_app({"INSTANCE_PATH": str(instance)})
    try:
        with app.app_context(), db.unit():
            accounts.create_account(
                db.session, username="anna", role=Role.ADVISER, mission_slugs=["eupol"]
            )
    finally:
        db.engine(app).dispose()

    message = assert_one_line_error(
        run("user", "add", "anna", "--role", "leadership", "--mission", "eupol", instance=instance)
    )

    assert "taken" in message


def test_user_add_bad_role_is_refused_naming_the_roles(instance):
    result = run("user", "add", "anna", "--role", "king", "--mission", "eupol", instance=instance)

    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert "'king' is not one of 'adviser', 'leadership', 'admin'" in result.stderr


def test_user_add_bad_role_is_a_one_line_error(instance, monkeypatch, capsys):
    """Through the installed entry point, which turns usage errors into one line too."""
    for name, value in CLEAN_ENV.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DISSENT_INSTANCE", str(instance))
    monkeypatch.setattr(
        sys, "argv", ["dissent", "user", "add", "anna", "--role", "king", "--mission", "eupol"]
    )

    with pytest.raises(SystemExit) as exit_:
        main()

    assert exit_.value.code not in (0, None)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert "'king' is not one of 'adviser', 'leadership', 'admin'" in lines[0]


def test_user_add_without_a_mission_for_an_adviser_is_a_one_line_error(instance):
    message = assert_one_line_error(
        run("user", "add", "anna", "--role", "adviser", instance=instance)
    )

    assert "mission" in message


# --- demo -------------------------------------------------------------------------------------


def test_demo_writes_logins_that_work(tmp_path):
    path, credentials = tmp_path / "demo", tmp_path / "logins.json"

    result = run(
        "demo", "--no-serve", "--instance", str(path), "--credentials-file", str(credentials)
    )

    assert result.exit_code == 0, (result.stderr, result.exception)
    assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600
    logins = json.loads(credentials.read_text())
    assert set(logins) == {"adviser", "leadership", "admin"}
    for login in logins.values():
        assert set(login) == {"username", "password", "totp_secret"}
        assert login["password"] in result.stdout
    app = create_app({"INSTANCE_PATH": str(path)})
    try:
        homes = {}
        for role, login in logins.items():
            page = login_staff(
                app.test_client(),
                StaffLogin(id=0, role=Role(role), **login),
            )
            homes[role] = page.status_code
        assert homes == {"adviser": 200, "leadership": 200, "admin": 200}
    finally:
        db.engine(app).dispose()


def test_demo_refuses_to_wipe_a_real_instance(tmp_path):
    path = tmp_path / "inst"
    run("init", "--instance", str(path))
    before = {f.name: f.read_bytes() for f in path.iterdir() if f.is_file()}

    message = assert_one_line_error(run("demo", "--no-serve", "--instance", str(path)))

    assert "real instance" in message
    assert {f.name: f.read_bytes() for f in path.iterdir() if f.is_file()} == before


def test_mission_deadlines_are_set_within_the_law(tmp_path, monkeypatch):

    monkeypatch.setenv("DISSENT_INSTANCE", str(tmp_path / "inst"))
    runner = CliRunner()
    assert (
        runner.invoke(
            cli,
            ["init", "--instance", str(tmp_path / "inst"), "--threshold", "2", "--custodians", "2"],
        ).exit_code
        == 0
    )
    assert runner.invoke(cli, ["mission", "add", "eupol", "EUPOL"]).exit_code == 0
    ok = runner.invoke(
        cli, ["mission", "deadlines", "eupol", "--ack-days", "5", "--feedback-months", "2"]
    )
    assert ok.exit_code == 0 and "within 5 days" in ok.output
    too_lax = runner.invoke(
        cli, ["mission", "deadlines", "eupol", "--ack-days", "10", "--feedback-months", "2"]
    )
    assert too_lax.exit_code != 0 and "1 to 7 days" in too_lax.output
    from sqlalchemy import select

    from dissent.app import create_app
    from dissent.extensions import db
    from dissent.models import Mission

    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    with app.app_context():
        mission = db.session.scalar(select(Mission))
        assert (mission.ack_days, mission.feedback_months) == (5, 2)
    db.engine(app).dispose()
