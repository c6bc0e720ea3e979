"""The periodic report: suppressed small counts, charts, escalations by ledger number, CSV."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

import dissent
from dissent.extensions import current_context, db
from dissent.models import (
    AuditEntry,
    Escalation,
    Mission,
    Observation,
    RecordDecision,
    ResponseKind,
    Role,
    StaffUser,
    today,
    utcnow,
)
from dissent.services import accounts, audit, conversation, leadership
from dissent.services.charts import STUB_WIDTH
from dissent.services.evaluator import public_key
from dissent.services.official_record import NO_CONTRADICTION as NONE
from dissent.services.official_record import Outcome
from dissent.services.report import (
    MAX_PERIOD_DAYS,
    Figure,
    build_report,
    last_full_quarter,
    report_rows,
    suppress_group,
    whole_months,
)
from tests.helpers.casework import file_and_escalate, find
from tests.helpers.official_record import CLAIM, REASON, REFERENCE, decide, let_pass, plan
from tests.helpers.pages import BASE_URL, bar_width, field_errors, input_value, text_of
from tests.helpers.source import file_observation, submit_observation
from tests.helpers.staff import login_staff

REPORT = "/leadership/report"
ACCURACY = "Reporting accuracy and pressure to misreport"
SAFETY = "Safety and security"


def period(days: int = 30) -> dict[str, str]:
    """A period ending today."""
    return {"start": (today() - timedelta(days=days)).isoformat(), "end": today().isoformat()}


def in_last_month(day: int = 10) -> date:
    """Return a day of the last month that has ended (counts cover ended months only)."""
    return (today().replace(day=1) - timedelta(days=1)).replace(day=day)


def last_month() -> dict[str, str]:
    """The period of the last month that has ended."""
    return {"start": in_last_month(1).isoformat(), "end": in_last_month(1).isoformat()}


def backdate(app, day: date | None = None) -> None:
    """Move every observation to ``day`` (by default in the last ended month), as if
    filed then."""
    with app.app_context(), db.unit():
        db.session.execute(update(Observation).values(received_on=day or in_last_month()))


def file(new_client, category: str, count: int) -> None:
    for n in range(count):
        submit_observation(
            new_client(), what=f"Observation {n} about {category}.", category=category
        )


def table_counts(page, caption: str) -> dict[str, str]:
    """Return label -> shown value of the table under a figure caption."""
    body = page.get_data(as_text=True)
    figure = re.search(rf"<figcaption>{caption}</figcaption>(.*?)</figure>", body, re.S)
    assert figure, caption
    rows = re.findall(r'<tr><td>(.*?)</td><td class="num">(.*?)</td></tr>', figure.group(1))
    return {html.unescape(k): html.unescape(v) for k, v in rows}


def svg_of(page, caption: str) -> str:
    body = page.get_data(as_text=True)
    return re.search(rf"<figcaption>{caption}</figcaption>\s*(<svg.*?</svg>)", body, re.S).group(1)


@pytest.fixture
def browser(new_client, leader):
    client = new_client()
    login_staff(client, leader)
    return client


# --- counts and their suppression ---------------------------------------------------------------


def test_counts_are_shown_and_small_ones_suppressed(app, new_client, adviser, leader, browser):
    file(new_client, "reporting_accuracy", 5)
    file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])  # the sixth
    file(new_client, "safety_security", 2)
    backdate(app)

    page = browser.get(REPORT, query_string=last_month(), base_url=BASE_URL)

    assert page.status_code == 200
    assert "Total: 8" in text_of(page)
    categories = table_counts(page, "By category")
    assert categories[SAFETY] == "< 5"
    # 8 - 6 would give the hidden 2 back, so the 6 is withheld too (secondary suppression).
    assert categories[ACCURACY] == "withheld"
    assert categories["Other"] == "0"
    assert table_counts(page, "By mission") == {"EUPOL Test Mission": "8"}
    states = table_counts(page, "By state today")
    assert states["Escalated"] == "< 5"
    assert states["Received"] == "withheld"
    # Hidden cells are drawn as the same fixed stub, never to scale.
    chart = svg_of(page, "By category")
    assert bar_width(chart, ACCURACY) == STUB_WIDTH
    assert bar_width(chart, SAFETY) == STUB_WIDTH
    assert f"{html.escape(SAFETY)}: &lt; 5" in chart
    assert ": 2" not in chart and ": 6" not in chart


def test_secondary_suppression_withholds_the_smallest_other_cell():
    cells = suppress_group({"a": 6, "b": 7, "c": 2, "d": 0})
    assert cells == {"a": "withheld", "b": "7", "c": "< 5", "d": "0"}
    # Two small cells that already hide at least five between them need no more.
    assert suppress_group({"a": 3, "b": 3, "c": 9}) == {"a": "< 5", "b": "< 5", "c": "9"}
    assert suppress_group({"a": 9, "b": 0}) == {"a": "9", "b": "0"}


def test_a_figure_adds_only_shown_cells_and_says_when_it_is_a_lower_bound():
    six, small, withheld, zero = (
        Figure.of_cell(6, "6"),
        Figure.of_count(2),
        Figure.of_cell(7, "withheld"),
        Figure.of_count(0),
    )

    assert [f.shown() for f in (six, small, withheld, zero)] == ["6", "< 5", "withheld", "0"]
    assert (six + small).shown() == ">= 6"  # never "8": the 2 is counted nowhere
    assert (six + withheld + zero).shown() == ">= 6"
    assert (small + zero).shown() == "< 5"
    assert (small + small).shown() == "withheld"  # two hidden cells: no bound to give
    assert (six + Figure.of_count(5)).shown() == "11"


def test_counts_cover_whole_months_that_have_ended(app, new_client, adviser, browser):
    file(new_client, "other", 6)  # this month: not counted until the month has ended
    asked = {"start": in_last_month(20).isoformat(), "end": today().isoformat()}

    page = browser.get(REPORT, query_string=asked, base_url=BASE_URL)

    assert "Total: 0" in text_of(page)
    ended = (today().replace(day=1) - timedelta(days=1)).strftime("%B %-d, %Y")
    assert f"Counts cover the months that have ended, up to {ended}" in text_of(page)
    first = in_last_month(1).strftime("%B %-d, %Y")
    assert f"Period: {first} to " in text_of(page)

    this_month = {"start": today().replace(day=1).isoformat(), "end": today().isoformat()}
    page = browser.get(REPORT, query_string=this_month, base_url=BASE_URL)
    assert "No month of this period has ended yet" in text_of(page)

    backdate(app)
    page = browser.get(REPORT, query_string=asked, base_url=BASE_URL)
    assert "Total: 6" in text_of(page)


def test_durations_need_five_cases_and_overdue_is_counted(app, new_client, adviser, browser):
    file(new_client, "other", 6)
    backdate(app)
    with app.app_context(), db.unit():
        observations = db.session.scalars(select(Observation).order_by(Observation.id)).all()
        staff = db.session.get(StaffUser, adviser.id)
        for observation in observations[:5]:  # the sixth stays unacknowledged, overdue
            conversation.acknowledge(
                db.session, current_context(), staff=staff, observation=observation
            )
        for observation, days in zip(observations[:5], (2, 2, 4, 6, 10), strict=True):
            observation.acknowledged_on = in_last_month() + timedelta(days=days)

    page = browser.get(REPORT, query_string=last_month(), base_url=BASE_URL)

    handling = text_of(page).split("Handling", 1)[1]
    assert "Days from receipt to acknowledgement 4 8.4" in handling
    assert "Days from receipt to feedback too few to show" in handling
    assert "Overdue for acknowledgement < 5" in handling


def test_the_report_page_has_no_style_attributes_or_scripts(app, new_client, adviser, browser):
    file(new_client, "other", 1)

    page = browser.get(REPORT, query_string=period(), base_url=BASE_URL)

    body = page.get_data(as_text=True)
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert " style=" not in body
    assert "<style" not in body
    assert "<script" not in body
    assert body.count("<svg ") == 3


def test_the_print_stylesheet_hides_navigation_and_forms(browser, mission):
    page = browser.get(REPORT, base_url=BASE_URL)
    css = (Path(dissent.__file__).parent / "static" / "style.css").read_text()

    assert re.search(r'<body class="[^"]*\breport\b', page.get_data(as_text=True))
    printed = css.split("/* leadership and report */", 1)[1].split("@media print", 1)[1]
    assert "body.report header.site" in printed
    assert "body.report form" in printed
    assert "display: none" in printed


# --- escalations and the ledger ---------------------------------------------------------------


def test_escalations_are_listed_by_label_and_the_ledger_is_checked(
    app, new_client, adviser, leader, browser
):
    first = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    second = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    with app.app_context(), db.unit():
        staff = db.session.get(StaffUser, leader.id)
        leadership.respond(
            db.session,
            current_context(),
            staff=staff,
            escalation=find(second),
            kind=ResponseKind.ACTION_PLANNED,
            text="Retraining in January.",
            planned_for=date(2099, 1, 15),
        )

    page = browser.get(REPORT, query_string=period(), base_url=BASE_URL)

    section = text_of(page).split("Escalations sent in this period", 1)[1]
    assert f"{first.label} EUPOL Test Mission" in section
    assert "Sent, not yet acknowledged" in section
    assert f"{second.label} EUPOL Test Mission" in section
    assert "Responded Action planned (by Jan 15, 2099)" in section
    assert "EUPOL Test Mission: numbers 1 to 2, none missing." in text_of(page)

    with app.app_context():
        db.session.execute(delete(Escalation).where(Escalation.ledger_number == first.number))
        db.session.commit()
    page = browser.get(REPORT, query_string=period(), base_url=BASE_URL)

    assert first.label not in text_of(page)
    assert "EUPOL Test Mission: number 1 is MISSING (of 1 to 2)." in text_of(page)
    assert re.search(r'<li class="ledger-bad" role="alert">', page.get_data(as_text=True))

    # Deleting the newest one leaves no gap among the rows; the audit ledger still knows it.
    with app.app_context():
        db.session.execute(delete(Escalation).where(Escalation.ledger_number == second.number))
        db.session.commit()
    page = browser.get(REPORT, query_string=period(), base_url=BASE_URL)
    assert "EUPOL Test Mission: numbers 1, 2 are MISSING (of 1 to 2)." in text_of(page)
    assert second.label not in text_of(page).split("Escalations sent in this period", 1)[1]


def current_context_settings(app):
    with app.app_context():
        return current_context().settings


def official_record_rows(page) -> dict[str, tuple[str, str]]:
    """Return outcome -> (count, ledger numbers) of the page's "Official record" table."""
    body = page.get_data(as_text=True)
    table = re.search(r'<table class="list official-record">(.*?)</table>', body, re.S).group(1)
    rows = re.findall(
        r'<th scope="row">(.*?)</th><td class="num">(\d+)</td>\s*<td>(.*?)</td>', table, re.S
    )
    return {html.unescape(k): (n, html.unescape(v)) for k, n, v in rows}


