"""The periodic report for a leader's missions: as a printable page and as CSV."""

from __future__ import annotations

from datetime import datetime

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..extensions import db
from ..models import EscalationState, Mission, StaffUser, today, utcnow
from ..security.policy import Access, allow
from ..services import audit
from ..services.charts import bar_chart
from ..services.report import (
    SUPPRESS_BELOW,
    WITHHELD,
    Report,
    build_report,
    last_full_quarter,
    report_csv,
    shown,
)
from ..source.forms import CATEGORY_LABELS
from ..staff.identity import current_staff
from .blueprint import bp
from .forms import (
    ESCALATION_STATE_LABELS,
    OBSERVATION_STATE_LABELS,
    RESPONSE_KIND_LABELS,
    ReportForm,
)


def _missions_of(staff: StaffUser) -> list[Mission]:
    return sorted(staff.missions, key=lambda m: m.name)


def _form(staff: StaffUser) -> ReportForm:
    """Return the period form: the query string over the defaults (the last full quarter)."""
    start, end = last_full_quarter(today())
    return ReportForm(
        request.args,
        data={"start": start.isoformat(), "end": end.isoformat(), "mission": ""},
        missions=[(m.slug, m.name) for m in _missions_of(staff)],
    )


def _build(staff: StaffUser, form: ReportForm, *, kind: str) -> tuple[Report, datetime]:
    """Record who produced which report, then build it (its audit head includes this entry)."""
    start, end = form.period
    missions = [m for m in _missions_of(staff) if form.mission.data in ("", m.slug)]
    audit.record_now(
        db.session,
        actor=staff.username,
        action=audit.Action.REPORT,
        subject=f"{kind} {form.mission.data or 'all'} {start.isoformat()}/{end.isoformat()}",
    )
    return build_report(db.session, missions=missions, start=start, end=end), utcnow()


def _cell(value: str) -> str:
    """Return a displayed count in the reader's language."""
    return str(_("withheld")) if value == WITHHELD else value


def _charts(report: Report) -> dict[str, object]:
    return {
        "mission": bar_chart(
            [
                (name, report.by_mission[name], _cell(cell))
                for name, cell in report.mission_cells().items()
            ],
            title=_("Observations by mission"),
        ),
        "category": bar_chart(
            [
                (str(CATEGORY_LABELS[c]), report.by_category[c], _cell(cell))
                for c, cell in report.category_cells().items()
            ],
            title=_("Observations by category"),
        ),
        "state": bar_chart(
            [
                (str(OBSERVATION_STATE_LABELS[s]), report.by_state[s], _cell(cell))
                for s, cell in report.state_cells().items()
            ],
            title=_("Observations by state"),
        ),
    }


@bp.route("/report")
@allow(Access.LEADERSHIP)
def report() -> ResponseReturnValue:
    """Show the periodic report for the chosen period (by default the last full quarter)."""
    staff = current_staff()
    form = _form(staff)
    if not form.validate():
        return render_template("leadership/report.html", form=form, report=None), 400
    built, generated_at = _build(staff, form, kind="page")
    return render_template(
        "leadership/report.html",
        form=form,
        report=built,
        staff=staff,
        generated_at=generated_at,
        charts=_charts(built),
        shown=shown,
        cell=_cell,
        suppress_below=SUPPRESS_BELOW,
        labels={
            "category": CATEGORY_LABELS,
            "state": OBSERVATION_STATE_LABELS,
            "escalation": ESCALATION_STATE_LABELS,
            "kind": RESPONSE_KIND_LABELS,
        },
        responded=EscalationState.RESPONDED,
    )


@bp.route("/report.csv")
@allow(Access.LEADERSHIP)
def report_csv_download() -> ResponseReturnValue:
    """Return the same figures as CSV (section, key, value), as a download."""
    staff = current_staff()
    form = _form(staff)
    if not form.validate():
        return render_template("leadership/report.html", form=form, report=None), 400
    built, generated_at = _build(staff, form, kind="csv")
    name = f"dissent-report-{built.start.isoformat()}-{built.end.isoformat()}.csv"
    return Response(
        report_csv(built, generated_at=generated_at),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
