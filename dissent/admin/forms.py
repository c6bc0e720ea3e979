"""Forms of the operator interface: missions and accounts only."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length

from ..models.mission import NAME_MAX, SLUG_MAX
from ..models.staff import EMAIL_MAX
from ..web.forms import CsrfForm, choices_from
from ..web.labels import ROLE_LABELS


class MissionForm(CsrfForm):
    """A new mission."""

    slug = StringField(
        _l("Short name"),
        validators=[DataRequired(), Length(max=SLUG_MAX)],
        description=_l("Lower-case letters, digits and hyphens, e.g. eupol-2027."),
    )
    name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=NAME_MAX)])


class AccountForm(CsrfForm):
    """A new staff account; it gets a one-time enrolment link."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    role = SelectField(_l("Role"), choices=choices_from(ROLE_LABELS), validators=[DataRequired()])
    # Its own id: "missions" is the page's section of missions (a label for it would
    # point at the section, leaving the list unnamed).
    missions = SelectMultipleField(_l("Missions"), coerce=str, id="account-missions")
    email = EmailField(
        _l("Mail address for notifications (optional)"),
        validators=[Length(max=EMAIL_MAX)],
        id="account-email",
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


class EmailForm(CsrfForm):
    """An account's mail address, set by the operator (empty: none)."""

    email = EmailField(
        _l("Mail address"),
        validators=[Length(max=EMAIL_MAX)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


class TestMailForm(CsrfForm):
    """The button that sends the operator a test mail."""


class AccountActionForm(CsrfForm):
    """A button acting on one account (activate, deactivate, new link)."""