def test_the_official_record_section_counts_each_outcome_by_ledger_number(
    app, new_client, adviser, leader, browser
):
    sent = [
        file_and_escalate(
            app, new_client, adviser=adviser, leaders=[leader], record=CLAIM if n else NONE
        )
        for n in range(6)
    ]
    with app.app_context():
        ids = [find(s).id for s in sent]
    decide(app, leader, ids[1], RecordDecision.CORRECTED, note=REFERENCE)
    decide(app, leader, ids[2], RecordDecision.CORRECTED, note=REFERENCE)
    plan(app, leader, ids[3])
    plan(app, leader, ids[4])
    let_pass(app, ids[4])  # a planned correction past its date
    # ids[5]: contradicts, no response yet; ids[0] contradicts nothing.

    page = browser.get(REPORT, query_string=period(), base_url=BASE_URL)

    assert official_record_rows(page) == {
        "Awaiting a decision": ("1", "EUPOL-0006"),
        "Corrected": ("2", "EUPOL-0002, EUPOL-0003"),
        "Correction planned": ("1", "EUPOL-0004"),
        "Correction overdue": ("1", "EUPOL-0005"),
        "Not corrected": ("0", "—"),
    }
    assert re.search(
        r'<tr class="outcome-correction_overdue overdue">', page.get_data(as_text=True)
    )
    listed = text_of(page).split("Escalations sent in this period", 1)[1]
    due = (today() - timedelta(days=1)).strftime("%b %-d, %Y")
    assert f"Correction overdue (by {due})" in listed

    decide(app, leader, ids[4], RecordDecision.NOT_CORRECTED, note=REASON)
    with app.app_context():
        built = build_report(
            db.session,
            missions=list(db.session.scalars(select(Mission))),
            start=today(),
            end=today(),
        )
    assert built.official_record() == {
        Outcome.AWAITING_DECISION: ["EUPOL-0006"],
        Outcome.CORRECTED: ["EUPOL-0002", "EUPOL-0003"],
        Outcome.CORRECTION_PLANNED: ["EUPOL-0004"],
        Outcome.CORRECTION_OVERDUE: [],
        Outcome.NOT_CORRECTED: ["EUPOL-0005"],
    }
    rows = report_rows(built, generated_at=utcnow())
    assert ("official_record", "not_corrected", "1") in rows
    assert ("official_record", "corrected ledger_numbers", "EUPOL-0002 EUPOL-0003") in rows
    assert ("escalation EUPOL-0001", "official_record", "") in rows
    assert ("ledger EUPOL Test Mission", "accounted", "1 2 3 4 5 6") in rows


