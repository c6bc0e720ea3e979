"""The leadership interface: escalations sent to a leader (acknowledge, respond), and
the periodic report as a printable page and as CSV."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from ..extensions import current_context, db
from ..models import Escalation, EscalationState, Mission, StaffUser, today, utcnow
from ..security.identity import current_staff
from ..security.policy import Access, allow
from ..services import audit, confirmation, leadership
from ..services.charts import bar_chart
from ..services.deadlines import response_due
from ..services.errors import AlreadyDone, NotFound
from ..services.evaluator import copy_zip, evaluator_copy, public_key
from ..services.report import (
    AT_LEAST,
    SUPPRESS_BELOW,
    WITHHELD,
    Figure,
    Report,
    build_report,
    last_full_quarter,
    report_csv,
)
from ..web.errors import kept_on_outage
from ..web.labels import (
    CATEGORY_LABELS,
    ESCALATION_PAGE_LABELS,
    ESCALATION_STATE_LABELS,
    RECORD_OUTCOME_LABELS,
    RESPONSE_KIND_LABELS,
    STATE_LABELS,
)
from ..web.response_form import escalation_page, record_response
from ..web.spreadsheet import escalations_csv
from .forms import AcknowledgeForm, ReportForm, ResponseForm

bp = Blueprint("leadership", __name__, url_prefix="/leadership")

LABELS = ESCALATION_PAGE_LABELS


# --- escalations --------------------------------------------------------------------------


@bp.route("/")
@allow(Access.LEADERSHIP)
def index() -> ResponseReturnValue:
    """List the escalations sent to this leader."""
    staff = current_staff()
    return render_template(
        "leadership/index.html",
        staff=staff,
        lines=leadership.leader_list(db.session, staff, on=today()),
        labels=LABELS,
        own_key_waiting=confirmation.awaiting(db.session, staff),
        own_fingerprint=confirmation.fingerprint(staff.recipient) if staff.recipient else "",
    )


def _escalation(slug: str, number: int) -> Escalation:
    try:
        return leadership.escalation_for_leader(
            db.session, current_staff(), mission_slug=slug.lower(), number=number
        )
    except NotFound:
        abort(404)


def _page(
    escalation: Escalation,
    *,
    ack_form: AcknowledgeForm | None = None,
    response_form: ResponseForm | None = None,
    notice: str = "",
    status: int = 200,
) -> ResponseReturnValue:
    shown = escalation_page(escalation, response_form)
    return render_template(
        "leadership/escalation.html",
        **shown,
        tampered=any(not v.verified for v in shown["versions"]),
        respond_by=response_due(escalation),
        response_late=leadership.response_late(escalation, on=today()),
        ack_form=ack_form or AcknowledgeForm(),
        labels=LABELS,
        notice=notice,
    ), status


@bp.route("/e/<slug>/<int:number>")
@allow(Access.LEADERSHIP)
def escalation(slug: str, number: int) -> ResponseReturnValue:
    """Show one escalation: every signed version with its diff, and the responses."""
    found = _escalation(slug, number)
    with db.unit():
        audit.record(
            db.session,
            actor=current_staff().username,
            action=audit.Action.ESCALATION_VIEW,
            subject=found.label,
        )
    return _page(found)


def _back(found: Escalation, notice: str, anchor: str = "") -> ResponseReturnValue:
    return redirect(
        url_for(
            "leadership.escalation",
            slug=found.mission.slug,
            number=found.ledger_number,
            done=notice,
            _anchor=anchor or None,
        ),
        code=303,
    )


@bp.route("/e/<slug>/<int:number>/acknowledge", methods=["POST"])
@allow(Access.LEADERSHIP)
def acknowledge(slug: str, number: int) -> ResponseReturnValue:
    """Confirm receipt of the escalation."""
    found = _escalation(slug, number)
    form = AcknowledgeForm()
    if not form.validate():
        return _page(found, ack_form=form, status=400)
    try:
        with db.unit():
            leadership.acknowledge_escalation(db.session, staff=current_staff(), escalation=found)
    except AlreadyDone:
        return _page(found, notice="already_acknowledged", status=409)
    return _back(found, "acknowledged")


@bp.route("/e/<slug>/<int:number>/respond", methods=["POST"])
@allow(Access.LEADERSHIP)
@kept_on_outage(ResponseForm, "text", "record_note")
def respond(slug: str, number: int) -> ResponseReturnValue:
    """Record a response: action taken, action planned (with a date), or declined."""
    found = _escalation(slug, number)
    refused = record_response(found, _page)
    if refused is not None:
        return refused
    return _back(found, "responded", "responses")


# --- the periodic report ------------------------------------------------------------------


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
    with db.unit():
        audit.record(
            db.session,
            actor=staff.username,
            action=audit.Action.REPORT,
            subject=f"{kind} {form.mission.data or 'all'} {start.isoformat()}/{end.isoformat()}",
        )
    return build_report(db.session, missions=missions, start=start, end=end), utcnow()


def _cell(value: str) -> str:
    """Return a displayed count in the reader's language."""
    if value == WITHHELD:
        return str(_("withheld"))
    if value.startswith(AT_LEAST):
        return str(_("at least %(n)s", n=value.removeprefix(AT_LEAST).strip()))
    return value


