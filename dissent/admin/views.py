"""The operator interface. It manages missions and accounts and reaches no content."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from ..extensions import current_context, db
from ..models import AccessGrant, Mission, Role, StaffUser, utcnow
from ..security.identity import current_staff, logged_in_staff_id
from ..security.policy import Access, allow
from ..services import accounts, budget, ladder, notifications, outbox
from ..services.errors import AccountExists, InvalidInput, MissionExists, NotFound
from ..services.keyring import adviser_recipients, oversight_counts
from ..services.mailer import MailProblem
from ..web import keys as web_keys
from ..web.digest import PROBLEM_LABELS, send_test_mail
from ..web.forms import choices_from
from ..web.labels import ROLE_LABELS
from ..web.links import public_url_for
from ..web.messages import show_on
from .forms import (
    AccountActionForm,
    AccountForm,
    EmailForm,
    LadderForm,
    MissionForm,
    TestMailForm,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")
# The enrolment link of an account just made, shown once on the next page (kept in the
# sealed session, never stored in clear).
_NEW_LINK = "enrolment_link"


def _page(
    *,
    mission_form: MissionForm | None = None,
    account_form: AccountForm | None = None,
    keys: dict[str, Any] | None = None,
    email_form: EmailForm | None = None,
    email_for: int | None = None,
    test_form: TestMailForm | None = None,
    ladder_form: tuple[int, LadderForm] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    missions = list(db.session.scalars(select(Mission).order_by(Mission.name)))
    ladder_forms = {m.id: _ladder_form(m) for m in missions}
    if ladder_form is not None:
        ladder_forms[ladder_form[0]] = ladder_form[1]
    users = list(db.session.scalars(select(StaffUser).order_by(StaffUser.username)))
    account_form = account_form or AccountForm()
    account_form.missions.choices = choices_from((m.slug, m.name) for m in missions)
    waiting: dict[int, list[str]] = {}
    for grant in db.session.scalars(select(AccessGrant).order_by(AccessGrant.id)):
        waiting.setdefault(grant.staff_id, []).append(grant.mission.slug)
    return render_template(
        "admin/index.html",
        missions=missions,
        adviser_counts={m.id: len(adviser_recipients(db.session, m.id)) for m in missions},
        oversight_counts=oversight_counts(db.session),
        budgets=budget.state(
            db.session.connection(), current_context().settings, [m.id for m in missions]
        ),
        budget_kinds=budget.Budget,
        users=users,
        waiting=waiting,
        mission_form=mission_form or MissionForm(),
        account_form=account_form,
        action_form=AccountActionForm(),
        role_labels=ROLE_LABELS,
        enrolment_link=session.pop(_NEW_LINK, None),
        email_form=email_form or EmailForm(),
        email_for=email_for,
        test_form=test_form or TestMailForm(),
        ladder_forms=ladder_forms,
        **_mail_context(),
        **(keys or web_keys.page_context(current_staff())),
    ), status


def _ladder_form(mission: Mission) -> LadderForm:
    """Return a mission's ladder form showing its present limits (ids unique per mission)."""
    return LadderForm(
        formdata=None,
        prefix=f"ladder-{mission.id}",
        data={
            "ack_days": str(mission.ladder_ack_days),
            "response_months": str(mission.ladder_response_months),
        },
    )


def _mail_context() -> dict[str, Any]:
    """Return what the page's section on notification mails shows."""
    settings = current_context().settings
    result = request.args.get("mail", "")
    problem = next((p for p in MailProblem if p.value == result), None)
    return {
        "mail_server": settings.smtp,
        "mail_references": settings.notify_references,
        "outbox": outbox.state(db.session),
        "test_sent": result == "sent",
        "test_problem": PROBLEM_LABELS.get(problem) if problem else None,
        "my_address": current_staff().email,
    }


@bp.route("/")
@allow(Access.ADMIN)
def index() -> ResponseReturnValue:
    """Show missions and accounts."""
    return _page()


@bp.route("/keys/<int:staff_id>/<int:mission_id>", methods=["POST"])
@allow(Access.ADMIN)
def confirm_key(staff_id: int, mission_id: int) -> ResponseReturnValue:
    """Confirm the key of a mission's first adviser, as a second operator."""
    return web_keys.confirm_view(
        current_staff(),
        staff_id=staff_id,
        mission_id=mission_id,
        page=lambda keys: _page(keys=keys, status=400),
        done="admin.index",
    )


