"""``dissent audit verify`` and ``dissent report`` against a test instance."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from dissent.cli import cli
from dissent.extensions import db
from dissent.models import AuditEntry, Role, today
from dissent.services import audit
from tests.helpers.casework import file_and_escalate


def run(app, *args: str):
    """Run ``dissent ARGS`` against the test application."""
    return app.test_cli_runner().invoke(cli, list(args))


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def entries(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry))


@pytest.fixture
def ledger(app, mission, make_staff):
    """An audit ledger with a few entries (mission and accounts created)."""
    make_staff(Role.ADVISER)
    make_staff(Role.LEADERSHIP)
    with app.app_context():
        for n in range(3):
            audit.record(db.session, actor="tester", action=audit.Action.VIEW, subject=f"R{n}")
            db.session.commit()
    return entries(app)


# --- audit verify -------------------------------------------------------------------------------


def test_audit_verify_accepts_an_intact_ledger(app, ledger):
    result = run(app, "audit", "verify")

    assert result.exit_code == 0, result.stderr
    with app.app_context():
        head = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
    assert result.stdout == f"ok: {ledger} entries, head {head.seq} {head.entry_hash.hex()}\n"


def test_audit_verify_names_an_altered_entry(app, ledger):
    with app.app_context():
        db.session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(action="login"))
        db.session.commit()

    result = run(app, "audit", "verify")

    line = one_error_line(result)
    assert line.startswith("error: audit ledger broken at entry 3: entry 3 was altered")


def test_audit_verify_names_a_removed_entry(app, ledger):
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
        db.session.commit()

    result = run(app, "audit", "verify")

    assert one_error_line(result).startswith(
        "error: audit ledger broken at entry 2: entry 2 is missing"
    )


def test_audit_verify_notices_the_last_entry_removed(app, ledger):
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.seq == ledger))
        db.session.commit()

    result = run(app, "audit", "verify")

    assert f"broken at entry {ledger}:" in one_error_line(result)


# --- report -------------------------------------------------------------------------------------


@pytest.fixture
def escalated(app, new_client, mission, make_staff):
    adviser = make_staff(Role.ADVISER)
    leader = make_staff(Role.LEADERSHIP)
    return file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])


def days() -> list[str]:
    return ["--start", (today() - timedelta(days=7)).isoformat(), "--end", today().isoformat()]


def test_report_as_csv(app, escalated):
    result = run(app, "report", *days(), "--csv")

    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["section", "key", "value"]
    assert ["total", "observations", "< 5"] in rows
    assert ["by_category", "reporting_accuracy", "< 5"] in rows
    assert [f"escalation {escalated.label}", "state", "sent"] in rows
    assert ["ledger EUPOL Test Mission", "highest", "1"] in rows
    with app.app_context():
        last = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
    assert (last.actor, last.action) == ("cli", audit.Action.REPORT)
    assert last.subject.startswith("csv all ")
    # The printed head is the entry that records this report.
    assert ["audit", "head_seq", str(last.seq)] in rows


def test_report_as_text_for_one_mission(app, escalated):
    result = run(app, "report", *days(), "--mission", "EUPOL")

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
    ],
)
def test_report_errors_are_one_line(app, mission, args, message):
    before = entries(app)

    result = run(app, "report", *args)

    assert one_error_line(result) == message
    assert entries(app) == before