def test_the_report_page_shows_the_report_key(app, browser, mission):
    page = browser.get(REPORT, query_string=period(), base_url=BASE_URL)

    seed = current_context_settings(app).report_key
    assert public_key(seed) in text_of(page)
    assert "Download the evaluator's copy (signed, zip)" in text_of(page)


def test_the_report_ends_with_the_audit_head_including_its_own_entry(app, browser, mission):
    page = browser.get(REPORT, query_string=period(), base_url=BASE_URL)

    with app.app_context():
        last = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
    assert last.action == audit.Action.REPORT
    start, end = period().values()
    assert last.subject == f"page all {start}/{end}"
    assert f"ended at entry {last.seq} with hash:" in text_of(page)
    assert last.entry_hash.hex() in page.get_data(as_text=True)


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_export(app, new_client, adviser, leader, browser):
    file(new_client, "reporting_accuracy", 6)
    sent = file_and_escalate(
        app, new_client, adviser=adviser, leaders=[leader], category="safety_security"
    )
    backdate(app)  # the observations; the escalation was sent today
    asked = {"start": in_last_month(15).isoformat(), "end": today().isoformat()}

    response = browser.get(f"{REPORT}.csv", query_string=asked, base_url=BASE_URL)

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    first, last = whole_months(in_last_month(15), today())  # the report covers whole months
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="dissent-report-{first}-{last}.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["section", "key", "value"]
    assert all(len(row) == 3 for row in rows)
    assert ["total", "observations", "7"] in rows
    assert ["by_category", "reporting_accuracy", "withheld"] in rows
    assert ["by_category", "safety_security", "< 5"] in rows
    assert ["by_category", "other", "0"] in rows
    assert ["by_mission", "EUPOL Test Mission", "7"] in rows
    assert [f"escalation {sent.label}", "state", "sent"] in rows
    assert ["ledger EUPOL Test Mission", "missing", "none"] in rows
    assert ["days_to_acknowledge", "median", "too few"] in rows
    # Counted: the months that have ended; the escalation of this month is listed.
    assert ["period", "counted_until", in_last_month(1).replace(day=1).isoformat()] not in rows
    ended = today().replace(day=1) - timedelta(days=1)
    assert ["period", "counted_until", ended.isoformat()] in rows
    start, end = asked.values()
    with app.app_context():
        last = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
    assert (last.action, last.subject) == (audit.Action.REPORT, f"csv all {start}/{end}")
    assert ["audit", "head_seq", str(last.seq)] in rows
    assert ["audit", "head_hash", last.entry_hash.hex()] in rows