@bp.route("/missions", methods=["POST"])
@allow(Access.ADMIN)
def add_mission() -> ResponseReturnValue:
    """Create a mission."""
    form = MissionForm()
    if form.validate():
        try:
            with db.unit():
                accounts.create_mission(
                    db.session,
                    slug=form.slug.data or "",
                    name=form.name.data or "",
                    actor=current_staff().username,
                )
        except MissionExists as exc:
            show_on(form, exc, field="slug")
        except InvalidInput as exc:
            show_on(form, exc)
        else:
            return redirect(url_for("admin.index"), code=303)
    return _page(mission_form=form, status=400)


@bp.route("/missions/<int:mission_id>/ladder", methods=["POST"])
@allow(Access.ADMIN)
def set_ladder(mission_id: int) -> ResponseReturnValue:
    """Set how long leadership has before a mission's escalation goes up to oversight."""
    if db.session.get(Mission, mission_id) is None:
        abort(404)
    form = LadderForm(prefix=f"ladder-{mission_id}")
    if form.validate():
        days, months = form.limits
        try:
            with db.unit():
                ladder.set_limits(
                    db.session,
                    mission_id=mission_id,
                    ack_days=days,
                    response_months=months,
                    actor=current_staff().username,
                )
        except InvalidInput as exc:
            show_on(form, exc)
        else:
            return redirect(url_for("admin.index", ladder="saved", _anchor="ladder"), code=303)
    return _page(ladder_form=(mission_id, form), status=400)


def _remember_link(token: str) -> None:
    session[_NEW_LINK] = public_url_for("staff.enrol", token=token)


@bp.route("/accounts", methods=["POST"])
@allow(Access.ADMIN)
def add_account() -> ResponseReturnValue:
    """Create an account and show its one-time enrolment link."""
    form = AccountForm()
    form.missions.choices = choices_from(
        (m.slug, m.name) for m in db.session.scalars(select(Mission))
    )
    if form.validate():
        try:
            with db.unit():
                user, token = accounts.create_account(
                    db.session,
                    username=form.username.data or "",
                    role=Role(form.role.data),
                    mission_slugs=list(form.missions.data or []),
                    actor=current_staff().username,
                )
                if form.email.data:
                    notifications.set_email(
                        db.session,
                        staff_id=user.id,
                        email=form.email.data,
                        actor=current_staff().username,
                    )
        except AccountExists as exc:
            show_on(form, exc, field="username")
        except InvalidInput as exc:
            show_on(form, exc)
        else:
            _remember_link(token)
            return redirect(url_for("admin.index"), code=303)
    return _page(account_form=form, status=400)


@bp.route("/accounts/<int:staff_id>/<action>", methods=["POST"])
@allow(Access.ADMIN)
def account_action(staff_id: int, action: str) -> ResponseReturnValue:
    """Activate, deactivate, or issue a new enrolment link."""
    if not AccountActionForm().validate():
        abort(400)
    actor = current_staff().username
    try:
        with db.unit():
            if action == "deactivate":
                if staff_id == logged_in_staff_id():
                    abort(400)
                accounts.set_active(db.session, staff_id=staff_id, active=False, actor=actor)
            elif action == "activate":
                accounts.set_active(db.session, staff_id=staff_id, active=True, actor=actor)
            elif action == "enrolment":
                _remember_link(
                    accounts.reissue_enrolment(db.session, staff_id=staff_id, actor=actor)
                )
            else:
                abort(404)
    except NotFound:
        abort(404)
    return redirect(url_for("admin.index", _anchor="accounts"), code=303)


@bp.route("/accounts/<int:staff_id>/email", methods=["POST"])
@allow(Access.ADMIN)
def set_email(staff_id: int) -> ResponseReturnValue:
    """Set or remove an account's mail address for notifications."""
    form = EmailForm()
    if form.validate():
        try:
            with db.unit():
                notifications.set_email(
                    db.session,
                    staff_id=staff_id,
                    email=form.email.data or "",
                    actor=current_staff().username,
                )
        except NotFound:
            abort(404)
        except InvalidInput as exc:
            show_on(form, exc)
        else:
            return redirect(url_for("admin.index", _anchor="accounts"), code=303)
    return _page(email_form=form, email_for=staff_id, status=400)


@bp.route("/test-mail", methods=["POST"])
@allow(Access.ADMIN)
def test_mail() -> ResponseReturnValue:
    """Send a test mail to the operator's own address; the page says how it went."""
    form = TestMailForm()
    if not form.validate():
        return _page(test_form=form, status=400)
    me = current_staff()
    # No transaction is open while the mail server is asked: it may take seconds.
    problem = send_test_mail(to=me.email, language=me.language, now=utcnow())
    result = "sent" if problem is None else problem.value
    return redirect(url_for("admin.index", mail=result, _anchor="notifications"), code=303)
