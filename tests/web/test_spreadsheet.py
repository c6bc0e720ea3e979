"""The report's escalations as a table for people: one row per escalation, in the
reader's language, shaped for that language's spreadsheet (issue 12, item 9)."""

from __future__ import annotations

import csv
import io
from datetime import date

from flask_babel import force_locale
from flask_babel import gettext as _

from dissent.models import EscalationState, ResponseKind
from dissent.services.report import EscalationLine, Report
from dissent.web.spreadsheet import BOM, escalations_csv


def report() -> Report:
    built = Report(start=date(2027, 1, 1), end=date(2027, 3, 31), counted_until=None, missions=[])
    built.escalations = [
        EscalationLine(
            label="EUPOL-1",
            mission="=Mission Zuid; Noord",
            sent_on=date(2027, 2, 3),
            state=EscalationState.RESPONDED,
            response=ResponseKind.ACTION_PLANNED,
            planned_for=date(2027, 5, 1),
            versions=2,
        ),
        EscalationLine(
            label="EUPOL-2",
            mission="Mission Süd",
            sent_on=date(2027, 3, 4),
            state=EscalationState.SENT,
            response=None,
            planned_for=None,
            versions=1,
        ),
    ]
    return built


def read(data: bytes, delimiter: str) -> list[list[str]]:
    assert data.startswith(BOM.encode("utf-8")), "Excel needs the byte order mark for UTF-8"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))


def test_dutch_gets_semicolons_a_bom_and_one_row_per_escalation(app):
    with app.test_request_context(), force_locale("nl"):
        data = escalations_csv(report(), language="nl")
        header, state = _("Ledger number"), str(_("Responded"))

    rows = read(data, ";")
    assert len(rows) == 3 and all(len(row) == 9 for row in rows)
    assert rows[0][0] == header
    assert rows[1][:4] == ["EUPOL-1", "'=Mission Zuid; Noord", "2027-02-03", state]
    assert rows[2][1] == "Mission Süd"


def test_english_gets_commas_and_english_words(app):
    with app.test_request_context(), force_locale("en"):
        rows = read(escalations_csv(report(), language="en"), ",")

    assert rows[0][:3] == ["Ledger number", "Mission", "Sent"]
    assert rows[1][4] == "Action planned"
    assert rows[1][5] == "2027-05-01"
    assert rows[2][4] == ""  # no response yet