def test_a_spreadsheet_formula_in_a_mission_name_is_defused(app, browser, mission):
    with app.app_context():
        db.session.execute(update(type(mission)).values(name="=HYPERLINK(1)"))
        db.session.commit()

    response = browser.get(f"{REPORT}.csv", query_string=period(), base_url=BASE_URL)

    assert "'=HYPERLINK(1)" in response.get_data(as_text=True)
    assert "\n=HYPERLINK" not in response.get_data(as_text=True)


# --- the period -----------------------------------------------------------------------------


def test_the_default_period_is_the_last_full_quarter(app, browser, mission):
    page = browser.get(REPORT, base_url=BASE_URL)

    start, end = last_full_quarter(today())
    assert page.status_code == 200
    assert input_value(page, "start") == start.isoformat()
    assert input_value(page, "end") == end.isoformat()
    assert "none missing" in text_of(page) or "no escalations yet" in text_of(page)


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        (date(2026, 11, 27), (date(2026, 7, 1), date(2026, 9, 30))),
        (date(2026, 1, 1), (date(2025, 10, 1), date(2025, 12, 31))),
        (date(2026, 3, 31), (date(2025, 10, 1), date(2025, 12, 31))),
        (date(2026, 4, 1), (date(2026, 1, 1), date(2026, 3, 31))),
    ],
)
def test_last_full_quarter(on, expected):
    assert last_full_quarter(on) == expected


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            {"start": "2026-05-01", "end": "2026-04-01"},
            "end",
            "The last day is before the first day.",
        ),
        (
            {"start": "2020-01-01", "end": "2026-01-01"},
            "end",
            f"A report covers at most {MAX_PERIOD_DAYS} days.",
        ),
        (
            {"start": "yesterday", "end": "2026-04-01"},
            "start",
            "Enter the first day as YYYY-MM-DD.",
        ),
        ({"start": "2026-01-01", "end": "2026-13-45"}, "end", "Enter the last day as YYYY-MM-DD."),
        ({"start": "", "end": "2026-04-01"}, "start", "Enter the first day as YYYY-MM-DD."),
        ({"start": "9" * 3000, "end": "2026-04-01"}, "start", "Enter the first day as YYYY-MM-DD."),
        (
            {"start": "2026-01-01", "end": "2026-02-01", "mission": "eubam"},
            "mission",
            "Choose one of your missions.",
        ),
    ],
)
@pytest.mark.parametrize("path", [REPORT, f"{REPORT}.csv"])
def test_a_bad_period_gets_a_message_not_an_error(
    app, browser, mission, query, field, message, path
):
    before = count_reports(app)

    page = browser.get(path, query_string=query, base_url=BASE_URL)

    assert page.status_code == 400
    assert page.mimetype == "text/html"
    assert field_errors(page, field) == [message]
    if field != "mission":
        assert input_value(page, field) == query[field]
    assert "Observations received" not in text_of(page)
    assert count_reports(app) == before  # no report was made, so none is recorded


def count_reports(app) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == audit.Action.REPORT)
        )


def test_a_leader_sees_only_their_own_missions(app, new_client, make_staff, mission, browser):
    with app.app_context(), db.unit():
        other = accounts.create_mission(db.session, slug="eubam", name="EUBAM Test Mission")
    make_staff(Role.ADVISER, missions=["eupol", "eubam"])
    file_observation(new_client(), what="At the border post.", mission_id=other.id)

    report = browser.get(REPORT, query_string=period(), base_url=BASE_URL)

    assert "EUBAM" not in text_of(report)
    assert "Total: 0" in text_of(report)
    assert table_counts(report, "By mission") == {"EUPOL Test Mission": "0"}
