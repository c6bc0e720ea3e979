"""Staff login (password, then TOTP), enrolment and logout, for every staff role."""

from __future__ import annotations

import base64
import io

import segno
from flask import Blueprint, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from ..extensions import db
from ..models import Role, StaffUser
from ..security.policy import Access, allow
from ..services import accounts, audit
from ..services.context import current_context
from ..services.errors import (
    EnrolmentInvalid,
    LoginFailed,
    RateLimited,
    TotpRejected,
    WeakPassword,
)
from ..services.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from .forms import EnrolForm, LoginForm, LogoutForm, TotpForm

bp = Blueprint("staff", __name__, url_prefix="/staff")

PASSWORD_REFUSALS = {
    WeakPassword.TOO_SHORT: _l(
        "This password is too short: use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH
    ),
    WeakPassword.TOO_LONG: _l(
        "This password is too long: use at most %(n)d characters.", n=MAX_PASSWORD_LENGTH
    ),
    WeakPassword.TOO_GUESSABLE: _l(
        "This password is too common or too easy to guess. A few unrelated words work well."
    ),
}

HOME = {
    Role.ADVISER: "adviser.inbox_view",
    Role.LEADERSHIP: "leadership.index",
    Role.ADMIN: "admin.index",
}


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
            accepted = accounts.check_password(
                db.session,
                current_context(),
                username=form.username.data or "",
                password=form.password.data or "",
            )
        except LoginFailed:
            form.password.errors = [_("Wrong username or password.")]
        except RateLimited:
            form.password.errors = [_("Too many attempts for this account. Wait 15 minutes.")]
        else:
            session.clear()
            session.regenerate()  # type: ignore[attr-defined]
            session["pending_staff_id"] = accepted.staff_id
            session["identity"] = base64.b64encode(accepted.identity_secret).decode()
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
            user = accounts.check_totp(
                db.session,
                current_context(),
                staff_id=session["pending_staff_id"],
                code=form.code.data or "",
            )
        except TotpRejected:
            form.code.errors = [
                _("That code is wrong, expired or already used. Wait for the next one.")
            ]
        except RateLimited:
            form.code.errors = [_("Too many attempts. Wait five minutes.")]
        else:
            identity = session["identity"]
            session.clear()
            session.regenerate()  # type: ignore[attr-defined]
            session.update(staff_id=user.id, role=user.role.value, identity=identity)
            return redirect(home_url(Role(user.role)), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("staff/second_factor.html", form=form), status


@bp.route("/logout", methods=["POST"])
@allow(Access.PUBLIC)
def logout() -> ResponseReturnValue:
    """End the staff session; its unwrapped identity is deleted with it."""
    LogoutForm()  # logging out is never refused, even with a stale form
    user = db.session.get(StaffUser, session.get("staff_id") or 0)
    if user is not None:
        audit.record_now(db.session, actor=user.username, action=audit.Action.LOGOUT)
    session.end()  # type: ignore[attr-defined]
    return redirect(url_for("staff.login", bye=1), code=303)


def _qr_svg(uri: str) -> Markup:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer,
        kind="svg",
        scale=5,
        xmldecl=False,
        svgns=True,
        title=_("Scan with your authenticator app"),
    )
    return Markup(buffer.getvalue().decode())  # noqa: S704 - generated SVG, no user input


@bp.route("/enrol/<token>", methods=["GET", "POST"])
@allow(Access.PUBLIC)
def enrol(token: str) -> ResponseReturnValue:
    """Set a password and an authenticator app; keys are made and wrapped."""
    try:
        enrolment = accounts.enrolment_for(db.session, token)
    except EnrolmentInvalid:
        return render_template("staff/enrol_invalid.html"), 404
    username = enrolment.staff.username
    secrets_by_token: dict[str, str] = dict(session.get("enrol_totp", {}))
    totp_secret = secrets_by_token.get(token) or accounts.new_totp_secret()
    session["enrol_totp"] = {token: totp_secret}
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            accounts.complete_enrolment(
                db.session,
                current_context(),
                token=token,
                password=form.password.data or "",
                totp_secret=totp_secret,
                totp_code=form.code.data or "",
            )
        except WeakPassword as exc:
            form.password.errors = [
                str(
                    PASSWORD_REFUSALS.get(exc.reason, PASSWORD_REFUSALS[WeakPassword.TOO_GUESSABLE])
                )
            ]
        except TotpRejected:
            form.code.errors = [
                _("That code does not match. Check the app and the clock, then try the next code.")
            ]
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
        qr=_qr_svg(accounts.totp_uri(totp_secret, username=username)),
    ), status