def _charts(report: Report) -> dict[str, object]:
    # Each bar is drawn to what its figure publishes (suppressed cells add nothing).
    return {
        "mission": bar_chart(
            [
                (m.name, figure.value, _cell(figure.shown()))
                for m in report.missions
                for figure in [report.by_mission.get(m.slug, Figure())]
            ],
            title=_("Observations by mission"),
        ),
        "category": bar_chart(
            [
                (str(CATEGORY_LABELS[c]), report.by_category[c].value, _cell(cell))
                for c, cell in report.category_cells().items()
            ],
            title=_("Observations by category"),
        ),
        "state": bar_chart(
            [
                (str(STATE_LABELS[s]), report.by_state[s].value, _cell(cell))
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
    seed = current_context().settings.report_key
    return render_template(
        "leadership/report.html",
        form=form,
        report=built,
        staff=staff,
        generated_at=generated_at,
        charts=_charts(built),
        cell=_cell,
        suppress_below=SUPPRESS_BELOW,
        labels={
            "category": CATEGORY_LABELS,
            "state": STATE_LABELS,
            "escalation": ESCALATION_STATE_LABELS,
            "kind": RESPONSE_KIND_LABELS,
            "record": RECORD_OUTCOME_LABELS,
        },
        responded=EscalationState.RESPONDED,
        report_key=public_key(seed) if seed else None,
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


@bp.route("/report/escalations.csv")
@allow(Access.LEADERSHIP)
def report_table_download() -> ResponseReturnValue:
    """Return the period's escalations as a table for a spreadsheet in the reader's
    language (one row per escalation), as a download."""
    staff = current_staff()
    form = _form(staff)
    if not form.validate():
        return render_template("leadership/report.html", form=form, report=None), 400
    built, _generated_at = _build(staff, form, kind="table")
    name = f"escalations-{built.start.isoformat()}-{built.end.isoformat()}.csv"
    return Response(
        escalations_csv(built, language=str(get_locale())),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/report/evaluator.zip")
@allow(Access.LEADERSHIP)
def report_evaluator_download() -> ResponseReturnValue:
    """Return the evaluator's copy of the report (JSON, CSV, signature) as a zip."""
    staff = current_staff()
    form = _form(staff)
    seed = current_context().settings.report_key
    if seed is None or not form.validate():
        # Without a report key there is nothing to sign with; the page says so.
        return render_template("leadership/report.html", form=form, report=None), (
            409 if seed is None else 400
        )
    built, generated_at = _build(staff, form, kind="evaluator")
    folder = f"dissent-report-{built.start.isoformat()}-{built.end.isoformat()}"
    files = evaluator_copy(built, generated_at=generated_at, seed=seed)
    return Response(
        copy_zip(files, folder=folder),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{folder}.zip"'},
    )
