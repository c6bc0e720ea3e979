"""Staff accounts: when one counts as enrolled, its defaults, and what its rows enforce."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from dissent.extensions import current_context, db
from dissent.models import AccessGrant, Enrolment, Mission, Role, StaffUser, staff_mission
from dissent.services import accounts
from tests.helpers.staff import PASSWORD


def count(model_or_table) -> int:
    return db.session.scalar(select(func.count()).select_from(model_or_table)) or 0


def test_an_account_counts_as_enrolled_only_once_its_enrolment_is_complete(app, mission):
    with app.app_context(), db.unit():
        user, _token = accounts.create_account(
            db.session, username="newcomer", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        assert user.enrolled is False

        accounts.enrol_directly(
            db.session,
            current_context(),
            user=user,
            password=PASSWORD,
            totp_secret=accounts.new_totp_secret(),
        )

        assert user.enrolled is True
        assert user.enrolled_at.tzinfo is UTC


def test_enrolled_follows_the_enrolment_time_alone():
    user = StaffUser(username="someone", role=Role.LEADERSHIP)
    assert not user.enrolled

    user.enrolled_at = datetime.now(UTC)
    assert user.enrolled

    user.enrolled_at = None
    assert not user.enrolled


def test_a_new_account_is_active_without_keys_and_dated_now(app):
    before = datetime.now(UTC)
    with app.app_context(), db.unit():
        user = StaffUser(username="fresh", role=Role.ADMIN)
        db.session.add(user)
        db.session.flush()
        staff_id = user.id

    with app.app_context():
        user = db.session.get(StaffUser, staff_id)
        assert user.active is True
        assert user.totp_last_step == 0
        assert (user.password_hash, user.wrapped_identity, user.verify_key) == (None, None, None)
        assert before - timedelta(seconds=1) <= user.created_at <= datetime.now(UTC)
        assert user.missions == []


def test_two_accounts_cannot_share_a_username(app):
    """The service checks first; the constraint settles a race between two requests."""
    with app.app_context():
        db.session.add_all(
            [
                StaffUser(username="twin", role=Role.ADVISER),
                StaffUser(username="twin", role=Role.ADMIN),
            ]
        )
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_an_account_lists_the_missions_it_belongs_to(app, mission, make_staff):
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eutm", name="EUTM Training Mission")
    adviser = make_staff(Role.ADVISER, missions=["eupol", "eutm"])

    with app.app_context():
        user = db.session.get(StaffUser, adviser.id)
        assert sorted(m.slug for m in user.missions) == ["eupol", "eutm"]


def test_deleting_an_account_takes_its_links_memberships_and_grants_but_not_the_mission(
    app, mission, make_staff
):
    adviser = make_staff(Role.ADVISER)
    with app.app_context(), db.unit():
        db.session.add(
            Enrolment(
                staff_id=adviser.id,
                token_hash=os.urandom(32),
                expires_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
        db.session.add(AccessGrant(staff_id=adviser.id, mission_id=mission.id))

    with app.app_context(), db.unit():
        db.session.execute(delete(StaffUser).where(StaffUser.id == adviser.id))

    with app.app_context():
        assert count(Enrolment) == 0
        assert count(AccessGrant) == 0
        assert count(staff_mission) == 0
        assert db.session.get(Mission, mission.id) is not None


def test_an_adviser_has_at_most_one_pending_grant_per_mission(app, mission, make_staff):
    adviser = make_staff(Role.ADVISER)
    with app.app_context(), db.unit():
        db.session.add(AccessGrant(staff_id=adviser.id, mission_id=mission.id))

    with app.app_context():
        db.session.add(AccessGrant(staff_id=adviser.id, mission_id=mission.id))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_an_enrolment_token_hash_belongs_to_one_link_only(app, mission, make_staff):
    first, second = make_staff(Role.ADVISER), make_staff(Role.LEADERSHIP)
    token_hash = os.urandom(32)
    expires = datetime.now(UTC) + timedelta(days=1)

    with app.app_context():
        db.session.add_all(
            [
                Enrolment(staff_id=first.id, token_hash=token_hash, expires_at=expires),
                Enrolment(staff_id=second.id, token_hash=token_hash, expires_at=expires),
            ]
        )
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
