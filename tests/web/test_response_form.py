"""The response form shared by leadership and oversight."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from dissent.web.response_form import ResponseForm


def form(app, **data) -> ResponseForm:
    with app.test_request_context(method="POST"):
        made = ResponseForm(MultiDict(data), meta={"csrf": False})
        made.validate()
        return made


def test_a_declined_response_needs_its_reason(app):
    made = form(app, kind="declined", text="  ")

    assert made.text.errors == ["Give the reason for declining."]


def test_a_planned_action_gives_its_date(app):
    made = form(app, kind="action_planned", planned_for="2999-03-01", text="An audit.")

    assert made.errors == {}
    assert made.planned_day.isoformat() == "2999-03-01"
