"""Missions and staff accounts: their rules, enrolment, and the two login factors."""

from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import select

from dissent.crypto import identity_from_secret
from dissent.extensions import current_context, db
from dissent.models import AuditEntry, Enrolment, Mission, Role, StaffUser
from dissent.models.mission import NAME_MAX
from dissent.services import accounts, audit
from dissent.services.errors import (
    EnrolmentCodeRejected,
    EnrolmentInvalid,
    InvalidInput,
    LoginFailed,
    NotFound,
    Problem,
    TotpRejected,
)
from tests.helpers.staff import PASSWORD


def code_at(secret: str, steps_from_now: int) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + steps_from_now * totp.interval)


def audit_actions(actor: str) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor == actor).order_by(AuditEntry.seq)
        )
    )


@pytest.fixture
def adviser(mission, make_staff):
    return make_staff(Role.ADVISER, username="jdoe")


@pytest.fixture
def invited(app, mission):
    """An adviser account not yet enrolled, and its enrolment token."""
    with app.app_context(), db.unit():
        user, token = accounts.create_account(
            db.session, username="newcomer", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        return user.id, token


# --- missions -------------------------------------------------------------------------------


def test_a_mission_slug_and_name_are_tidied_and_the_creation_audited(app):
    with app.app_context():
        with db.unit():
            accounts.create_mission(db.session, slug="  EUCAP-Sahel ", name="  EUCAP Sahel  ")

        mission = db.session.scalar(select(Mission))
        assert (mission.slug, mission.name) == ("eucap-sahel", "EUCAP Sahel")
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
        assert (entry.action, entry.subject) == (audit.Action.MISSION_CHANGE, "add:eucap-sahel")


@pytest.mark.parametrize(
    ("name", "problem"),
    [("   ", Problem.MISSING), ("n" * (NAME_MAX + 1), Problem.TOO_LONG)],
)
def test_a_mission_name_must_be_given_and_fit(app, name, problem):
    with app.app_context(), pytest.raises(InvalidInput) as refused, db.unit():
        accounts.create_mission(db.session, slug="eucap", name=name)

    assert (refused.value.field, refused.value.problem) == ("name", problem)


@pytest.mark.parametrize(
    ("ack_days", "feedback_months", "field"),
    [(0, 3, "ack_days"), (8, 3, "ack_days"), (7, 0, "feedback_months"), (7, 4, "feedback_months")],
)
def test_deadlines_outside_the_directive_are_refused(
    app, mission, ack_days, feedback_months, field
):
    with app.app_context():
        with pytest.raises(InvalidInput) as refused, db.unit():
            accounts.set_deadlines(
                db.session, slug="eupol", ack_days=ack_days, feedback_months=feedback_months
            )

        assert (refused.value.field, refused.value.problem) == (field, Problem.OUT_OF_RANGE)
        stored = db.session.get(Mission, mission.id)
        assert (stored.ack_days, stored.feedback_months) == (mission.ack_days, 3)


def test_deadlines_within_the_directive_are_kept_and_audited(app, mission):
    with app.app_context():
        with db.unit():
            accounts.set_deadlines(db.session, slug="eupol", ack_days=1, feedback_months=1)
        with db.unit():
            accounts.set_deadlines(db.session, slug="eupol", ack_days=7, feedback_months=3)

        stored = db.session.get(Mission, mission.id)
        assert (stored.ack_days, stored.feedback_months) == (7, 3)
        subjects = db.session.scalars(
            select(AuditEntry.subject).where(AuditEntry.subject.like("deadlines:%"))
        ).all()
        assert subjects == ["deadlines:eupol:1d:1m", "deadlines:eupol:7d:3m"]


def test_deadlines_of_an_unknown_mission_are_not_found(app):
    with app.app_context(), pytest.raises(NotFound), db.unit():
        accounts.set_deadlines(db.session, slug="nowhere", ack_days=7, feedback_months=3)


# --- accounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "role", "missions", "field", "problem"),
    [
        ("x", Role.ADVISER, ["eupol"], "username", Problem.MALFORMED),
        ("j doe", Role.ADVISER, ["eupol"], "username", Problem.MALFORMED),
        ("-jdoe", Role.ADVISER, ["eupol"], "username", Problem.MALFORMED),
        ("jdoe", Role.ADVISER, ["nowhere"], "missions", Problem.UNKNOWN),
        ("jdoe", Role.ADVISER, [], "missions", Problem.MISSING),
        ("jdoe", Role.LEADERSHIP, [], "missions", Problem.MISSING),
        ("jdoe", Role.ADMIN, ["eupol"], "missions", Problem.NOT_ALLOWED),
    ],
)
def test_an_invalid_account_names_the_field_and_the_problem(
    app, mission, username, role, missions, field, problem
):
    with app.app_context():
        with pytest.raises(InvalidInput) as refused, db.unit():
            accounts.create_account(
                db.session, username=username, role=role, mission_slugs=missions
            )

        assert (refused.value.field, refused.value.problem) == (field, problem)
        assert db.session.scalar(select(StaffUser.id)) is None


def test_a_username_is_stored_in_lower_case_and_logs_in_whatever_the_case(app, mission):
    with app.app_context():
        with db.unit():
            user, _ = accounts.create_account(
                db.session, username=" J.Doe ", role=Role.ADVISER, mission_slugs=["eupol"]
            )
            accounts.enrol_directly(
                db.session,
                current_context(),
                user=user,
                password=PASSWORD,
                totp_secret=accounts.new_totp_secret(),
            )

        assert user.username == "j.doe"
        accepted = accounts.check_password(
            db.session, current_context(), username="  J.DOE", password=PASSWORD
        )
        assert accepted.staff_id == user.id


