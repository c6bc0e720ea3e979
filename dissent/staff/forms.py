"""Forms of staff login and enrolment."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..models.staff import EMAIL_MAX
from ..services.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from ..web.forms import CheckboxesField, ChoiceField, CsrfForm, choices_from
from ..web.i18n import LANGUAGE_NAMES


class LoginForm(CsrfForm):
    """Username and password."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )


class TotpForm(CsrfForm):
    """The six-digit code from the authenticator app."""

    code = StringField(
        _l("Six-digit code"),
        validators=[DataRequired(message=_l("Enter the code from your app.")), Length(max=12)],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "class": "short"},
    )


class EnrolForm(CsrfForm):
    """Password and authenticator set-up."""

    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=_l(
                    "Between %(min)d and %(max)d characters.",
                    min=MIN_PASSWORD_LENGTH,
                    max=MAX_PASSWORD_LENGTH,
                ),
            ),
        ],
        description=_l(
            "At least %(n)d characters. A few unrelated words work well.", n=MIN_PASSWORD_LENGTH
        ),
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
    code = StringField(
        _l("Six-digit code from your authenticator app"),
        validators=[DataRequired(message=_l("Enter the code your app shows.")), Length(max=12)],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "class": "short"},
    )


class LogoutForm(CsrfForm):
    """The logout button."""


class NotificationsForm(CsrfForm):
    """What a staff member is told by mail: their address, language and the kinds."""

    email = EmailField(
        _l("Mail address for notifications"),
        validators=[Length(max=EMAIL_MAX)],
        description=_l(
            "Optional. Mails say only how many things wait for you, never what: no "
            "text, category, mission or time. Leave it empty to get no mail."
        ),
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    language = ChoiceField(_l("Language of the mails"), choices=choices_from(LANGUAGE_NAMES))
    # Choices are the kinds of the person's role (set by the view).
    kinds = CheckboxesField(_l("Tell me about"), coerce=str)
