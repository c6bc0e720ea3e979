"""The operator's forms: a mission's ladder limits, refused with the range they must be in,
on the page with what was typed kept."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from dissent.admin.forms import LadderForm
from dissent.extensions import db
from dissent.models import Mission, Role
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.staff import login_staff


def ladder_form(app, **data) -> LadderForm:
    with app.test_request_context(method="POST"):
        made = LadderForm(MultiDict(data), meta={"csrf": False})
        made.validate()
        return made


@pytest.mark.parametrize(
    ("days", "months", "field", "message"),
    [
        ("0", "3", "ack_days", "Enter a whole number of days from 1 to 90."),
        ("91", "3", "ack_days", "Enter a whole number of days from 1 to 90."),
        ("two weeks", "3", "ack_days", "Enter a whole number of days from 1 to 90."),
        ("14", "", "response_months", "Enter a whole number of months from 1 to 12."),
        ("14", "13", "response_months", "Enter a whole number of months from 1 to 12."),
        ("14", "-1", "response_months", "Enter a whole number of months from 1 to 12."),
    ],
)
def test_limits_outside_their_range_are_refused(app, days, months, field, message):
    made = ladder_form(app, ack_days=days, response_months=months)

    assert made.errors == {field: [message]}


def test_limits_within_their_range(app):
    made = ladder_form(app, ack_days=" 21 ", response_months="6")

    assert made.errors == {}
    assert made.limits == (21, 6)


def test_the_operator_sets_a_missions_limits(app, new_client, mission, make_staff):
    browser = new_client()
    page = login_staff(browser, make_staff(Role.ADMIN))
    assert f'id="ladder-{mission.id}-ack_days"' in page.get_data(as_text=True)

    refused = browser.post(
        f"/admin/missions/{mission.id}/ladder",
        data={
            f"ladder-{mission.id}-csrf_token": csrf_from(page),
            f"ladder-{mission.id}-ack_days": "120",
            f"ladder-{mission.id}-response_months": "4",
        },
        base_url=BASE_URL,
    )
    saved = browser.post(
        f"/admin/missions/{mission.id}/ladder",
        data={
            f"ladder-{mission.id}-csrf_token": csrf_from(page),
            f"ladder-{mission.id}-ack_days": "21",
            f"ladder-{mission.id}-response_months": "4",
        },
        base_url=BASE_URL,
    )

    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "There is a problem" in text
    assert "Enter a whole number of days from 1 to 90." in text
    assert 'value="120"' in text
    assert saved.status_code == 303
    with app.app_context():
        stored = db.session.get(Mission, mission.id)
        assert (stored.ladder_ack_days, stored.ladder_response_months) == (21, 4)
