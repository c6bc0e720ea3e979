"""Forms of the operator interface: missions and accounts only."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from ..models.mission import NAME_MAX, SLUG_MAX
from ..models.staff import EMAIL_MAX
from ..services.ladder import MAX_LADDER_ACK_DAYS, MAX_LADDER_RESPONSE_MONTHS
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


def _whole_number(text: str | None) -> int | None:
    cleaned = (text or "").strip()
    return int(cleaned) if cleaned.isascii() and cleaned.isdigit() and len(cleaned) < 6 else None


class LadderForm(CsrfForm):
    """A mission's ladder limits: how long leadership has before an escalation goes up
    to oversight (one form per mission, told apart by its prefix)."""

    ack_days = StringField(
        _l("Days for leadership to acknowledge"),
        description=_l(
            "1 to %(max)d days from the day an escalation is sent; 14 by default.",
            max=MAX_LADDER_ACK_DAYS,
        ),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    response_months = StringField(
        _l("Months for leadership to answer"),
        description=_l(
            "1 to %(max)d months from the day an escalation is sent; 3 by default.",
            max=MAX_LADDER_RESPONSE_MONTHS,
        ),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )

    def validate_ack_days(self, field: StringField) -> None:
        """A whole number of days within the limits."""
        days = _whole_number(field.data)
        if days is None or not 1 <= days <= MAX_LADDER_ACK_DAYS:
            raise ValidationError(
                _l("Enter a whole number of days from 1 to %(max)d.", max=MAX_LADDER_ACK_DAYS)
            )

    def validate_response_months(self, field: StringField) -> None:
        """A whole number of months within the limits."""
        months = _whole_number(field.data)
        if months is None or not 1 <= months <= MAX_LADDER_RESPONSE_MONTHS:
            raise ValidationError(
                _l(
                    "Enter a whole number of months from 1 to %(max)d.",
                    max=MAX_LADDER_RESPONSE_MONTHS,
                )
            )

    @property
    def limits(self) -> tuple[int, int]:
        """Return (days, months) of a valid form."""
        days, months = _whole_number(self.ack_days.data), _whole_number(self.response_months.data)
        if days is None or months is None:
            raise ValueError("the limits are read only from a validated form")
        return days, months


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
