"""The adviser's forms (dissent.adviser.forms): the summary with its statement about the
official record."""

from __future__ import annotations

import pytest

from dissent.adviser.forms import SummaryForm, stated_record
from dissent.services.official_record import NO_CONTRADICTION, RecordClaim


def summary(app, **data) -> SummaryForm:
    """Return a validated summary form (``valid`` says the outcome)."""
    with app.test_request_context(method="POST", data={"summary": "A summary.", **data}):
        form = SummaryForm(meta={"csrf": False})
        form.leaders.choices = []
        form.valid = form.validate()
        form.errors_shown = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
    return form


def test_a_summary_that_contradicts_nothing_states_so(app):
    form = summary(app, record_title="left over", record_period="from before")
    assert form.valid
    assert stated_record(form) == NO_CONTRADICTION


def test_a_contradicted_report_is_named_with_its_period(app):
    form = summary(
        app, record_contradicts="y", record_title=" Q2 progress report ", record_period="Q2 2026"
    )
    assert form.valid
    assert stated_record(form) == RecordClaim(True, "Q2 progress report", "Q2 2026")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"record_period": "Q2 2026"},
            "record_title",
            "Name the report or figure this summary contradicts.",
        ),
        (
            {"record_title": "Q2 report"},
            "record_period",
            "Give the period the report or figure covers.",
        ),
        (
            {"record_title": "x" * 301, "record_period": "Q2"},
            "record_title",
            "At most 300 characters.",
        ),
    ],
)
def test_a_ticked_box_needs_the_report_and_its_period(app, data, field, message):
    form = summary(app, record_contradicts="y", **data)
    assert not form.valid
    assert form.errors_shown == {field: [message]}
