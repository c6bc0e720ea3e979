"""Staff login (password, then TOTP), enrolment and logout, for every staff role."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from ..extensions import current_context, db
from ..models import Role, StaffUser
from ..security import identity
from ..security.policy import Access, allow
from ..services import accounts, audit, login_throttle, notifications
from ..services.errors import (
    EnrolmentInvalid,
    EnrolmentUsedMeanwhile,
    InvalidInput,
    LoginFailed,
    RateLimited,
    TotpRejected,
    WeakPassword,
)
from ..web.digest import KIND_LABELS
from ..web.forms import choices_from
from ..web.messages import message_for, show_on
from ..web.qr import qr_svg
from .forms import EnrolForm, LoginForm, LogoutForm, NotificationsForm, TotpForm

bp = Blueprint("staff", __name__, url_prefix="/staff")

HOME = {
    Role.ADVISER: "adviser.inbox_view",
    Role.LEADERSHIP: "leadership.index",
    Role.ADMIN: "admin.index",
    Role.OVERSIGHT: "oversight.index",
}
# The TOTP secret offered on an enrolment page, kept in the session so that a reload
# shows the same one.
_ENROL_TOTP = "enrol_totp"
# Marks a browser its owner logged in from, so that others' wrong passwords do not
# pause it (services/login_throttle.py). Not a credential, and no address.
DEVICE_COOKIE = "__Host-dissent-device"


def home_url(role: Role) -> str:
    """Return the landing page of a role."""
    return url_for(HOME[role])


@bp.route("/login", methods=["GET", "POST"])
@allow(Access.PUBLIC)
def login() -> ResponseReturnValue:
    """First factor: username and password."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            with db.unit():
                accepted = accounts.check_password(
                    db.session,
                    current_context(),
                    username=form.username.data or "",
                    password=form.password.data or "",
                    device_token=request.cookies.get(DEVICE_COOKIE),
                )
        except (LoginFailed, RateLimited) as exc:
            show_on(form, exc, field="password")
        else:
            identity.begin_staff_login(accepted)
            return redirect(url_for("staff.second_factor"), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("staff/login.html", form=form), status


@bp.route("/2fa", methods=["GET", "POST"])
@allow(Access.STAFF_PENDING)
def second_factor() -> ResponseReturnValue:
    """Second factor: a TOTP code, each accepted only once."""
    form = TotpForm()
    if form.validate_on_submit():
        try:
            with db.unit():
                user = accounts.check_totp(
                    db.session,
                    current_context(),
                    staff_id=identity.pending_staff_id(),
                    code=form.code.data or "",
                )
                # Until they choose, their mails come in the language they log in with.
                notifications.remember_language(
                    db.session, staff_id=user.id, language=str(get_locale())
                )
        except (TotpRejected, RateLimited) as exc:
            show_on(form, exc, field="code")
        else:
            identity.complete_staff_login(user)
            response = redirect(home_url(Role(user.role)), code=303)
            response.set_cookie(
                DEVICE_COOKIE,
                login_throttle.device_token(current_context(), username=user.username),
                max_age=login_throttle.DEVICE_TOKEN_DAYS * 86400,
                path="/",
                secure=True,
                httponly=True,
                samesite="Strict",
            )
            return response
    status = 400 if form.is_submitted() else 200
    return render_template("staff/second_factor.html", form=form), status


@bp.route("/account", methods=["GET", "POST"])
@allow(Access.STAFF)
def account() -> ResponseReturnValue:
    """Choose the mail address, language and kinds of notifications one gets."""
    staff = identity.current_staff()
    kinds = notifications.kinds_for(staff.role)
    form = NotificationsForm()
    form.kinds.choices = choices_from((kind.value, KIND_LABELS[kind]) for kind in kinds)
    if not form.is_submitted():
        form.email.data = staff.email or ""
        form.language.data = staff.language or str(get_locale())
        form.kinds.data = [kind.value for kind in notifications.kinds_on(staff)]
    elif form.validate():
        try:
            with db.unit():
                notifications.set_preferences(
                    db.session,
                    staff=staff,
                    email=form.email.data or "",
                    language=form.language.data or "",
                    kinds=form.kinds.data or [],
                )
        except InvalidInput as exc:
            show_on(form, exc)
        else:
            return redirect(url_for("staff.account", saved=1), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template(
        "staff/account.html",
        form=form,
        has_kinds=bool(kinds),
        mail_on=current_context().settings.smtp is not None,
        home=home_url(Role(staff.role)),
    ), status


@bp.route("/logout", methods=["POST"])
@allow(Access.PUBLIC)
def logout() -> ResponseReturnValue:
    """End the staff session; its unwrapped identity is deleted with it."""
    LogoutForm()  # logging out is never refused, even with a stale form
    with db.unit():
        user = db.session.get(StaffUser, identity.logged_in_staff_id() or 0)
        if user is not None:
            audit.record(db.session, actor=user.username, action=audit.Action.LOGOUT)
    session.end()  # type: ignore[attr-defined]
    return redirect(url_for("staff.login", bye=1), code=303)


@bp.route("/enrol/<token>", methods=["GET", "POST"])
@allow(Access.PUBLIC)
def enrol(token: str) -> ResponseReturnValue:
    """Set a password and an authenticator app; keys are made and wrapped."""
    try:
        enrolment = accounts.enrolment_for(db.session, token)
    except EnrolmentInvalid:
        return render_template("staff/enrol_invalid.html"), 404
    username = enrolment.staff.username
    secrets_by_token: dict[str, str] = dict(session.get(_ENROL_TOTP, {}))
    totp_secret = secrets_by_token.get(token) or accounts.new_totp_secret()
    session[_ENROL_TOTP] = {token: totp_secret}
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            with db.unit():
                accounts.complete_enrolment(
                    db.session,
                    current_context(),
                    token=token,
                    password=form.password.data or "",
                    totp_secret=totp_secret,
                    totp_code=form.code.data or "",
                )
        except WeakPassword as exc:
            show_on(form, exc, field="password")
        except TotpRejected as exc:
            show_on(form, exc, field="code")
        except EnrolmentUsedMeanwhile as exc:
            # Another browser or tab used the link a moment ago: say so, rather than
            # "cannot be used" (the link looked fine when this page was shown).
            return render_template("staff/enrol_invalid.html", used_meanwhile=message_for(exc)), 409
        except EnrolmentInvalid:
            return render_template("staff/enrol_invalid.html"), 404
        else:
            session.end()  # type: ignore[attr-defined]
            return redirect(url_for("staff.login", enrolled=1), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template(
        "staff/enrol.html",
        form=form,
        username=username,
        role=enrolment.staff.role,
        totp_secret=totp_secret,
        qr=qr_svg(
            accounts.totp_uri(totp_secret, username=username),
            title=_("Scan with your authenticator app"),
        ),
    ), status
