"""web/keys.py: what the pages get for confirming keys, and a confirmation from a form."""

from __future__ import annotations

from sqlalchemy import select

from dissent.extensions import db
from dissent.models import Mission, StaffUser
from dissent.services import confirmation
from dissent.web import keys
from tests.helpers.enrolment import enrol_unconfirmed
from tests.helpers.pages import BASE_URL


def _newcomer(app) -> int:
    return enrol_unconfirmed(app, "newcomer")


def test_the_page_lists_the_keys_a_confirmed_adviser_may_confirm(app, adviser):
    newcomer = _newcomer(app)
    with app.test_request_context(base_url=BASE_URL):
        context = keys.page_context(db.session.get(StaffUser, adviser.id))
        assert [p.staff.id for p in context["keys_to_confirm"]] == [newcomer]
        assert context["own_key_waiting"] == []
        theirs = keys.page_context(db.session.get(StaffUser, newcomer))
        assert theirs["keys_to_confirm"] == []
        assert [m.slug for m in theirs["own_key_waiting"]] == ["eupol"]
        assert theirs["own_fingerprint"] == confirmation.fingerprint(
            db.session.get(StaffUser, newcomer).recipient
        )


def test_a_posted_wrong_fingerprint_comes_back_on_the_form(app, adviser):
    newcomer = _newcomer(app)
    with app.app_context():
        mission_id = db.session.scalar(select(Mission.id))
    with app.test_request_context(
        base_url=BASE_URL, method="POST", data={"fingerprint": "ZZZZ ZZZZ ZZZZ ZZZZ"}
    ):
        app.config["WTF_CSRF_ENABLED"] = False
        done, form = keys.confirm_posted(
            db.session.get(StaffUser, adviser.id), staff_id=newcomer, mission_id=mission_id
        )
    assert not done
    assert any("not the fingerprint" in error for error in form.fingerprint.errors)
