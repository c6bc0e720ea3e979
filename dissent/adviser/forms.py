"""Forms of the adviser interface."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField
from wtforms.validators import InputRequired, Length, ValidationError

from ..services.consent import SUMMARY_MAX
from ..services.conversation import MESSAGE_MAX
from ..services.names import NAMES_MAX
from ..services.official_record import (
    RECORD_PERIOD_MAX,
    RECORD_TITLE_MAX,
    RecordClaim,
    check_claim,
)
from ..services.triage import NOTE_MAX, REASON_MAX
from ..web.forms import CheckboxesField, CsrfForm, choices_from, long_text
from ..web.labels import CATEGORY_LABELS, SEVERITY_LABELS


class ReplyForm(CsrfForm):
    """A message to the source."""

    text = long_text(
        _l("Message to the source"),
        limit=MESSAGE_MAX,
        required=_l("Write a message first."),
    )


# The reply, note and feedback forms all have a "text" field on one page; prefixes
# keep their ids (and label targets) apart.
NOTE_PREFIX = "note"
FEEDBACK_PREFIX = "feedback"


class AcknowledgeForm(CsrfForm):
    """Send the standard acknowledgement of receipt."""


class GrantForm(CsrfForm):
    """Give a colleague access to the mission's earlier files (one step of it)."""


class StateForm(CsrfForm):
    """Change the state by hand, with an optional reason kept in the history."""

    # No state is chosen in advance: a state changed by a stray tap would be a change
    # nobody meant (issue 12, item 8).
    to_state = RadioField(
        _l("New state"), validators=[InputRequired(message=_l("Choose the new state."))]
    )
    reason = long_text(_l("Reason (optional, advisers only)"), limit=REASON_MAX)


class TriageForm(CsrfForm):
    """Assignment, severity and category."""

    assignee = SelectField(_l("Assigned to"))
    severity = SelectField(_l("Severity"), choices=choices_from(SEVERITY_LABELS))
    category = SelectField(_l("Category"), choices=choices_from(CATEGORY_LABELS))


class NoteForm(CsrfForm):
    """An internal note, for the mission's advisers only."""

    text = long_text(
        _l("Internal note — the source does not see this"),
        limit=NOTE_MAX,
        required=_l("Write the note first."),
    )


class SummaryForm(CsrfForm):
    """The de-identified summary: check it, propose it, or escalate it."""

    summary = long_text(
        _l("De-identified summary"),
        limit=SUMMARY_MAX,
        required=_l("Write the summary first."),
    )
    # The hash of the text the adviser last saw flagged; sending another text shows
    # the flags again first.
    checked = HiddenField()
    leaders = CheckboxesField(_l("Send to"), coerce=int)
    action = HiddenField()
    # The adviser's statement about the official record, signed with the summary.
    record_contradicts = BooleanField(_l("This summary contradicts an official report or figure"))
    record_title = StringField(
        _l("Which report or figure, as it was reported"),
        description=_l(
            "Its title, or the figure as the report gives it, without anything that could "
            "point at the source."
        ),
        validators=[
            Length(
                max=RECORD_TITLE_MAX,
                message=_l("At most %(max)d characters.", max=RECORD_TITLE_MAX),
            )
        ],
    )
    record_period = StringField(
        _l("The period it covers"),
        description=_l("For example: second quarter of 2026."),
        validators=[
            Length(
                max=RECORD_PERIOD_MAX,
                message=_l("At most %(max)d characters.", max=RECORD_PERIOD_MAX),
            )
        ],
    )

    def validate_record_title(self, field: StringField) -> None:
        """A contradicted report or figure is named."""
        if self.record_contradicts.data and not (field.data or "").strip():
            raise ValidationError(_l("Name the report or figure this summary contradicts."))

    def validate_record_period(self, field: StringField) -> None:
        """... with the period it covers."""
        if self.record_contradicts.data and not (field.data or "").strip():
            raise ValidationError(_l("Give the period the report or figure covers."))


class FeedbackForm(CsrfForm):
    """Feedback to the source on what was done (meets the feedback deadline)."""

    text = long_text(
        _l("Feedback to the source: what was done with the observation"),
        limit=MESSAGE_MAX,
        required=_l("Write the feedback first."),
    )


class NamesForm(CsrfForm):
    """The mission's list of names to flag in summaries."""

    names = long_text(_l("Names to flag, one per line"), limit=NAMES_MAX)


def stated_record(form: SummaryForm) -> RecordClaim:
    """Return the statement about the official record a valid summary form makes
    (or raise :class:`InvalidInput`, as the service would)."""
    return check_claim(
        contradicts=bool(form.record_contradicts.data),
        title=form.record_title.data or "",
        period=form.record_period.data or "",
    )
