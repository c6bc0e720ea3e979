"""The evaluator's copy: signed with the report key, checked offline, figure by figure."""

from __future__ import annotations

import base64
import copy
import io
import json
import os
import zipfile
from datetime import timedelta

import pytest

from dissent.crypto import SigningKey
from dissent.extensions import db
from dissent.models import Mission, RecordDecision, today, utcnow
from dissent.services import accounts
from dissent.services.evaluator import (
    CSV_FILE,
    JSON_FILE,
    REPORT_PURPOSE,
    SIGNATURE_FILE,
    consistency_problems,
    copy_zip,
    evaluator_copy,
    public_key,
    verify_copy,
    verify_series,
    write_copy,
)
from dissent.services.official_record import NO_CONTRADICTION
from dissent.services.report import build_report
from tests.helpers.official_record import CLAIM, REASON, REFERENCE, decide, let_pass, plan
from tests.helpers.services import acknowledge, escalate, file_case

SEED = bytes(range(32))
KEY = SigningKey(SEED).verify_key


@pytest.fixture
def escalations(app, mission, adviser, leader) -> list[int]:
    """Five escalations sent today: four contradict the record, each with another outcome."""
    sent = []
    for n in range(5):
        case = file_case(app, mission.id)
        acknowledge(app, case, adviser)
        sent.append(
            escalate(
                app,
                case,
                adviser=adviser,
                leaders=[leader],
                summary=f"Point {n}.",
                record=CLAIM if n else NO_CONTRADICTION,
            )
        )
    decide(app, leader, sent[1], RecordDecision.CORRECTED, note=REFERENCE)
    plan(app, leader, sent[2])
    plan(app, leader, sent[3])
    let_pass(app, sent[3])
    decide(app, leader, sent[4], RecordDecision.NOT_CORRECTED, note=REASON)
    return sent


def files_of(app, *, start=None, end=None, seed: bytes = SEED) -> dict[str, bytes]:
    """The evaluator's copy of the report for this month (escalations are listed)."""
    with app.app_context():
        missions = list(db.session.query(Mission))
        report = build_report(
            db.session,
            missions=missions,
            start=start or today().replace(day=1),
            end=end or today(),
        )
        return evaluator_copy(report, generated_at=utcnow(), seed=seed)


@pytest.fixture
def folder(app, escalations, tmp_path):
    path = tmp_path / "copy"
    write_copy(path, files_of(app))
    return path


def edit_json(folder, change) -> None:
    document = json.loads((folder / JSON_FILE).read_text())
    change(document)
    (folder / JSON_FILE).write_text(json.dumps(document, indent=2) + "\n")


def test_a_fresh_copy_verifies(folder):
    checked = verify_copy(folder, KEY)

    assert checked.problems == []
    document = checked.document
    assert document["official_record"]["corrected"] == {
        "count": 1,
        "ledger_numbers": ["EUPOL-0002"],
    }
    assert document["official_record"]["correction_overdue"]["ledger_numbers"] == ["EUPOL-0004"]
    assert [check["accounted"] for check in document["ledger"]] == [[1, 2, 3, 4, 5]]
    assert len(document["audit"]["head_hash"]) == 64


