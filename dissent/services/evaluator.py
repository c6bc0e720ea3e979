"""The evaluator's copy: the periodic report, signed, checkable away from the server.

An outside evaluator (an inspectorate, a parliament's researchers) receives a folder:

* ``report.json`` — the report as one document (``report.report_document``): every
  count as the report shows it, every escalation of the period by ledger number with
  its state and what became of the official record, the ledger numbers accounted for,
  and the head of the hash-chained audit ledger when the report was made;
* ``report.csv`` — the same figures as rows (``report.document_rows``), for a
  spreadsheet;
* ``report.sig`` — an Ed25519 signature over ``report.json`` by the instance's report
  key, whose public half the evaluator got separately (printed at ``dissent init``,
  shown on the report page);
* ``README.txt`` — how to check it (not signed; nothing in it is a figure).

``verify_copy`` needs no database and no secret: it checks the signature with the key
the evaluator trusts, that the CSV says what the signed document says, and that the
document is consistent in itself (totals, the suppression rule, every ledger number
present with a state). ``verify_series`` also checks that reports of overlapping
periods agree on the escalations they share. Every problem is one line naming what
does not fit.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..crypto import KeyFormatError, SignatureError, SigningKey, VerifyKey
from ..models import Category, EscalationState, ResponseKind, State
from .official_record import Outcome
from .report import (
    AT_LEAST,
    REPORT_FORMAT,
    SUPPRESS_BELOW,
    WITHHELD,
    Report,
    document_rows,
    report_document,
    rows_csv,
)

REPORT_PURPOSE = "periodic-report"
JSON_FILE = "report.json"
CSV_FILE = "report.csv"
SIGNATURE_FILE = "report.sig"
README_FILE = "README.txt"
SIGNATURE_HEADER = "dissent report signature 1"
# A folder holding more than this is not an evaluator's copy; nothing larger is read.
MAX_FILE_BYTES = 64 * 1024 * 1024

_README = f"""\
The periodic report of a dissent instance, as given to an outside evaluator.

{JSON_FILE}  the report: every figure as published (counts of 1 to 4 are shown as
             "< 5", and further cells withheld so that none can be worked out), every
             escalation of the period by ledger number with its state and what became
             of the official report or figure it contradicted, the ledger numbers
             accounted for, and the head of the audit ledger when it was made.
{CSV_FILE}   the same figures as (section, key, value) rows.
{SIGNATURE_FILE}   an Ed25519 signature over {JSON_FILE} by the instance's report key.

Check it on any machine with dissent installed (no server, no database):

    dissent report verify FOLDER --key REPORT_KEY

with the report key you received from the instance's leadership by a separate channel
(not from this folder). Several folders at once also checks that reports of
overlapping periods agree on the escalations they share.

