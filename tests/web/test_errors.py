"""Error pages (dissent.web.errors): an error nobody expected is a neutral page and a log
line naming its type, never a wrong message next to a field."""

from __future__ import annotations

import logging

from sqlalchemy import func, select, update

from dissent.extensions import db
from dissent.models import Escalation, Role, StaffUser
from tests.helpers.casework import checked_hash, file_and_acknowledge, post_summary
from tests.helpers.pages import BASE_URL
from tests.helpers.staff import login_staff

BROKEN_KEY = "age1-not-a-key-secret-9931"


def test_a_bad_stored_key_is_an_error_page_not_choose_a_leader(
    app, new_client, mission, make_staff, caplog
):
    adviser, leader = make_staff(Role.ADVISER), make_staff(Role.LEADERSHIP)
    staff = new_client()
    login_staff(staff, adviser)
    _source, ref = file_and_acknowledge(new_client, staff, consent="summary_allowed")
    with app.app_context(), db.unit():
        db.session.execute(
            update(StaffUser).where(StaffUser.id == leader.id).values(recipient=BROKEN_KEY)
        )
    text = "Figures were rounded up in the quarterly report."
    checked = checked_hash(post_summary(staff, ref, text, "check"))

    with caplog.at_level(logging.ERROR, logger="dissent"):
        response = post_summary(staff, ref, text, "escalate", [leader.id], checked)

    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Choose at least one leader" not in page
    assert "Something went wrong on our side" in page
    assert "KeyFormatError" in caplog.text and BROKEN_KEY not in caplog.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Escalation)) == 0


def test_an_unknown_page_is_a_plain_404(client):
    response = client.get("/no/such/page", base_url=BASE_URL)

    assert response.status_code == 404
    assert "There is no page here." in response.get_data(as_text=True)
