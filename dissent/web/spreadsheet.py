"""The report's escalations as a table for people (issue 12, item 9): one row per
escalation, headers and values in the reader's language, in the shape a spreadsheet
in that language opens in columns.

This is leadership's download. The figures for machines (section, key, value, in
English keys) stay in ``services.report`` and in the signed evaluator's copy, which this
never changes.
"""

from __future__ import annotations

import csv
import io
from datetime import date

from flask_babel import lazy_gettext as _l

from ..services.report import Report
from .labels import ESCALATION_STATE_LABELS, RECORD_OUTCOME_LABELS, RESPONSE_KIND_LABELS

# Spreadsheets in languages that write a decimal comma (Dutch among them) split a CSV
# line at semicolons; the others at commas.
SEPARATORS = {"nl": ";"}
DEFAULT_SEPARATOR = ","
# Without a byte order mark Excel reads UTF-8 as the system's old code page, which
# garbles every accented mission name.
BOM = "\ufeff"
# A cell starting with one of these is a formula to a spreadsheet: mission names are
# typed by an operator, so they are defused rather than trusted.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

HEADERS = (
    _l("Ledger number"),
    _l("Mission"),
    _l("Sent"),
    _l("State"),
    _l("Latest response"),
    _l("Planned for"),
    _l("Versions"),
    _l("Official record"),
    _l("Correction due"),
)


def _day(value: date | None) -> str:
    # ISO dates: every spreadsheet reads them as dates, in every language.
    return value.isoformat() if value else ""


def _defused(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def escalation_rows(report: Report) -> list[list[str]]:
    """Return the header and one row per escalation of ``report``, in the reader's
    language."""
    rows = [[str(header) for header in HEADERS]]
    for line in report.escalations:
        rows.append(
            [
                line.label,
                line.mission,
                _day(line.sent_on),
                str(ESCALATION_STATE_LABELS[line.state]),
                str(RESPONSE_KIND_LABELS[line.response]) if line.response else "",
                _day(line.planned_for),
                str(line.versions),
                str(RECORD_OUTCOME_LABELS[line.record]) if line.record else "",
                _day(line.correction_due),
            ]
        )
    return rows


def escalations_csv(report: Report, *, language: str) -> bytes:
    """Return the escalations of ``report`` as a CSV file for a spreadsheet in
    ``language``: UTF-8 with a byte order mark, that language's separator."""
    out = io.StringIO()
    writer = csv.writer(
        out, delimiter=SEPARATORS.get(language, DEFAULT_SEPARATOR), lineterminator="\r\n"
    )
    for row in escalation_rows(report):
        writer.writerow([_defused(cell) for cell in row])
    return (BOM + out.getvalue()).encode("utf-8")
