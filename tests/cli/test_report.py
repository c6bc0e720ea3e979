"""`dissent report`: the periodic report as text or CSV, audited, and its errors in one line."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from dissent.cli.report import _as_text
from dissent.crypto import SigningKey
from dissent.extensions import current_context, db
from dissent.models import AuditEntry, Observation, Role, today
from dissent.services import accounts, audit
from dissent.services.evaluator import public_key
from tests.helpers.casework import file_and_escalate
from tests.helpers.cli import assert_one_line_error, run
from tests.helpers.instances import PUBLIC_URL, run_in


def last_month_start() -> date:
    """The first day of the last month that has ended."""
    return (today().replace(day=1) - timedelta(days=1)).replace(day=1)


@pytest.fixture
def escalated(app, new_client, mission, make_staff):
    """An observation filed last month (counts cover ended months), escalated today."""
    adviser = make_staff(Role.ADVISER)
    leader = make_staff(Role.LEADERSHIP)
    sent = file_and_escalate(app, new_client, adviser=adviser, leaders=[leader])
    with app.app_context(), db.unit():
        db.session.execute(update(Observation).values(received_on=last_month_start()))
    return sent


def days() -> list[str]:
    """From last month (counted) to today (its escalations listed)."""
    return ["--start", last_month_start().isoformat(), "--end", today().isoformat()]


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


# --- the evaluator's copy -------------------------------------------------------------------------


def report_key(app) -> str:
    """The instance's public report key, as init printed it and the report page shows it."""
    with app.app_context():
        return public_key(current_context().settings.report_key)


@pytest.fixture
def evaluator_copy(app, escalated, tmp_path) -> Path:
    """The evaluator's copy of the period, written by `dissent report --evaluator`."""
    folder = tmp_path / "for-the-inspectorate"
    result = run_in(app, "report", *days(), "--evaluator", "-o", str(folder))
    assert result.exit_code == 0, result.stderr
    assert f"Evaluator's copy written to {folder}" in result.stdout
    assert f"dissent report verify {folder} --key {report_key(app)}" in result.stdout
    return folder


def test_an_evaluator_s_copy_verifies_on_a_machine_without_the_instance(app, evaluator_copy):
    # `run` has no instance and no database: only the folder and the key.
    result = run("report", "verify", str(evaluator_copy), "--key", report_key(app))

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"ok: {evaluator_copy}: ")
    assert "1 escalations accounted for" in result.stdout
    assert sorted(p.name for p in evaluator_copy.iterdir()) == [
        "README.txt",
        "report.csv",
        "report.json",
        "report.sig",
    ]
    last = last_entry(app)
    assert last.subject.startswith("evaluator all ")
    document = json.loads((evaluator_copy / "report.json").read_text())
    assert document["audit"] == {"head_seq": last.seq, "head_hash": last.entry_hash.hex()}


def failing_lines(result) -> list[str]:
    assert result.exit_code == 1
    *lines, summary = result.stderr.splitlines()
    assert summary.startswith("error: does not verify: ")
    return lines


def test_one_edited_figure_fails_with_a_line_naming_it(app, evaluator_copy):
    table = (evaluator_copy / "report.csv").read_bytes()
    (evaluator_copy / "report.csv").write_bytes(
        table.replace(b"total,observations,< 5", b"total,observations,12")
    )

    result = run("report", "verify", str(evaluator_copy), "--key", report_key(app))

    assert failing_lines(result) == [
        f"{evaluator_copy}: report.csv: total / observations reads '12', report.json says '< 5'"
    ]


def test_a_removed_ledger_number_fails_with_a_line_naming_it(app, evaluator_copy):
    path = evaluator_copy / "report.json"
    document = json.loads(path.read_text())
    document["escalations"] = []
    path.write_text(json.dumps(document, indent=2) + "\n")

    result = run("report", "verify", str(evaluator_copy), "--key", report_key(app))

    lines = failing_lines(result)
    assert (
        f"{evaluator_copy}: ledger eupol: number 1 is accounted for, but no escalation lists it "
        "with a state"
    ) in lines
    assert any("signature: report.json is not what the report key signed" in x for x in lines)


def test_another_key_fails_with_a_line_saying_so(app, evaluator_copy):
    other = SigningKey.generate().verify_key.to_text()

    result = run("report", "verify", str(evaluator_copy), "--key", other)

    assert failing_lines(result) == [
        f"{evaluator_copy}: signature: made with another key (report.sig names "
        f"{report_key(app)}; the key given is {other})"
    ]


def test_a_series_of_overlapping_reports_is_checked_together(app, evaluator_copy, tmp_path):
    quarter = tmp_path / "quarter"
    start = (last_month_start() - timedelta(days=40)).isoformat()
    made = run_in(
        app,
        "report",
        "--start",
        start,
        "--end",
        today().isoformat(),
        "--evaluator",
        "-o",
        str(quarter),
    )
    assert made.exit_code == 0, made.stderr

    result = run("report", "verify", str(evaluator_copy), str(quarter), "--key", report_key(app))

    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--evaluator"], "error: --evaluator and -o FOLDER go together"),
        ([], "error: give the period: --start YYYY-MM-DD --end YYYY-MM-DD"),
    ],
)
def test_evaluator_errors_are_one_line(app, mission, args, message):
    period = days() if args else []
    result = run_in(app, "report", *period, *args)

    assert assert_one_line_error(result) == message


def test_an_evaluator_s_copy_never_overwrites_a_folder(app, mission, tmp_path):
    (tmp_path / "kept.txt").write_text("keep")

    result = run_in(app, "report", *days(), "--evaluator", "-o", str(tmp_path))

    assert assert_one_line_error(result) == f"error: {tmp_path} exists and is not an empty folder"
    assert (tmp_path / "kept.txt").read_text() == "keep"


def test_verify_refuses_a_key_that_is_no_key(tmp_path):
    result = run("report", "verify", str(tmp_path), "--key", "not-a-key")

    assert assert_one_line_error(result) == (
        "error: --key: not an Ed25519 public key (43 characters of base64)"
    )


def test_init_prints_the_report_key_and_an_older_instance_can_add_one(tmp_path):
    instance = tmp_path / "instance"
    created = run("init", "--instance", str(instance), "--public-url", PUBLIC_URL)
    printed = re.search(r"^Report key \(public; [^)]*\): (\S+)$", created.stdout, re.M).group(1)
    shown = run("report", "key", instance=instance)
    assert shown.stdout == f"Report key (public): {printed}\n"

    # An instance made before there was a report key.
    settings = json.loads((instance / "dissent.json").read_text())
    del settings["report_key"]
    (instance / "dissent.json").write_text(json.dumps(settings))
    missing = run("report", "key", instance=instance)
    assert "dissent report key --create" in assert_one_line_error(missing)

    added = run("report", "key", "--create", instance=instance)

    assert added.exit_code == 0, added.stderr
    new = re.search(r"^Report key \(public\): (\S+)$", added.stdout, re.M).group(1)
    assert new != printed
    assert run("report", "key", instance=instance).stdout == f"Report key (public): {new}\n"
    assert (instance / "dissent.json").stat().st_mode & 0o777 == 0o600
    assert (
        json.loads((instance / "dissent.json").read_text())["secret_key"] == settings["secret_key"]
    )
    again = run("report", "key", "--create", instance=instance)
    assert assert_one_line_error(again) == (f"error: this instance has a report key already: {new}")
