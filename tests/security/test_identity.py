"""Who is logged in and their keys, as kept in the session (dissent.security.identity)."""

from __future__ import annotations

import pytest
from flask import session
from werkzeug.exceptions import Forbidden

from dissent.crypto import KeyKind, generate_identity
from dissent.extensions import current_context, db
from dissent.models import Role, StaffUser
from dissent.security import identity
from dissent.services import accounts
from tests.helpers.staff import PASSWORD


def accepted_password(app, login) -> accounts.PasswordAccepted:
    """Return the first factor of ``login``, passed (its identity unwrapped)."""
    with app.app_context():
        return accounts.check_password(
            db.session, current_context(), username=login.username, password=PASSWORD
        )


def test_a_password_login_is_pending_in_a_fresh_session_with_the_identity(app, mission, make_staff):
    adviser = make_staff(Role.ADVISER)
    accepted = accepted_password(app, adviser)

    with app.test_request_context():
        session["left over"] = "from before the login"
        before = session.sid
        identity.begin_staff_login(accepted)

        assert "left over" not in session
        assert session.sid != before  # a new id and key, stored under them when saved
        assert identity.pending_staff_id() == adviser.id
        assert identity.logged_in_staff_id() is None
        assert identity.logged_in_role() is None
        assert identity.current_identity_secret() == accepted.identity_secret


def test_the_second_factor_turns_the_pending_login_into_a_full_one(app, mission, make_staff):
    leader = make_staff(Role.LEADERSHIP)
    accepted = accepted_password(app, leader)

    with app.test_request_context():
        identity.begin_staff_login(accepted)
        user = db.session.get(StaffUser, leader.id)
        pending = session.sid
        identity.complete_staff_login(user)

        assert session.sid != pending
        assert identity.PENDING_STAFF_ID not in session
        assert identity.logged_in_staff_id() == leader.id
        assert identity.logged_in_role() is Role.LEADERSHIP
        assert identity.current_identity_secret() == accepted.identity_secret
        assert identity.current_identity().recipient.encode() == user.recipient
        assert identity.current_staff().id == leader.id


def test_the_identity_is_kept_encoded_not_as_raw_bytes_in_the_session(app, mission, make_staff):
    adviser = make_staff(Role.ADVISER)
    accepted = accepted_password(app, adviser)

    with app.test_request_context():
        identity.begin_staff_login(accepted)

        assert all(isinstance(value, str | int) for value in session.values())


def test_a_deactivated_account_is_refused_and_its_session_ended(app, mission, make_staff):
    adviser = make_staff(Role.ADVISER)
    accepted = accepted_password(app, adviser)
    with app.app_context(), db.unit():
        accounts.set_active(db.session, staff_id=adviser.id, active=False)

    with app.test_request_context():
        identity.begin_staff_login(accepted)
        identity.complete_staff_login(db.session.get(StaffUser, adviser.id))

        with pytest.raises(Forbidden):
            identity.current_staff()

        assert session.destroy
        assert identity.logged_in_staff_id() is None
        assert identity.PENDING_STAFF_ID not in session


def test_a_session_naming_no_account_is_refused(app):
    with app.test_request_context():
        session[identity.STAFF_ID] = 999_999

        with pytest.raises(Forbidden):
            identity.current_staff()

        assert session.destroy


def test_a_logged_in_source_has_its_id_and_identity_in_the_session(app):
    source_keys = generate_identity(KeyKind.HYBRID)

    with app.test_request_context():
        identity.log_in_source(42, source_keys.secret_bytes())

        assert identity.current_source_id() == 42
        opened = identity.current_source_identity()
        assert opened.recipient.encode() == source_keys.recipient.encode()
        assert identity.logged_in_staff_id() is None
        assert identity.logged_in_role() is None
