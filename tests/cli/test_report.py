"""`dissent report`: the periodic report as text or CSV, audited, and its errors in one line."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dissent.cli.report import _as_text
from dissent.extensions import db
from dissent.models import AuditEntry, Role, today
from dissent.services import accounts, audit
from tests.helpers.casework import file_and_escalate
from tests.helpers.cli import assert_one_line_error
from tests.helpers.instances import run_in


@pytest.fixture
def escalated(app, new_client, mission, make_staff):
    adviser = make_staff(Role.ADVISER)
    leader = make_staff(Role.LEADERSHIP)
    return file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])


def days() -> list[str]:
    return ["--start", (today() - timedelta(days=7)).isoformat(), "--end", today().isoformat()]


def entries(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry))


def last_entry(app) -> AuditEntry:
    with app.app_context():
        return db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))


def test_report_as_csv(app, escalated):
    result = run_in(app, "report", *days(), "--csv")

    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["section", "key", "value"]
    assert ["total", "observations", "< 5"] in rows
    assert ["by_category", "reporting_accuracy", "< 5"] in rows
    assert [f"escalation {escalated.label}", "state", "sent"] in rows
    assert ["ledger EUPOL Test Mission", "highest", "1"] in rows
    last = last_entry(app)
    assert (last.actor, last.action) == ("cli", audit.Action.REPORT)
    assert last.subject.startswith("csv all ")
    # The printed head is the entry that records this report.
    assert ["audit", "head_seq", str(last.seq)] in rows


def test_report_as_text_for_one_mission(app, escalated):
    result = run_in(app, "report", *days(), "--mission", "EUPOL")

    assert result.exit_code == 0, result.stderr
    assert re.search(r"^total\n  observations: < 5$", result.stdout, re.M)
    assert re.search(
        rf"^escalation {escalated.label}\n  mission: EUPOL Test Mission$", result.stdout, re.M
    )
    assert "  missing: none" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--start", "2026-13-01", "--end", "2026-12-31"],
            "error: --start: '2026-13-01' is not a date (YYYY-MM-DD)",
        ),
        (
            ["--start", "2026-02-01", "--end", "2026-01-01"],
            "error: the period ends before it starts",
        ),
        (["--start", "2020-01-01", "--end", "2026-01-01"], "error: a period is at most 1098 days"),
        (
            ["--start", "2026-01-01", "--end", "2026-02-01", "--mission", "nope"],
            "error: no mission 'nope'",
        ),
        (
            ["--start", "2026-01-01", "--end", "31/01/2026"],
            "error: --end: '31/01/2026' is not a date (YYYY-MM-DD)",
        ),
    ],
)
def test_report_errors_are_one_line(app, mission, args, message):
    before = entries(app)

    result = run_in(app, "report", *args)

    assert result.exit_code == 1
    assert assert_one_line_error(result) == message
    assert entries(app) == before


def test_one_mission_s_report_leaves_the_other_missions_out(app, escalated):
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eutm", name="EUTM Training Mission")

    one = run_in(app, "report", *days(), "--mission", " eutm ")
    every = run_in(app, "report", *days())

    assert one.exit_code == 0, one.stderr
    assert "ledger EUTM Training Mission" in one.stdout
    assert "EUPOL" not in one.stdout
    assert f"escalation {escalated.label}" not in one.stdout
    assert every.exit_code == 0, every.stderr
    assert "ledger EUTM Training Mission" in every.stdout
    assert "ledger EUPOL Test Mission" in every.stdout


def test_the_text_report_is_recorded_with_its_mission_and_period(app, mission):
    start, end = (today() - timedelta(days=30)).isoformat(), today().isoformat()

    result = run_in(app, "report", "--start", start, "--end", end, "--mission", "eupol")

    assert result.exit_code == 0, result.stderr
    last = last_entry(app)
    assert (last.actor, last.action) == ("cli", audit.Action.REPORT)
    assert last.subject == f"text eupol {start}/{end}"
    assert re.search(rf"^  head_seq: {last.seq}$", result.stdout, re.M)


def test_text_rows_are_grouped_under_one_heading_per_section():
    rows = [
        ("total", "observations", "< 5"),
        ("total", "closed", "0"),
        ("ledger A", "highest", "1"),
        ("total", "late", "0"),
    ]

    assert _as_text(rows) == (
        "total\n  observations: < 5\n  closed: 0\nledger A\n  highest: 1\ntotal\n  late: 0"
    )
    assert _as_text([]) == ""
