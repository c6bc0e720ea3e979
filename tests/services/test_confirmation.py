"""services/confirmation.py: who may confirm whose key, and what a confirmation covers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dissent.crypto import generate_identity
from dissent.extensions import db
from dissent.models import Mission, Role, StaffUser
from dissent.services import confirmation
from dissent.services.errors import InvalidInput, NotFound
from dissent.services.keyring import adviser_recipients
from tests.helpers.enrolment import enrol_unconfirmed


@pytest.fixture
def enrolled_alone(app, mission):
    """An adviser the operator made and enrolled by link, confirmed by nobody."""
    return enrol_unconfirmed(app, "newcomer", actor="operator1")


def _user(staff_id: int) -> StaffUser:
    return db.session.get(StaffUser, staff_id)


def test_the_fingerprint_is_four_groups_read_aloud_and_differs_per_key():
    one = generate_identity().recipient.encode()
    two = generate_identity().recipient.encode()
    shown = confirmation.fingerprint(one)
    assert len(shown.split(" ")) == 4
    assert all(len(group) == 4 for group in shown.split(" "))
    assert shown == confirmation.fingerprint(one)
    assert shown != confirmation.fingerprint(two)


def test_an_enrolled_but_unconfirmed_key_is_no_reader(app, adviser, enrolled_alone):
    with app.app_context():
        mission = db.session.scalar(select(Mission))
        readers = {r.encode() for r in adviser_recipients(db.session, mission.id)}
        assert _user(enrolled_alone).recipient not in readers
        assert _user(adviser.id).recipient in readers
        assert confirmation.awaiting(db.session, _user(enrolled_alone)) == [mission]


def test_typing_is_forgiving_about_case_spaces_and_look_alike_digits(app, adviser, enrolled_alone):
    with app.app_context():
        mission = db.session.scalar(select(Mission))
        shown = confirmation.fingerprint(_user(enrolled_alone).recipient)
        typed = shown.lower().replace(" ", "-").replace("o", "0").replace("i", "1")
        with db.unit():
            confirmation.confirm(
                db.session,
                confirmer=_user(adviser.id),
                staff_id=enrolled_alone,
                mission_id=mission.id,
                typed_fingerprint=typed,
            )
        assert confirmation.is_confirmed(db.session, staff_id=enrolled_alone, mission_id=mission.id)


def test_a_wrong_fingerprint_confirms_nothing(app, adviser, enrolled_alone):
    with app.app_context():
        mission = db.session.scalar(select(Mission))
        with pytest.raises(InvalidInput) as refused:
            confirmation.confirm(
                db.session,
                confirmer=_user(adviser.id),
                staff_id=enrolled_alone,
                mission_id=mission.id,
                typed_fingerprint="AAAA AAAA AAAA AAAA",
            )
        assert refused.value.field == "fingerprint"
        assert not confirmation.is_confirmed(
            db.session, staff_id=enrolled_alone, mission_id=mission.id
        )


def test_an_unconfirmed_adviser_cannot_confirm_others(app, adviser, enrolled_alone, make_staff):
    with app.app_context():
        assert confirmation.to_confirm(db.session, _user(enrolled_alone)) == []
        listed = confirmation.to_confirm(db.session, _user(adviser.id))
        assert [p.staff.id for p in listed] == [enrolled_alone]


def test_the_operator_who_made_an_account_cannot_confirm_it(app, enrolled_alone, make_staff):
    with app.app_context():
        maker = StaffUser(username="operator1", role=Role.ADMIN)
        other = StaffUser(username="operator2", role=Role.ADMIN)
        db.session.add_all([maker, other])
        db.session.flush()
        assert confirmation.to_confirm(db.session, maker) == []
        assert [p.staff.id for p in confirmation.to_confirm(db.session, other)] == [enrolled_alone]
        db.session.rollback()


def test_operators_confirm_only_a_missions_first_adviser(app, adviser, enrolled_alone):
    with app.app_context():
        other = StaffUser(username="operator2", role=Role.ADMIN)
        db.session.add(other)
        db.session.flush()
        # The mission has a confirmed adviser: its advisers confirm, not operators.
        assert confirmation.to_confirm(db.session, other) == []
        db.session.rollback()


def test_a_confirmation_covers_the_key_it_compared_not_a_later_one(app, adviser):
    with app.app_context(), db.unit():
        user = _user(adviser.id)
        mission = db.session.scalar(select(Mission))
        assert confirmation.is_confirmed(db.session, staff_id=user.id, mission_id=mission.id)
        user.recipient = generate_identity().recipient.encode()  # keys replaced
        db.session.flush()
        assert not confirmation.is_confirmed(db.session, staff_id=user.id, mission_id=mission.id)
        assert adviser_recipients(db.session, mission.id) == []


def test_the_custodians_confirm_any_member_and_are_recorded(app, enrolled_alone):
    with app.app_context():
        mission = db.session.scalar(select(Mission))
        with db.unit():
            confirmation.confirm(
                db.session,
                confirmer=None,
                staff_id=enrolled_alone,
                mission_id=mission.id,
                typed_fingerprint=confirmation.fingerprint(_user(enrolled_alone).recipient),
            )
        readers = confirmation.confirmed_advisers(db.session, mission.id)
        assert [staff.id for staff, _since in readers] == [enrolled_alone]


def test_confirming_a_member_of_another_mission_is_not_found(app, adviser, enrolled_alone):
    with app.app_context(), pytest.raises(NotFound):
        confirmation.confirm(
            db.session,
            confirmer=_user(adviser.id),
            staff_id=enrolled_alone,
            mission_id=9999,
            typed_fingerprint="x",
        )


def test_no_operator_confirms_a_first_adviser_made_from_the_command_line(app, mission):
    staff_id = enrol_unconfirmed(app, "shell-made")
    with app.app_context():
        assert _user(staff_id).created_by == confirmation.BY_COMMAND_LINE
        operator = StaffUser(username="operator2", role=Role.ADMIN)
        db.session.add(operator)
        db.session.flush()
        assert confirmation.to_confirm(db.session, operator) == []
        db.session.rollback()
