"""Forms of the leadership interface."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import Form, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.widgets import DateInput

from ..models import RecordDecision, ResponseKind, today
from ..services.leadership import RESPONSE_MAX
from ..services.official_record import RECORD_NOTE_MAX
from ..services.report import MAX_PERIOD_DAYS
from ..web.forms import CsrfForm, choices_from, normalize_newlines, parse_day
from ..web.labels import RECORD_DECISION_LABELS, RESPONSE_KIND_LABELS


class AcknowledgeForm(CsrfForm):
    """Confirm receipt of an escalation."""


class ResponseForm(CsrfForm):
    """Leadership's response: action taken, action planned (with a date), or declined."""

    kind = RadioField(
        _l("What did you decide?"),
        choices=choices_from(RESPONSE_KIND_LABELS),
        validators=[InputRequired(message=_l("Choose what you decided."))],
    )
    planned_for = StringField(
        _l("Planned for"),
        widget=DateInput(),
        description=_l("For a planned action: the date by which it will be done (YYYY-MM-DD)."),
    )
    text = TextAreaField(
        _l("What was done or is planned; if declined, the reason"),
        filters=[normalize_newlines],
        validators=[
            Length(max=RESPONSE_MAX, message=_l("At most %(max)d characters.", max=RESPONSE_MAX))
        ],
    )

    def validate_planned_for(self, field: StringField) -> None:
        """A planned action needs a date that is not in the past."""
        if self.kind.data != ResponseKind.ACTION_PLANNED.value:
            return
        if not (field.data or "").strip():
            raise ValidationError(_l("Give the date by which the action is planned."))
        day = parse_day(field.data)
        if day is None:
            raise ValidationError(_l("Enter a date as YYYY-MM-DD."))
        if day < today():
            raise ValidationError(_l("This date is in the past: was the action taken?"))

    def validate_text(self, field: TextAreaField) -> None:
        """Every response says what was done, or why not."""
        if (field.data or "").strip():
            return
        if self.kind.data == ResponseKind.DECLINED.value:
            raise ValidationError(_l("Give the reason for declining."))
        raise ValidationError(_l("Describe the action."))

    @property
    def planned_day(self) -> date | None:
        """Return the planned date of a valid form (None unless the action is planned)."""
        if self.kind.data != ResponseKind.ACTION_PLANNED.value:
            return None
        return parse_day(self.planned_for.data)

    # For an escalation that contradicts an official report or figure: the decision
    # about it (the view sets ``record_required`` for such an escalation).
    record_decision = RadioField(
        _l("The official report or figure it contradicts"),
        choices=choices_from(RECORD_DECISION_LABELS),
        validate_choice=False,
    )
    correction_due = StringField(
        _l("Corrected by"),
        widget=DateInput(),
        description=_l(
            "For a planned correction: the date by which the report or figure will be "
            "corrected (YYYY-MM-DD)."
        ),
    )
    record_note = TextAreaField(
        _l("Reference of the correction, or why it is not corrected"),
        filters=[normalize_newlines],
        validators=[
            Length(
                max=RECORD_NOTE_MAX,
                message=_l("At most %(max)d characters.", max=RECORD_NOTE_MAX),
            )
        ],
    )
    record_required = False

    def _decision(self) -> RecordDecision | None:
        try:
            return RecordDecision(self.record_decision.data or "")
        except ValueError:
            return None

    def validate_record_decision(self, field: RadioField) -> None:
        """An escalation that contradicts the record needs a decision about it."""
        if field.data and self._decision() is None:
            raise ValidationError(_l("Choose one of the options in the list."))
        if self.record_required and self._decision() is None:
            raise ValidationError(
                _l(
                    "This escalation contradicts an official report or figure: say whether "
                    "it was corrected, a correction is planned, or it is not corrected."
                )
            )

    def validate_correction_due(self, field: StringField) -> None:
        """A planned correction needs a date that is not in the past."""
        if not self.record_required or self._decision() is not RecordDecision.CORRECTION_PLANNED:
            return
        if not (field.data or "").strip():
            raise ValidationError(_l("Give the date by which it will be corrected."))
        day = parse_day(field.data)
        if day is None:
            raise ValidationError(_l("Enter a date as YYYY-MM-DD."))
        if day < today():
            raise ValidationError(
                _l("This date is in the past: was the report or figure corrected?")
            )

    def validate_record_note(self, field: TextAreaField) -> None:
        """A correction has a reference; no correction has a reason."""
        if not self.record_required or (field.data or "").strip():
            return
        if self._decision() in (RecordDecision.CORRECTED, RecordDecision.NOT_CORRECTED):
            raise ValidationError(
                _l("Give the reference of the correction, or the reason it is not corrected.")
            )

    @property
    def record(self) -> tuple[RecordDecision | None, str, date | None]:
        """Return the decision about the record, its note and date, of a valid form."""
        decision = self._decision() if self.record_required else None
        due = (
            parse_day(self.correction_due.data)
            if decision is RecordDecision.CORRECTION_PLANNED
            else None
        )
        return decision, self.record_note.data or "", due


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