# --- enrolment ------------------------------------------------------------------------------


def test_an_enrolment_link_stops_working_once_the_account_is_deactivated(app, invited):
    staff_id, token = invited
    with app.app_context():
        assert accounts.enrolment_for(db.session, token).staff_id == staff_id
        with db.unit():
            accounts.set_active(db.session, staff_id=staff_id, active=False)

        with pytest.raises(EnrolmentInvalid):
            accounts.enrolment_for(db.session, token)


def test_only_a_hash_of_the_enrolment_token_is_stored(app, invited):
    _, token = invited
    with app.app_context():
        stored = db.session.scalar(select(Enrolment.token_hash))

    assert token.encode() not in stored
    assert len(stored) == 32


def test_enrolment_accepts_a_code_one_step_off_but_not_two(app, invited):
    staff_id, token = invited
    secret = accounts.new_totp_secret()
    with app.app_context():
        ctx = current_context()
        with pytest.raises(EnrolmentCodeRejected), db.unit():
            accounts.complete_enrolment(
                db.session,
                ctx,
                token=token,
                password=PASSWORD,
                totp_secret=secret,
                totp_code=code_at(secret, -2),
            )
        assert not db.session.get(StaffUser, staff_id).enrolled

        with db.unit():
            user = accounts.complete_enrolment(
                db.session,
                ctx,
                token=token,
                password=PASSWORD,
                totp_secret=secret,
                totp_code=code_at(secret, -1),
            )

        assert user.enrolled and user.recipient and user.verify_key
        with pytest.raises(EnrolmentInvalid):
            accounts.enrolment_for(db.session, token)


def test_the_enrolment_code_cannot_be_used_again_to_log_in(app, invited):
    _, token = invited
    secret = accounts.new_totp_secret()
    code = code_at(secret, 0)
    with app.app_context():
        ctx = current_context()
        with db.unit():
            user = accounts.complete_enrolment(
                db.session, ctx, token=token, password=PASSWORD, totp_secret=secret, totp_code=code
            )

        with pytest.raises(TotpRejected):
            accounts.check_totp(db.session, ctx, staff_id=user.id, code=code)


# --- the two factors ------------------------------------------------------------------------


def test_the_right_password_unwraps_the_accounts_own_key(app, adviser):
    with app.app_context():
        accepted = accounts.check_password(
            db.session, current_context(), username="jdoe", password=PASSWORD
        )
        user = db.session.get(StaffUser, adviser.id)
        identity = identity_from_secret(
            accepted.identity_secret, kind=current_context().settings.key_kind
        )

    assert accepted.staff_id == adviser.id
    assert identity.recipient.encode() == user.recipient


def test_a_wrong_password_is_refused_and_the_attempt_stays_in_the_ledger(app, adviser):
    with app.app_context():
        with pytest.raises(LoginFailed), db.unit():
            accounts.check_password(
                db.session, current_context(), username="jdoe", password=PASSWORD + "x"
            )

        assert audit_actions("jdoe") == [audit.Action.LOGIN_FAILED]


def test_an_unknown_username_is_refused_and_leaves_no_trace(app, adviser):
    with app.app_context():
        with pytest.raises(LoginFailed), db.unit():
            accounts.check_password(
                db.session, current_context(), username="nobody", password=PASSWORD
            )

        assert audit_actions("nobody") == []


def test_an_account_that_has_not_enrolled_cannot_log_in(app, invited):
    with app.app_context(), pytest.raises(LoginFailed), db.unit():
        accounts.check_password(
            db.session, current_context(), username="newcomer", password=PASSWORD
        )


def test_a_code_is_accepted_once_and_an_older_one_after_it_never(app, adviser):
    with app.app_context():
        ctx = current_context()
        current = code_at(adviser.totp_secret, 0)
        spaced = f"{current[:3]} {current[3:]}"
        with db.unit():
            accounts.check_totp(db.session, ctx, staff_id=adviser.id, code=spaced)
        assert audit_actions("jdoe") == [audit.Action.LOGIN]

        for code in (current, code_at(adviser.totp_secret, -1)):
            with pytest.raises(TotpRejected), db.unit():
                accounts.check_totp(db.session, ctx, staff_id=adviser.id, code=code)
        with db.unit():
            accounts.check_totp(
                db.session, ctx, staff_id=adviser.id, code=code_at(adviser.totp_secret, 1)
            )


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef"])
def test_a_code_that_is_not_six_digits_is_rejected(app, adviser, code):
    with app.app_context(), pytest.raises(TotpRejected):
        accounts.check_totp(db.session, current_context(), staff_id=adviser.id, code=code)


def test_a_deactivated_account_gets_no_second_factor(app, adviser):
    with app.app_context():
        with db.unit():
            accounts.set_active(db.session, staff_id=adviser.id, active=False)

        with pytest.raises(TotpRejected):
            accounts.check_totp(
                db.session,
                current_context(),
                staff_id=adviser.id,
                code=code_at(adviser.totp_secret, 1),
            )


def test_the_authenticator_link_names_the_account_and_the_issuer():
    secret = accounts.new_totp_secret()

    uri = accounts.totp_uri(secret, username="jdoe")

    assert uri.startswith("otpauth://totp/dissent:jdoe?")
    assert f"secret={secret}" in uri
    assert "issuer=dissent" in uri
