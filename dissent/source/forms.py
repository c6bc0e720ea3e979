"""Forms of the source interface. Limits come from the services that enforce them."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..crypto.codename import CODENAME_WORDS
from ..models import Consent
from ..services.conversation import MESSAGE_MAX
from ..services.submission import (
    OFFICIAL_REPORT_MAX,
    WHAT_MAX,
    WHERE_MAX,
    Contradiction,
    WhenPeriod,
)
from ..web.forms import ChoiceField, CsrfForm, choices_from, long_text
from ..web.labels import CATEGORY_LABELS, CONSENT_LABELS, CONTRADICTION_LABELS, WHEN_LABELS


class SubmitForm(CsrfForm):
    """A new observation."""

    # One-time token: a replayed or double-clicked submit creates nothing new.
    submit_token = HiddenField(validators=[DataRequired(), Length(max=64)])
    mission = ChoiceField(_l("Mission"), coerce=int, validators=[InputRequired()])
    category = RadioField(
        _l("What is it about?"),
        choices=choices_from(CATEGORY_LABELS),
        validators=[InputRequired(message=_l("Choose what your observation is about."))],
    )
    what = long_text(
        _l("What happened?"),
        limit=WHAT_MAX,
        required=_l("Describe what you observed."),
    )
    when = SelectField(
        _l("When did it happen?"),
        choices=choices_from(WHEN_LABELS),
        default=WhenPeriod.NOT_SAID,
        validators=[InputRequired()],
    )
    where = StringField(
        _l("Where? (optional)"),
        validators=[
            Optional(),
            Length(max=WHERE_MAX, message=_l("At most %(max)d characters.", max=WHERE_MAX)),
        ],
    )
    contradicts = RadioField(
        _l("Does this contradict an official report or figure?"),
        choices=choices_from(CONTRADICTION_LABELS),
        default=Contradiction.UNSURE,
        validators=[InputRequired()],
    )
    official_report = StringField(
        _l("Which report or figure? (optional)"),
        validators=[
            Optional(),
            Length(
                max=OFFICIAL_REPORT_MAX,
                message=_l("At most %(max)d characters.", max=OFFICIAL_REPORT_MAX),
            ),
        ],
    )
    consent = RadioField(
        _l("May this be passed on to the official reporting line?"),
        choices=choices_from(CONSENT_LABELS),
        default=Consent.ASK_FIRST,
        validators=[InputRequired()],
    )
    # The files themselves are read by the upload sinks (web/receive.py), never
    # by this field: it carries their errors (and so the page's error summary).
    files = MultipleFileField(_l("Files (optional)"))
    keep_names = BooleanField(_l("Keep the file names"), default=False)


class CodenameSavedForm(CsrfForm):
    """The source confirms they wrote the codename down."""

    saved = BooleanField(
        _l("I have written down my codename or learned it by heart."),
        validators=[DataRequired(message=_l("Please confirm that you wrote it down."))],
    )


class LoginForm(CsrfForm):
    """Return with a codename."""

    codename = StringField(
        _l("Your codename"),
        validators=[
            DataRequired(message=_l("Enter your codename.")),
            Length(max=300, message=_l("That is longer than any codename.")),
        ],
        description=_l("%(n)d words, separated by spaces.", n=CODENAME_WORDS),
        # A phone must not capitalise, "correct" or remember the words, and a spell
        # checker must not send them anywhere to be checked.
        render_kw={
            "autocomplete": "off",
            "autocapitalize": "none",
            "autocorrect": "off",
            "spellcheck": "false",
        },
    )


class ReplyForm(CsrfForm):
    """A message from the source."""

    text = long_text(
        _l("Your message"),
        limit=MESSAGE_MAX,
        required=_l("Write a message first."),
    )


class LeaveForm(CsrfForm):
    """The quick-exit button (also works as a plain link)."""


class ProposalDecisionForm(CsrfForm):
    """The source's answer to a proposed summary."""

    decision = HiddenField(validators=[DataRequired()])
    comment = long_text(_l("Comment for the adviser (optional)"), limit=MESSAGE_MAX)
