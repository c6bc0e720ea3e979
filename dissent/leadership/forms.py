"""Forms of the leadership interface."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import Form, SelectField, StringField
from wtforms.validators import ValidationError
from wtforms.widgets import DateInput

from ..services.report import MAX_PERIOD_DAYS
from ..web.forms import CsrfForm, parse_day

# The response form is shared with oversight (the ladder above leadership).
from ..web.response_form import ResponseForm

__all__ = ["AcknowledgeForm", "ReportForm", "ResponseForm"]


class AcknowledgeForm(CsrfForm):
    """Confirm receipt of an escalation."""


class ReportForm(Form):
    """The report's period and missions (a GET form: it changes nothing, so no CSRF token)."""

    start = StringField(_l("First day"), widget=DateInput())
    end = StringField(_l("Last day"), widget=DateInput())
    mission = SelectField(_l("Missions"), default="", validate_choice=False)

    def __init__(self, *args: Any, missions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mission.choices = [("", _l("All my missions")), *missions]

    def validate_start(self, field: StringField) -> None:
        """The first day is a date."""
        if parse_day(field.data) is None:
            raise ValidationError(_l("Enter the first day as YYYY-MM-DD."))

    def validate_end(self, field: StringField) -> None:
        """The last day is a date, not before the first, within the longest period."""
        end = parse_day(field.data)
        if end is None:
            raise ValidationError(_l("Enter the last day as YYYY-MM-DD."))
        start = parse_day(self.start.data)
        if start is None:
            return
        if end < start:
            raise ValidationError(_l("The last day is before the first day."))
        if (end - start).days > MAX_PERIOD_DAYS:
            raise ValidationError(
                _l("A report covers at most %(days)d days.", days=MAX_PERIOD_DAYS)
            )

    def validate_mission(self, field: SelectField) -> None:
        """The mission is one of the leader's own."""
        if field.data not in {value for value, _ in field.choices or []}:
            raise ValidationError(_l("Choose one of your missions."))

    @property
    def period(self) -> tuple[date, date]:
        """Return the period of a valid form."""
        start, end = parse_day(self.start.data), parse_day(self.end.data)
        if start is None or end is None:
            raise ValueError("the period is read only from a validated form")
        return start, end
