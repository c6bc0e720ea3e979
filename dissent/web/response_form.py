"""The response form of an escalation, shared by leadership and oversight (the ladder
above leadership): action taken, planned (with a date) or declined, and for an
escalation that contradicts an official report or figure, the decision about it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.widgets import DateInput

from ..extensions import current_context, db
from ..models import Escalation, RecordDecision, ResponseKind, today
from ..security.identity import current_identity, current_staff
from ..services import leadership, official_record
from ..services.errors import ChangedMeanwhile, InvalidInput
from ..services.leadership import RESPONSE_MAX
from ..services.official_record import RECORD_NOTE_MAX
from ..services.verification import open_versions
from .forms import CsrfForm, choices_from, normalize_newlines, parse_day, seen_revision
from .labels import RECORD_DECISION_LABELS, RESPONSE_KIND_LABELS
from .messages import show_on


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


def escalation_page(
    escalation: Escalation, response_form: ResponseForm | None = None
) -> dict[str, Any]:
    """Return what an escalation's page shows to a reader who may respond (leadership,
    oversight): the versions and responses as the reader's key opens them, where the
    official record stands, and the response form (``templates/shared/escalation.html``)."""
    identity = current_identity()
    form = response_form or ResponseForm()
    form.record_required = official_record.contradicts(escalation)
    return {
        "escalation": escalation,
        "versions": open_versions(escalation, identity),
        "responses": leadership.open_responses(escalation, identity),
        "record": official_record.outcome(escalation, on=today()),
        "correction_due": official_record.correction_due(escalation),
        "response_form": form,
        "response_max": RESPONSE_MAX,
    }


def record_response(
    escalation: Escalation, page: Callable[..., ResponseReturnValue]
) -> ResponseReturnValue | None:
    """Record the posted response to ``escalation`` as the current staff member (a
    leader, or oversight once it went up the ladder); return the page to show instead
    when it is refused, ``None`` once it is recorded. ``page(escalation, response_form=,
    notice=, status=)`` renders the escalation's page with the form as it was sent."""
    form = ResponseForm()
    form.record_required = official_record.contradicts(escalation)
    if not form.validate():
        return page(escalation, response_form=form, status=400)
    decision, note, due = form.record
    try:
        with db.unit():
            leadership.respond(
                db.session,
                current_context(),
                staff=current_staff(),
                escalation=escalation,
                kind=ResponseKind(form.kind.data),
                text=form.text.data or "",
                planned_for=form.planned_day,
                record_decision=decision,
                record_note=note,
                correction_due=due,
                seen=seen_revision(),
            )
    except ChangedMeanwhile:
        # Another response came in after this page was shown: show it, keep the text.
        return page(escalation, response_form=form, notice="changed_meanwhile", status=409)
    except InvalidInput as exc:
        # The form checks what the service checks; this is the net under it.
        show_on(form, exc)
        return page(escalation, response_form=form, status=400)
    return None