def test_the_signature_is_ed25519_over_the_json_with_the_report_purpose(folder):
    """What docs/operations.md tells an evaluator without dissent to check."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    fields = dict(
        line.split(": ", 1) for line in (folder / SIGNATURE_FILE).read_text().splitlines()[1:]
    )
    signed = b"dissent/v1/signature\x00" + REPORT_PURPOSE.encode() + b"\x00"
    Ed25519PublicKey.from_public_bytes(KEY.public_bytes).verify(
        base64.b64decode(fields["signature"]), signed + (folder / JSON_FILE).read_bytes()
    )
    assert fields["key"] == public_key(SEED) == KEY.to_text()


def test_one_figure_edited_in_the_csv_is_named(folder):
    table = (folder / CSV_FILE).read_bytes()
    assert b"official_record,corrected,1\r\n" in table
    (folder / CSV_FILE).write_bytes(
        table.replace(b"official_record,corrected,1", b"official_record,corrected,2")
    )

    problems = verify_copy(folder, KEY).problems

    assert problems == [f"{CSV_FILE}: official_record / corrected reads '2', {JSON_FILE} says '1'"]


def test_one_figure_edited_in_the_json_breaks_the_signature_and_is_named(folder):
    def soften(document):
        document["official_record"]["not_corrected"]["count"] = 0
        document["official_record"]["not_corrected"]["ledger_numbers"] = []
        document["official_record"]["corrected"]["count"] = 2
        document["official_record"]["corrected"]["ledger_numbers"] = ["EUPOL-0002", "EUPOL-0005"]

    edit_json(folder, soften)

    problems = verify_copy(folder, KEY).problems

    assert problems[0].startswith(f"signature: {JSON_FILE} is not what the report key signed")
    assert "official_record / corrected: EUPOL-0005 is listed, but not with this state" in problems
    assert f"{CSV_FILE}: official_record / corrected reads '1', {JSON_FILE} says '2'" in problems


def test_a_removed_ledger_number_is_named(folder):
    def remove(document):
        document["escalations"] = [e for e in document["escalations"] if e["number"] != 3]

    edit_json(folder, remove)

    problems = verify_copy(folder, KEY).problems

    assert any(p.startswith("signature:") for p in problems)
    assert (
        "ledger eupol: number 3 is accounted for, but no escalation lists it with a state"
        in problems
    )


def test_a_number_removed_from_everything_still_leaves_a_gap(folder):
    def remove(document):
        document["escalations"] = [e for e in document["escalations"] if e["number"] != 3]
        document["ledger"][0]["accounted"] = [1, 2, 4, 5]
        for found in document["official_record"].values():
            found["ledger_numbers"] = [n for n in found["ledger_numbers"] if n != "EUPOL-0003"]
            found["count"] = len(found["ledger_numbers"])

    edit_json(folder, remove)

    problems = verify_copy(folder, KEY).problems

    assert (
        "ledger eupol: number 3 lies between numbers of this period but is not accounted for"
        in problems
    )


def test_another_key_is_refused(folder):
    other = SigningKey.generate().verify_key

    problems = verify_copy(folder, other).problems

    assert problems == [
        f"signature: made with another key ({SIGNATURE_FILE} names {KEY.to_text()}; "
        f"the key given is {other.to_text()})"
    ]


def test_a_copy_signed_again_with_another_key_does_not_pass_for_the_instance_s(
    app, escalations, tmp_path
):
    forged = tmp_path / "forged"
    write_copy(forged, files_of(app, seed=os.urandom(32)))

    assert verify_copy(forged, KEY).problems[0].startswith("signature: made with another key")


def test_a_key_named_in_the_file_that_is_not_the_signer_s_is_caught(folder):
    seal = (folder / SIGNATURE_FILE).read_text()
    other = SigningKey.generate()
    forged_signature = base64.b64encode(
        other.sign((folder / JSON_FILE).read_bytes(), purpose=REPORT_PURPOSE)
    ).decode()
    lines = [
        f"signature: {forged_signature}" if line.startswith("signature:") else line
        for line in seal.splitlines()
    ]
    (folder / SIGNATURE_FILE).write_text("\n".join(lines) + "\n")

    problems = verify_copy(folder, KEY).problems

    assert problems == [
        f"signature: {JSON_FILE} is not what the report key signed "
        "(it was changed after signing, or the signature was)"
    ]


def test_a_missing_file_is_named(folder):
    (folder / CSV_FILE).unlink()

    assert verify_copy(folder, KEY).problems == [f"{CSV_FILE}: missing"]


def test_the_zip_holds_the_folder(app, escalations):
    files = files_of(app)

    archive = zipfile.ZipFile(io.BytesIO(copy_zip(files, folder="report")))

    assert sorted(archive.namelist()) == sorted(f"report/{name}" for name in files)
    assert archive.read(f"report/{JSON_FILE}") == files[JSON_FILE]


def test_a_folder_that_holds_something_is_not_overwritten(tmp_path):
    (tmp_path / "x").write_text("keep")

    with pytest.raises(FileExistsError):
        write_copy(tmp_path, {"report.json": b"{}"})
    assert (tmp_path / "x").read_text() == "keep"


# --- internal consistency, on the document alone --------------------------------------------


@pytest.fixture
def document(folder):
    return json.loads((folder / JSON_FILE).read_text())


def problems_of(document) -> list[str]:
    found: list[str] = []
    consistency_problems(document, found)
    return found


def test_the_document_as_made_is_consistent(document):
    assert problems_of(document) == []


def test_a_small_count_shown_exactly_breaks_the_suppression_rule(document):
    document["observations"]["by_state"]["closed"] = "3"

    assert (
        "by_state / closed: 3 is shown exactly, but counts of 1 to 4 are shown as "
        in (problems_of(document)[0])
    )


def test_a_total_that_is_not_the_sum_by_mission_is_named(document):
    document["observations"]["total"] = "12"
    document["observations"]["by_mission"]["eupol"] = "11"

    assert problems_of(document)[0].startswith("total: 12 is not the sum of the counts by mission")


def test_one_hidden_count_beside_an_exact_total_is_named(document):
    counts = document["observations"]
    counts["total"] = counts["by_mission"]["eupol"] = "9"
    counts["by_category"] = {key: "0" for key in counts["by_category"]}
    counts["by_category"]["reporting_accuracy"] = "9"
    counts["by_state"] = {key: "0" for key in counts["by_state"]}
    counts["by_state"]["received"] = "6"
    counts["by_state"]["escalated"] = "< 5"

    assert problems_of(document) == [
        "by_state / escalated: the only hidden count beside an exact total "
        "(it could be worked out by subtraction)"
    ]


def test_a_planned_correction_past_its_date_must_be_overdue(document):
    line = next(e for e in document["escalations"] if e["label"] == "EUPOL-0003")
    line["correction_due"] = (today() - timedelta(days=1)).isoformat()

    assert problems_of(document) == [
        f"EUPOL-0003: correction planned for {line['correction_due']}, "
        f"before the report's day {today().isoformat()}"
    ]


def test_a_count_that_does_not_match_its_ledger_numbers_is_named(document):
    document["official_record"]["correction_overdue"]["count"] = 0

    assert problems_of(document) == [
        "official_record / correction_overdue: counts 0 but lists 1 ledger numbers"
    ]


def test_a_number_the_ledger_misses_is_named(document):
    document["ledger"][0]["missing"] = [6]

    assert problems_of(document) == ["ledger eupol: number 6 is missing (no escalation, no state)"]


# --- a series ---------------------------------------------------------------------------------


def test_overlapping_reports_that_agree_verify_together(app, escalations, leader, tmp_path):
    first, second = tmp_path / "month", tmp_path / "quarter"
    write_copy(first, files_of(app))
    decide(app, leader, escalations[2], RecordDecision.CORRECTED, note=REFERENCE)
    write_copy(second, files_of(app, start=today().replace(day=1) - timedelta(days=60)))

    checked = verify_series([first, second], KEY)

    assert [c.problems for c in checked] == [[], []]
    assert checked[1].document["official_record"]["corrected"]["count"] == 2


def test_a_later_report_that_drops_or_rewinds_an_escalation_is_named(app, escalations, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    files = files_of(app)
    write_copy(first, files)
    later = json.loads(files[JSON_FILE])
    later["period"]["generated_at"] = (utcnow() + timedelta(hours=1)).isoformat(timespec="seconds")
    later["escalations"] = [
        {**e, "state": "sent", "response": None} if e["number"] == 2 else e
        for e in later["escalations"]
        if e["number"] != 5
    ]
    later["official_record"]["not_corrected"] = {"count": 0, "ledger_numbers": []}
    later["ledger"][0]["accounted"] = [1, 2, 3, 4]
    changed = copy.deepcopy(files)
    changed[JSON_FILE] = (json.dumps(later, indent=2) + "\n").encode()
    write_copy(second, changed)

    problems = verify_series([first, second], KEY)[1].problems

    assert f"EUPOL-0002: state sent, back from responded (compared with {first})" in problems
    assert (
        f"EUPOL-0005 (sent {today().isoformat()}) is missing, though its period covers it "
        f"(compared with {first})"
    ) in problems


def test_two_missions_of_the_same_name_are_counted_apart(app, escalations, tmp_path):
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eupol-2", name="EUPOL Test Mission")
    folder = tmp_path / "copy"
    write_copy(folder, files_of(app))

    checked = verify_copy(folder, KEY)

    assert checked.problems == []
    assert sorted(checked.document["observations"]["by_mission"]) == ["eupol", "eupol-2"]
