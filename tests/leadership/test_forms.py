"""Leadership's forms (dissent.leadership.forms): the response and the report period."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from werkzeug.datastructures import MultiDict

from dissent.leadership.forms import ReportForm, ResponseForm
from dissent.services.leadership import RESPONSE_MAX
from dissent.services.report import MAX_PERIOD_DAYS
from dissent.web import response_form

TODAY = date(2025, 6, 15)
MISSIONS = [("eupol", "EUPOL"), ("eucap", "EUCAP")]


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    # The response form is shared with oversight and lives in web/response_form.py.
    monkeypatch.setattr(response_form, "today", lambda: TODAY)


def response(app, **data) -> ResponseForm:
    """Return a validated response form (its ``valid`` attribute says the outcome)."""
    with app.test_request_context(method="POST", data=data):
        form = ResponseForm(meta={"csrf": False})
        form.valid = form.validate()
        form.errors_shown = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
    return form


def report(app, **args) -> ReportForm:
    with app.test_request_context():
        form = ReportForm(MultiDict(args), missions=MISSIONS)
        form.valid = form.validate()
        form.errors_shown = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
    return form


# --- the response ---------------------------------------------------------------------------


def test_an_action_planned_for_today_is_accepted_and_gives_its_day(app):
    form = response(app, kind="action_planned", planned_for=f" {TODAY} ", text="Audit.")

    assert form.valid, form.errors_shown
    assert form.planned_day == TODAY


def test_an_action_planned_for_yesterday_is_refused(app):
    form = response(
        app, kind="action_planned", planned_for=str(TODAY - timedelta(days=1)), text="Audit."
    )

    assert not form.valid
    assert form.errors_shown == {"planned_for": ["This date is in the past: was the action taken?"]}


@pytest.mark.parametrize("kind", ["action_taken", "declined"])
def test_a_date_given_with_another_decision_is_ignored(app, kind):
    form = response(app, kind=kind, planned_for="not a date", text="Done, or why not.")

    assert form.valid, form.errors_shown
    assert form.planned_day is None


def test_a_text_of_only_spaces_is_no_description(app):
    form = response(app, kind="action_taken", text=" \r\n\t ")

    assert form.errors_shown == {"text": ["Describe the action."]}


def test_a_response_text_counts_line_breaks_once_and_stops_at_its_limit(app):
    fits = "x" * (RESPONSE_MAX - 1) + "\r\n"
    over = "x" * (RESPONSE_MAX + 1)

    accepted = response(app, kind="action_taken", text=fits)
    refused = response(app, kind="action_taken", text=over)

    assert accepted.valid, accepted.errors_shown
    assert accepted.text.data.endswith("x\n")
    assert refused.errors_shown == {"text": [f"At most {RESPONSE_MAX} characters."]}


def test_a_decision_that_is_not_offered_is_refused(app):
    form = response(app, kind="ignored", text="Nothing.")

    assert not form.valid
    assert list(form.errors_shown) == ["kind"]


# --- the report period ----------------------------------------------------------------------


def test_a_period_of_one_of_the_leaders_missions_gives_its_days(app):
    form = report(app, start="2025-01-01", end="2025-03-31", mission="eucap")

    assert form.valid, form.errors_shown
    assert form.period == (date(2025, 1, 1), date(2025, 3, 31))


def test_all_missions_is_offered_first_and_a_mission_of_someone_else_is_refused(app):
    everything = report(app, start="2025-01-01", end="2025-01-01", mission="")
    foreign = report(app, start="2025-01-01", end="2025-01-01", mission="eutm")

    assert everything.valid, everything.errors_shown
    assert [value for value, _ in everything.mission.choices] == ["", "eupol", "eucap"]
    assert foreign.errors_shown == {"mission": ["Choose one of your missions."]}


@pytest.mark.parametrize(
    ("start", "end", "errors"),
    [
        ("01-01-2025", "2025-03-31", {"start": ["Enter the first day as YYYY-MM-DD."]}),
        ("2025-01-01", "2025-02-30", {"end": ["Enter the last day as YYYY-MM-DD."]}),
        (
            "",
            "",
            {
                "start": ["Enter the first day as YYYY-MM-DD."],
                "end": ["Enter the last day as YYYY-MM-DD."],
            },
        ),
        ("2025-03-31", "2025-01-01", {"end": ["The last day is before the first day."]}),
    ],
)
def test_a_period_that_is_no_period_is_refused_on_the_right_field(app, start, end, errors):
    form = report(app, start=start, end=end, mission="")

    assert form.errors_shown == errors


def test_the_period_is_read_only_from_a_form_with_two_days(app):
    form = report(app, start="2025-01-01", end="next week", mission="")

    with pytest.raises(ValueError, match="validated form"):
        _ = form.period


def test_a_period_may_cover_the_longest_span_and_not_a_day_more(app):
    start = date(2022, 1, 1)
    longest = report(app, start=str(start), end=str(start + timedelta(days=MAX_PERIOD_DAYS)))
    longer = report(app, start=str(start), end=str(start + timedelta(days=MAX_PERIOD_DAYS + 1)))

    assert longest.valid, longest.errors_shown
    assert longer.errors_shown == {"end": [f"A report covers at most {MAX_PERIOD_DAYS} days."]}


# --- the decision about the official record ----------------------------------------------------


def decision(app, *, required: bool = True, **data) -> ResponseForm:
    """Return a validated response form for an escalation that contradicts the record."""
    with app.test_request_context(
        method="POST", data={"kind": "action_taken", "text": "x", **data}
    ):
        form = ResponseForm(meta={"csrf": False})
        form.record_required = required
        form.valid = form.validate()
        form.errors_shown = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
    return form


def test_a_contradicted_record_needs_a_decision(app):
    form = decision(app)
    assert not form.valid
    assert form.errors_shown == {
        "record_decision": [
            "This escalation contradicts an official report or figure: say whether it was "
            "corrected, a correction is planned, or it is not corrected."
        ]
    }


def test_an_escalation_that_contradicts_nothing_needs_no_decision_and_keeps_none(app):
    form = decision(app, required=False, record_decision="corrected", record_note="Ref 1")
    assert form.valid
    assert form.record == (None, "Ref 1", None)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"record_decision": "corrected", "record_note": "Erratum 2"}, ("corrected", None)),
        (
            {"record_decision": "not_corrected", "record_note": "Right as it was."},
            ("not_corrected", None),
        ),
        (
            {"record_decision": "correction_planned", "correction_due": TODAY.isoformat()},
            ("correction_planned", TODAY),
        ),
    ],
)
def test_each_decision_with_what_it_needs_is_valid(app, data, expected):
    form = decision(app, **data)
    assert form.valid, form.errors_shown
    chosen, note, due = form.record
    assert (chosen.value, due) == expected
    assert note == data.get("record_note", "")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"record_decision": "corrected"},
            "record_note",
            "Give the reference of the correction, or the reason it is not corrected.",
        ),
        (
            {"record_decision": "correction_planned", "correction_due": ""},
            "correction_due",
            "Give the date by which it will be corrected.",
        ),
        (
            {
                "record_decision": "correction_planned",
                "correction_due": (TODAY - timedelta(days=1)).isoformat(),
            },
            "correction_due",
            "This date is in the past: was the report or figure corrected?",
        ),
        (
            {"record_decision": "rewritten"},
            "record_decision",
            "Choose one of the options in the list.",
        ),
        (
            {"record_decision": "corrected", "record_note": "x" * 2001},
            "record_note",
            "At most 2000 characters.",
        ),
    ],
)
def test_each_decision_asks_for_its_own_part(app, data, field, message):
    form = decision(app, **data)
    assert not form.valid
    assert form.errors_shown[field] == [message]
