"""The operator interface. It manages missions and accounts and reaches no content."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..forms import choices_from
from ..models import AccessGrant, Mission, Role, StaffUser
from ..security.policy import Access, allow
from ..services import accounts
from ..services.errors import AccountExists, MissionExists, NotFound
from ..services.keyring import adviser_recipients
from ..staff.identity import current_staff
from .forms import ROLE_LABELS, AccountActionForm, AccountForm, MissionForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _actor() -> str:
    return current_staff().username


def _page(
    *,
    mission_form: MissionForm | None = None,
    account_form: AccountForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    missions = list(db.session.scalars(select(Mission).order_by(Mission.name)))
    users = list(db.session.scalars(select(StaffUser).order_by(StaffUser.username)))
    account_form = account_form or AccountForm()
    account_form.missions.choices = choices_from((m.slug, m.name) for m in missions)
    enrolment_link = session.pop("enrolment_link", None)
    waiting: dict[int, list[str]] = {}
    for grant in db.session.scalars(select(AccessGrant).order_by(AccessGrant.id)):
        waiting.setdefault(grant.staff_id, []).append(grant.mission.slug)
    return render_template(
        "admin/index.html",
        missions=missions,
        adviser_counts={m.id: len(adviser_recipients(db.session, m.id)) for m in missions},
        users=users,
        waiting=waiting,
        mission_form=mission_form or MissionForm(),
        account_form=account_form,
        action_form=AccountActionForm(),
        role_labels=ROLE_LABELS,
        enrolment_link=enrolment_link,
    ), status


@bp.route("/")
@allow(Access.ADMIN)
def index() -> ResponseReturnValue:
    """Show missions and accounts."""
    return _page()


@bp.route("/missions", methods=["POST"])
@allow(Access.ADMIN)
def add_mission() -> ResponseReturnValue:
    """Create a mission."""
    form = MissionForm()
    if form.validate():
        try:
            accounts.create_mission(
                db.session, slug=form.slug.data or "", name=form.name.data or ""
            )
        except MissionExists:
            form.slug.errors = [_("A mission with this short name exists already.")]
        except ValueError as exc:
            if str(exc).startswith("name"):
                form.name.errors = [_("Give the mission a name of at most 120 characters.")]
            else:
                form.slug.errors = [
                    _(
                        "Use 1 to 40 lower-case letters, digits and hyphens, "
                        "starting and ending with a letter or digit."
                    )
                ]
        else:
            return redirect(url_for("admin.index"), code=303)
    return _page(mission_form=form, status=400)


def _account_error(form: AccountForm, reason: str) -> None:
    """Put the service's refusal next to the field it concerns, in the reader's language."""
    if reason.startswith("username"):
        form.username.errors = [
            _("Use 2 to 64 lower-case letters, digits, dots, hyphens or underscores.")
        ]
    elif "operator" in reason:
        form.missions.errors = [_("An operator account belongs to no mission.")]
    else:
        form.missions.errors = [_("Advisers and leaders belong to at least one mission.")]


def _remember_link(token: str) -> None:
    # Shown once on the next page, from the sealed session; never stored in clear.
    session["enrolment_link"] = url_for("staff.enrol", token=token, _external=True)


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
            _user, token = accounts.create_account(
                db.session,
                username=form.username.data or "",
                role=Role(form.role.data),
                mission_slugs=list(form.missions.data or []),
                actor=_actor(),
            )
        except AccountExists:
            form.username.errors = [_("This username is taken.")]
        except NotFound:
            form.missions.errors = [_("Choose missions from the list.")]
        except ValueError as exc:
            _account_error(form, str(exc))
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
    try:
        if action == "deactivate":
            if staff_id == session.get("staff_id"):
                abort(400)
            accounts.set_active(db.session, staff_id=staff_id, active=False, actor=_actor())
        elif action == "activate":
            accounts.set_active(db.session, staff_id=staff_id, active=True, actor=_actor())
        elif action == "enrolment":
            _remember_link(
                accounts.reissue_enrolment(db.session, staff_id=staff_id, actor=_actor())
            )
        else:
            abort(404)
    except NotFound:
        abort(404)
    return redirect(url_for("admin.index", _anchor="accounts"), code=303)