The signature is Ed25519 over the bytes "dissent/v1/signature", a zero byte,
"{REPORT_PURPOSE}", a zero byte, and the exact bytes of {JSON_FILE}.
"""


# --- writing ----------------------------------------------------------------------------


def public_key(seed: bytes) -> str:
    """Return the public report key (what evaluators check copies with) of a seed."""
    return SigningKey(seed).verify_key.to_text()


def evaluator_copy(report: Report, *, generated_at: datetime, seed: bytes) -> dict[str, bytes]:
    """Return the files of the evaluator's copy of ``report``, signed with the report key."""
    document = report_document(report, generated_at=generated_at)
    body = (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    key = SigningKey(seed)
    signature = key.sign(body, purpose=REPORT_PURPOSE)
    seal = (
        f"{SIGNATURE_HEADER}\nsigned: {JSON_FILE}\nkey: {key.verify_key.to_text()}\n"
        f"signature: {base64.b64encode(signature).decode('ascii')}\n"
    )
    return {
        JSON_FILE: body,
        CSV_FILE: rows_csv(document_rows(document)).encode("utf-8"),
        SIGNATURE_FILE: seal.encode("ascii"),
        README_FILE: _README.encode("utf-8"),
    }


def write_copy(folder: Path, files: dict[str, bytes]) -> None:
    """Write the files into ``folder``, which must not exist or be empty."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise FileExistsError(f"{folder} exists and is not an empty folder")
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def copy_zip(files: dict[str, bytes], *, folder: str) -> bytes:
    """Return the files as a zip archive with one folder ``folder``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            # A fixed time: the report says when it was made; the archive adds nothing.
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


# --- checking one copy ------------------------------------------------------------------


@dataclass
class Checked:
    """What checking one folder found: the document (if it could be read) and problems."""

    name: str
    document: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Return whether the copy verifies."""
        return not self.problems


def parse_key(text: str) -> VerifyKey:
    """Return the report key given as text, or raise :class:`KeyFormatError`."""
    return VerifyKey.from_text(text)


def _read(folder: Path, name: str, problems: list[str]) -> bytes | None:
    path = folder / name
    if not path.is_file():
        problems.append(f"{name}: missing")
        return None
    if path.stat().st_size > MAX_FILE_BYTES:
        problems.append(f"{name}: larger than any report ({MAX_FILE_BYTES} bytes)")
        return None
    return path.read_bytes()


def _check_signature(body: bytes, seal: bytes, key: VerifyKey, problems: list[str]) -> None:
    lines = seal.decode("ascii", errors="replace").splitlines()
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    if not lines or lines[0] != SIGNATURE_HEADER or fields.get("signed") != JSON_FILE:
        problems.append(f"{SIGNATURE_FILE}: not a dissent report signature")
        return
    if fields.get("key", "").strip() != key.to_text():
        problems.append(
            f"signature: made with another key ({SIGNATURE_FILE} names "
            f"{fields.get('key', '?').strip()}; the key given is {key.to_text()})"
        )
        return
    try:
        signature = base64.b64decode(fields.get("signature", "").strip(), validate=True)
        key.verify(body, signature, purpose=REPORT_PURPOSE)
    except (SignatureError, binascii.Error, ValueError):
        problems.append(
            f"signature: {JSON_FILE} is not what the report key signed "
            "(it was changed after signing, or the signature was)"
        )


def _check_csv(document: dict[str, Any], data: bytes, problems: list[str]) -> None:
    """The CSV must say, row for row, what the signed document says."""
    try:
        expected = list(csv.reader(io.StringIO(rows_csv(document_rows(document)))))
        found = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error, KeyError, TypeError, AttributeError):
        problems.append(f"{CSV_FILE}: not the rows of this report")
        return
    wanted = {(row[0], row[1]): row[2] for row in expected[1:]}
    got = {(row[0], row[1]): row[2] for row in found[1:] if len(row) == 3}
    for (section, key), value in wanted.items():
        if (section, key) not in got:
            problems.append(f"{CSV_FILE}: {section} / {key} is missing")
        elif got[(section, key)] != value:
            problems.append(
                f"{CSV_FILE}: {section} / {key} reads {got[(section, key)]!r}, "
                f"{JSON_FILE} says {value!r}"
            )
    for section, key in got.keys() - wanted.keys():
        problems.append(f"{CSV_FILE}: {section} / {key} is not in {JSON_FILE}")
    if not problems and found != expected:
        problems.append(f"{CSV_FILE}: its rows are not those of {JSON_FILE}")


def verify_copy(folder: Path, key: VerifyKey) -> Checked:
    """Check one evaluator's copy: signature, CSV against JSON, internal consistency."""
    checked = Checked(name=str(folder))
    problems = checked.problems
    if not folder.is_dir():
        problems.append("not a folder")
        return checked
    body = _read(folder, JSON_FILE, problems)
    seal = _read(folder, SIGNATURE_FILE, problems)
    table = _read(folder, CSV_FILE, problems)
    if body is None:
        return checked
    if seal is not None:
        _check_signature(body, seal, key, problems)
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        problems.append(f"{JSON_FILE}: not JSON")
        return checked
    if not isinstance(document, dict) or document.get("format") != REPORT_FORMAT:
        problems.append(f"{JSON_FILE}: not a report of the format {REPORT_FORMAT}")
        return checked
    try:
        consistency_problems(document, problems)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problems.append(f"{JSON_FILE}: a part of the report is missing or malformed ({exc!r})")
        return checked
    checked.document = document
    if table is not None:
        _check_csv(document, table, problems)
    return checked


# --- internal consistency ----------------------------------------------------------------

_SHOWN = re.compile(rf"^(\d+|{AT_LEAST} [1-9]\d*|< {SUPPRESS_BELOW}|{WITHHELD})$")


@dataclass(frozen=True)
class _Shown:
    """A published figure: the counts it adds up, and whether it is exact."""

    value: int
    exact: bool


def _figure(name: str, text: object, problems: list[str]) -> _Shown:
    if not isinstance(text, str) or not _SHOWN.match(text):
        problems.append(f"{name}: {text!r} is not a count as reports show them")
        return _Shown(0, False)
    if text.isdigit():
        if 0 < int(text) < SUPPRESS_BELOW:
            problems.append(
                f"{name}: {text} is shown exactly, but counts of 1 to {SUPPRESS_BELOW - 1} "
                f'are shown as "< {SUPPRESS_BELOW}"'
            )
        return _Shown(int(text), True)
    if text.startswith(AT_LEAST):
        return _Shown(int(text.removeprefix(AT_LEAST)), False)
    return _Shown(0, False)


def _group(
    name: str, cells: dict[str, object], keys: Iterable[str], problems: list[str]
) -> dict[str, _Shown]:
    keys = list(keys)
    if sorted(cells) != sorted(keys):
        problems.append(f"{name}: lists {sorted(cells)}, a report lists {sorted(keys)}")
    return {k: _figure(f"{name} / {k}", v, problems) for k, v in cells.items()}


def _check_parts(name: str, total: _Shown, parts: dict[str, _Shown], problems: list[str]) -> None:
    """Parts that add up to the total: what they show cannot exceed it; all exact, they
    equal it; beside an exact total, one hidden part alone could be worked out."""
    shown = sum(p.value for p in parts.values())
    hidden = [k for k, p in parts.items() if not p.exact]
    if shown > total.value:
        problems.append(f"{name}: the shown counts add up to {shown}, more than the total")
    if not hidden and (not total.exact or shown != total.value):
        problems.append(f"{name}: every count is exact, but they add up to {shown}, not the total")
    if total.exact and len(hidden) == 1:
        problems.append(
            f"{name} / {hidden[0]}: the only hidden count beside an exact total "
            "(it could be worked out by subtraction)"
        )


def _check_counts(document: dict[str, Any], problems: list[str]) -> None:
    slugs = [m["slug"] for m in document["missions"]]
    counts = document["observations"]
    total = _figure("total", counts["total"], problems)
    by_mission = _group("by_mission", counts["by_mission"], slugs, problems)
    if sum(f.value for f in by_mission.values()) != total.value or total.exact != all(
        f.exact for f in by_mission.values()
    ):
        problems.append(
            f"total: {counts['total']} is not the sum of the counts by mission "
            f"({', '.join(f'{k} {v}' for k, v in counts['by_mission'].items())})"
        )
    for group, members in (("by_category", Category), ("by_state", State)):
        cells = _group(group, counts[group], [m.value for m in members], problems)
        _check_parts(group, total, cells, problems)
    for key, value in document["overdue"].items():
        _figure(f"overdue / {key}", value, problems)
    for key, durations in document["handling"].items():
        values = [durations["median"], durations["p90"]]
        if values == ["too few", "too few"]:
            continue
        try:
            median, p90 = (float(v) for v in values)
        except ValueError:
            problems.append(f"{key}: {values} are not numbers of days")
            continue
        if not 0 <= median <= p90:
            problems.append(f"{key}: the median {median} is above the 90th percentile {p90}")


_STATES = {s.value for s in EscalationState}
_RESPONSES = {k.value for k in ResponseKind}
_OUTCOMES = {o.value for o in Outcome}
_DUE_OUTCOMES = {Outcome.CORRECTION_PLANNED.value, Outcome.CORRECTION_OVERDUE.value}


def _check_line(line: dict[str, Any], document: dict[str, Any], problems: list[str]) -> None:
    label, period = line["label"], document["period"]
    made = date.fromisoformat(period["as_of"])
    missions = {m["slug"] for m in document["missions"]}
    if (
        line["mission"] not in missions
        or label != f"{line['mission'].upper()}-{line['number']:04d}"
    ):
        problems.append(f"{label}: not a ledger number of the report's missions")
    if not period["start"] <= line["sent_on"] <= period["end"]:
        problems.append(f"{label}: sent on {line['sent_on']}, outside the period")
    if line["state"] not in _STATES or (line["response"] not in _RESPONSES | {None}):
        problems.append(f"{label}: no valid state ({line['state']!r}, {line['response']!r})")
    elif (line["state"] == EscalationState.RESPONDED.value) != (line["response"] is not None):
        problems.append(f"{label}: state {line['state']} with response {line['response']!r}")
    if not isinstance(line["versions"], int) or line["versions"] < 1:
        problems.append(f"{label}: {line['versions']!r} versions")
    record, due = line["official_record"], line["correction_due"]
    if record not in _OUTCOMES | {None}:
        problems.append(f"{label}: official record {record!r} is no outcome")
    elif (record in _DUE_OUTCOMES) != (due is not None):
        problems.append(f"{label}: official record {record} with correction date {due!r}")
    elif record == Outcome.CORRECTION_PLANNED.value and date.fromisoformat(due) < made:
        problems.append(f"{label}: correction planned for {due}, before the report's day {made}")
    elif record == Outcome.CORRECTION_OVERDUE.value and date.fromisoformat(due) >= made:
        problems.append(f"{label}: correction overdue, but due {due}, not before {made}")


def _check_record(document: dict[str, Any], problems: list[str]) -> None:
    section = document["official_record"]
    if sorted(section) != sorted(_OUTCOMES):
        problems.append(f"official_record: lists {sorted(section)}, not every outcome")
    for key, found in section.items():
        listed = list(found["ledger_numbers"])
        if found["count"] != len(listed):
            problems.append(
                f"official_record / {key}: counts {found['count']} "
                f"but lists {len(listed)} ledger numbers"
            )
        wanted = [e["label"] for e in document["escalations"] if e["official_record"] == key]
        for label in sorted(set(listed) - set(wanted)):
            problems.append(f"official_record / {key}: {label} is listed, but not with this state")
        for label in sorted(set(wanted) - set(listed)):
            problems.append(f"official_record / {key}: {label} has this state but is not listed")


def _check_ledger(document: dict[str, Any], problems: list[str]) -> None:
    by_mission: dict[str, set[int]] = {m["slug"]: set() for m in document["missions"]}
    for line in document["escalations"]:
        by_mission.setdefault(line["mission"], set()).add(line["number"])
    checks = {check["mission"]: check for check in document["ledger"]}
    for slug, listed in by_mission.items():
        check = checks.get(slug)
        if check is None:
            problems.append(f"ledger {slug}: no ledger check for this mission")
            continue
        accounted = set(check["accounted"])
        for number in sorted(check["missing"]):
            problems.append(f"ledger {slug}: number {number} is missing (no escalation, no state)")
        for number in sorted(accounted - listed):
            problems.append(
                f"ledger {slug}: number {number} is accounted for, but no escalation lists it "
                "with a state"
            )
        for number in sorted(listed - accounted):
            problems.append(f"ledger {slug}: number {number} is listed but not accounted for")
        if accounted:
            for number in range(min(accounted), max(accounted) + 1):
                if number not in accounted and number not in check["missing"]:
                    problems.append(
                        f"ledger {slug}: number {number} lies between numbers of this period "
                        "but is not accounted for"
                    )
            if max(accounted) > check["highest"]:
                problems.append(f"ledger {slug}: number {max(accounted)} is above the highest")


def consistency_problems(document: dict[str, Any], problems: list[str]) -> None:
    """Add to ``problems`` what in ``document`` does not fit together."""
    _check_counts(document, problems)
    labels = [line["label"] for line in document["escalations"]]
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        problems.append(f"{label}: listed more than once")
    for line in document["escalations"]:
        _check_line(line, document, problems)
    _check_record(document, problems)
    _check_ledger(document, problems)
    audit = document["audit"]
    if not isinstance(audit["head_seq"], int) or not re.fullmatch(
        r"[0-9a-f]{64}", str(audit["head_hash"])
    ):
        problems.append(f"audit: {audit!r} is not the head of an audit ledger")


# --- a series -------------------------------------------------------------------------------

_STATE_ORDER = [s.value for s in EscalationState]  # sent, acknowledged, responded
_DECIDED = {
    Outcome.CORRECTED.value,
    Outcome.CORRECTION_PLANNED.value,
    Outcome.CORRECTION_OVERDUE.value,
    Outcome.NOT_CORRECTED.value,
}


def _made(checked: Checked) -> datetime:
    assert checked.document is not None
    return datetime.fromisoformat(checked.document["period"]["generated_at"])


def _covers(document: dict[str, Any], line: dict[str, Any]) -> bool:
    period, slugs = document["period"], {m["slug"] for m in document["missions"]}
    return line["mission"] in slugs and period["start"] <= line["sent_on"] <= period["end"]


def _agree_on(
    label: str, line: dict[str, Any], now: dict[str, Any], say: Callable[[str], None]
) -> None:
    """Add what a later report says about one escalation that cannot follow from before."""
    if (now["mission"], now["sent_on"]) != (line["mission"], line["sent_on"]):
        say(f"{label}: sent on {now['sent_on']}, not {line['sent_on']}")
    if now["versions"] < line["versions"]:
        say(f"{label}: {now['versions']} versions, fewer than {line['versions']} before")
    if _STATE_ORDER.index(now["state"]) < _STATE_ORDER.index(line["state"]):
        say(f"{label}: state {now['state']}, back from {line['state']}")
    was, is_ = line["official_record"], now["official_record"]
    if was in _DECIDED and is_ == Outcome.AWAITING_DECISION.value:
        say(f"{label}: official record awaiting a decision again, after {was}")
    if was is not None and is_ is None and now["versions"] == line["versions"]:
        say(f"{label}: no longer contradicts the official record, with no new version")


def _agree(earlier: Checked, later: Checked, say: Callable[[str], None]) -> None:
    """Add what the later of two reports says differently about what both cover."""
    assert earlier.document is not None and later.document is not None
    old = {line["label"]: line for line in earlier.document["escalations"]}
    new = {line["label"]: line for line in later.document["escalations"]}
    made_old, made_new = _made(earlier).date(), _made(later).date()
    for label, line in old.items():
        if label in new:
            _agree_on(label, line, new[label], say)
        elif _covers(later.document, line):
            say(f"{label} (sent {line['sent_on']}) is missing, though its period covers it")
    for label, line in new.items():
        if label not in old and _covers(earlier.document, line) and line["sent_on"] < made_old:
            say(f"{label} (sent {line['sent_on']}) is missing from the earlier report")
    checks_old = {c["mission"]: c for c in earlier.document["ledger"]}
    for check in later.document["ledger"]:
        before = checks_old.get(check["mission"])
        if before is not None and check["highest"] < before["highest"]:
            say(f"ledger {check['mission']}: highest {check['highest']}, was {before['highest']}")
    head_old, head_new = earlier.document["audit"], later.document["audit"]
    if head_new["head_seq"] < head_old["head_seq"] or (
        head_new["head_seq"] == head_old["head_seq"]
        and head_new["head_hash"] != head_old["head_hash"]
    ):
        say(
            f"audit: head {head_new['head_seq']} made on {made_new}, after head "
            f"{head_old['head_seq']} made on {made_old}: the audit ledger went back or forked"
        )


def verify_series(folders: list[Path], key: VerifyKey) -> list[Checked]:
    """Check each copy, then that each pair agrees on the escalations both cover.

    Disagreements are added to the later report's problems, naming the earlier one.
    """
    checked = [verify_copy(folder, key) for folder in folders]
    readable = sorted((c for c in checked if c.document is not None), key=_made)
    for i, earlier in enumerate(readable):
        for later in readable[i + 1 :]:
            _agree(earlier, later, _teller(later, earlier))
    return checked


def _teller(later: Checked, earlier: Checked) -> Callable[[str], None]:
    def say(line: str) -> None:
        later.problems.append(f"{line} (compared with {earlier.name})")

    return say


def key_problem(text: str) -> str | None:
    """Return why ``text`` is not a report key, or None if it is one."""
    try:
        parse_key(text)
    except KeyFormatError:
        return "not an Ed25519 public key (43 characters of base64)"
    return None
