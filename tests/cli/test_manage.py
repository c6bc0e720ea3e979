"""`dissent mission`, `user`, `db upgrade` and `totp`: accounts and missions an operator manages."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from dissent.app import create_app
from dissent.cli import cli
from dissent.crypto import format_identity_file, generate_identity
from dissent.extensions import db
from dissent.models import AuditEntry, Mission, Role, StaffUser
from dissent.services import accounts, confirmation
from tests.helpers.cli import assert_one_line_error, run
from tests.helpers.enrolment import enrol_unconfirmed
from tests.helpers.instances import init_instance, run_in
from tests.helpers.pages import BASE_URL


@pytest.fixture
def instance(tmp_path):
    """An initialised instance folder with one mission."""
    return init_instance(tmp_path / "inst")


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# --- mission ----------------------------------------------------------------------------------


# These commands make their own SQLite instances whatever the test database is, so the
# PostgreSQL run would only repeat them.
@pytest.mark.sqlite_only
def test_mission_add_creates_a_mission_sources_will_see(instance):
    result = run("mission", "add", "eutm", "EUTM Training Mission", instance=instance)

    assert result.exit_code == 0, result.stderr
    assert "eutm" in result.stdout


@pytest.mark.sqlite_only
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


def test_mission_add_stores_the_slug_in_lower_case_with_its_name(app):
    result = run_in(app, "mission", "add", " EUCAP ", " EUCAP Sahel ")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Mission eucap created.\n"
    with app.app_context():
        assert [(m.slug, m.name) for m in db.session.scalars(select(Mission))] == [
            ("eucap", "EUCAP Sahel")
        ]


@pytest.mark.sqlite_only
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

    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst")}, serving=False)
    with app.app_context():
        mission = db.session.scalar(select(Mission))
        assert (mission.ack_days, mission.feedback_months) == (5, 2)
    db.engine(app).dispose()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("nope", "--ack-days", "5", "--feedback-months", "2"), "error: no mission 'nope'"),
        (("eupol", "--ack-days", "5", "--feedback-months", "4"), "feedback: 1 to 3 months"),
        (("eupol", "--ack-days", "0", "--feedback-months", "2"), "1 to 7 days"),
    ],
    ids=["unknown-mission", "feedback-too-late", "no-days"],
)
def test_mission_deadlines_errors_are_one_line_and_change_nothing(app, mission, args, expected):
    before = (mission.ack_days, mission.feedback_months)
    entries = count(app, AuditEntry)

    result = run_in(app, "mission", "deadlines", *args)

    assert expected in assert_one_line_error(result)
    with app.app_context():
        stored = db.session.scalar(select(Mission))
        assert (stored.ack_days, stored.feedback_months) == before
    assert count(app, AuditEntry) == entries


def test_mission_deadlines_are_recorded_in_the_audit_ledger(app, mission):
    result = run_in(
        app, "mission", "deadlines", "eupol", "--ack-days", "3", "--feedback-months", "1"
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Mission eupol: acknowledge within 3 days, feedback within 1 months.\n"
    with app.app_context():
        last = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
    assert (last.actor, last.subject) == ("cli", "deadlines:eupol:3d:1m")


# --- user -------------------------------------------------------------------------------------


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
def test_user_add_without_any_public_address_is_a_one_line_error(tmp_path):
    bare = tmp_path / "bare"
    assert run("init", "--instance", str(bare)).exit_code == 0

    message = assert_one_line_error(run("user", "add", "ops", "--role", "admin", instance=bare))

    assert "--base-url" in message and "DISSENT_PUBLIC_URL" in message


@pytest.mark.sqlite_only
def test_user_add_unknown_mission_is_a_one_line_error(instance):
    message = assert_one_line_error(
        run("user", "add", "anna", "--role", "adviser", "--mission", "nope", instance=instance)
    )

    assert "nope" in message


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
def test_user_add_bad_role_is_refused_naming_the_roles(instance):
    result = run("user", "add", "anna", "--role", "king", "--mission", "eupol", instance=instance)

    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert "'king' is not one of 'adviser', 'leadership', 'admin'" in result.stderr


@pytest.mark.sqlite_only
def test_user_add_without_a_mission_for_an_adviser_is_a_one_line_error(instance):
    message = assert_one_line_error(
        run("user", "add", "anna", "--role", "adviser", instance=instance)
    )

    assert "mission" in message


def test_user_add_refuses_an_admin_tied_to_a_mission(app, mission):
    message = assert_one_line_error(
        run_in(app, "user", "add", "ops", "--role", "admin", "--mission", "eupol")
    )

    assert "mission" in message
    assert count(app, StaffUser) == 0


def test_user_add_gives_a_leader_every_mission_named(app, mission):
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eutm", name="EUTM")

    result = run_in(
        app,
        "user",
        "add",
        "lead",
        "--role",
        "leadership",
        "--mission",
        "eupol",
        "--mission",
        "eutm",
        "--base-url",
        BASE_URL,
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Account lead (leadership) created.")
    with app.app_context():
        user = db.session.scalar(select(StaffUser))
        assert (user.username, user.role) == ("lead", Role.LEADERSHIP)
        assert sorted(m.slug for m in user.missions) == ["eupol", "eutm"]


def add_adviser_with_email(app, email: str):
    return run_in(
        app,
        "user",
        "add",
        "anna",
        "--role",
        "adviser",
        "--mission",
        "eupol",
        "--email",
        email,
        "--base-url",
        BASE_URL,
    )


def test_user_add_gives_the_account_a_mail_address_and_the_ledger_no_address(app, mission):
    result = add_adviser_with_email(app, " Anna.Smit@Example.ORG ")

    assert result.exit_code == 0, result.stderr
    assert "xample" not in result.stdout  # the address is not echoed
    with app.app_context():
        user = db.session.scalar(select(StaffUser))
        assert user.email == "Anna.Smit@example.org"  # as the operator page stores it
        subjects = list(db.session.scalars(select(AuditEntry.subject)))
    assert "email:anna" in subjects
    assert not [subject for subject in subjects if "xample" in subject]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("anna at example", "type one mail address, such as name@example.org"),
        ("a@example.org, b@example.org", "type one mail address, such as name@example.org"),
        ("anna@example.org\nBcc: x@example.org", "type one mail address"),
        ("a" * 60 + "@" + "b" * 200 + ".org", "longer than 254 characters"),
    ],
)
def test_user_add_with_a_bad_address_is_a_one_line_error_and_makes_no_account(
    app, mission, typed, expected
):
    message = assert_one_line_error(add_adviser_with_email(app, typed))

    assert expected in message
    assert count(app, StaffUser) == 0


# --- db upgrade and totp ----------------------------------------------------------------------


def test_db_upgrade_on_a_current_database_changes_nothing(app, mission):
    result = run_in(app, "db", "upgrade")

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Database is at the latest schema.\n"
    assert count(app, Mission) == 1


def test_totp_prints_the_current_code_of_a_secret_typed_in_groups():
    secret = pyotp.random_base32()
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    window = {pyotp.TOTP(secret).at(time.time())}

    result = CliRunner().invoke(cli, ["totp", grouped])

    window.add(pyotp.TOTP(secret).at(time.time()))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() in window


def test_totp_refuses_what_is_not_a_base32_secret():
    message = assert_one_line_error(CliRunner().invoke(cli, ["totp", "not-base32!"]))

    assert message == "error: not a base32 TOTP secret"


# --- user confirm-key ---------------------------------------------------------------------------


def _enrolled_alone(app) -> StaffUser:
    staff_id = enrol_unconfirmed(app, "first")
    with app.app_context():
        return db.session.get(StaffUser, staff_id)


def _confirm_key(app, identity_file, fingerprint: str):
    return app.test_cli_runner().invoke(
        cli,
        [
            "user",
            "confirm-key",
            "first",
            "eupol",
            "--recovery-identity",
            str(identity_file),
            "--fingerprint",
            fingerprint,
        ],
    )


def test_the_custodians_confirm_a_first_adviser_with_the_recovery_identity(
    app, mission, recovery_identity, tmp_path
):
    user = _enrolled_alone(app)
    identity_file = tmp_path / "recovery.txt"
    identity_file.write_text(format_identity_file(recovery_identity), encoding="ascii")
    fingerprint = confirmation.fingerprint(user.recipient)

    wrong = _confirm_key(app, identity_file, "AAAA AAAA AAAA AAAA")
    assert wrong.exit_code != 0
    assert "not the fingerprint" in wrong.output

    result = _confirm_key(app, identity_file, fingerprint)
    assert result.exit_code == 0, result.output
    assert "confirmed" in result.output
    with app.app_context():
        assert confirmation.is_confirmed(db.session, staff_id=user.id, mission_id=mission.id)


def test_confirm_key_refuses_an_identity_that_is_not_the_recovery_key(app, mission, tmp_path):
    user = _enrolled_alone(app)
    identity_file = tmp_path / "other.txt"
    identity_file.write_text(format_identity_file(generate_identity()), encoding="ascii")

    result = _confirm_key(app, identity_file, confirmation.fingerprint(user.recipient))
    assert result.exit_code != 0
    assert "not the instance's recovery identity" in result.output
    with app.app_context():
        assert not confirmation.is_confirmed(db.session, staff_id=user.id, mission_id=mission.id)
