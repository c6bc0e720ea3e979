"""Helpers shared by the forms of every interface."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from flask import request, session
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from werkzeug.datastructures import CombinedMultiDict, MultiDict
from wtforms import (
    Field,
    FileField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.csrf.core import CSRF
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

# What the CSRF token is made for (security.sessions.ServerSession.token).
CSRF_PURPOSE = "csrf"


def csrf_token() -> str:
    """Return the current session's CSRF token.

    One value per session, put in every form: a keyed hash made with the session's key,
    which only this browser's cookie holds (docs/decisions.md, 9). Nothing is stored for
    it, so a visitor who only opens a form leaves no session record behind (issue 15,
    finding 9); a new key (login, a new session) makes a new token.
    """
    return session.token(CSRF_PURPOSE)  # type: ignore[attr-defined, no-any-return]


def check_csrf_token(submitted: object) -> None:
    """Refuse a missing token, or one that is not this session's (a ValidationError)."""
    if not isinstance(submitted, str) or not submitted:
        raise ValidationError(_l("The form's security token is missing."))
    if not session.check_token(CSRF_PURPOSE, submitted):  # type: ignore[attr-defined]
        raise ValidationError(_l("The form's security token does not match this session."))


class _PageToken:
    """The CSRF token a page shows, looked up (or created) only if the page is rendered:
    a form posted and answered with a redirect never needs one (a page that shows the
    form again does, and may start a session for it)."""

    __slots__ = ("_token",)

    def __init__(self) -> None:
        self._token: str | None = None

    def __str__(self) -> str:
        if self._token is None:
            self._token = csrf_token()
        return self._token

    def __html__(self) -> Markup:
        return escape(str(self))


class _SessionCSRF(CSRF):
    """WTForms' CSRF hooks over :func:`csrf_token` and :func:`check_csrf_token`."""

    def generate_csrf_token(self, csrf_token_field: Field) -> Any:
        """Return the token to put in the page, looked up when the page is rendered."""
        return _PageToken()

    def validate_csrf_token(self, form: Any, field: Field) -> None:
        """Refuse a missing, foreign or stale token."""
        check_csrf_token(field.data)


# Characters no keyboard types: C0 and C1 controls and DEL (Unicode category Cc). A NUL
# is refused by PostgreSQL in any text (a 500 instead of a message), and the others have
# no business in a name, a token or a note. A multi-line text keeps its line breaks and
# tabs; a single-line field (a browser strips line breaks from those) keeps tabs only.
_KEPT_IN_LONG_TEXT = frozenset("\t\n\r")
_KEPT_IN_LINE = frozenset("\t")
CONTROL_CHARACTERS = _l("Remove the control characters (invisible characters such as NUL).")


def has_control_characters(text: str, *, multiline: bool) -> bool:
    """Return whether ``text`` holds a control character a person would not have typed."""
    kept = _KEPT_IN_LONG_TEXT if multiline else _KEPT_IN_LINE
    return any(unicodedata.category(c) == "Cc" and c not in kept for c in text)


class CsrfForm(FlaskForm):
    """The base of every form that changes something: CSRF-checked, and refusing control
    characters in every field (the message goes next to the field that holds them)."""

    class Meta(FlaskForm.Meta):
        """Flask-WTF's settings with dissent's session-bound token."""

        csrf_class = _SessionCSRF

        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            """Read forms only from form bodies, and files only into file fields.

            Flask-WTF would also take a JSON body, and a JSON value that is not an
            object (``5``, ``[1, 2]``) made that a 500: a JSON body is simply a post
            without the form's fields (and its token). And it offers every uploaded
            file to the field of its name: a file sent under a text field's name (no
            browser does) reached that field as a file, another 500.
            """
            if request.is_json and not request.form and not request.files:
                formdata = request.form  # empty: every field is missing
            wrapped = super().wrap_formdata(form, formdata)
            if isinstance(wrapped, CombinedMultiDict):
                takes_files = {field.name for field in form if isinstance(field, FileField)}
                files = MultiDict(
                    (name, file)
                    for name, file in request.files.items(multi=True)
                    if name in takes_files
                )
                wrapped = CombinedMultiDict((files, request.form))
            return wrapped

    def validate(self, extra_validators: Mapping[str, Any] | None = None) -> bool:
        """Validate every field, and refuse each one that holds a control character."""
        valid: bool = super().validate(extra_validators)
        for field in self:
            multiline = isinstance(field, TextAreaField)
            submitted = [v for v in field.raw_data or () if isinstance(v, str)]
            if any(has_control_characters(v, multiline=multiline) for v in submitted):
                field.errors = [*field.errors, CONTROL_CHARACTERS]
                valid = False
        return valid


def choices_from(labels: Mapping[Any, Any] | Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """Return select/radio options from ``{value: label}`` or ``(value, label)`` pairs."""
    pairs = labels.items() if isinstance(labels, Mapping) else labels
    return [SelectChoice(value=str(value), label=label) for value, label in pairs]


def normalize_newlines(value: str | None) -> str | None:
    """Return ``value`` with CRLF and CR line breaks as LF.

    Browsers submit a textarea's line breaks as CRLF but count them as one character
    for ``maxlength``; normalising first makes our limit the one the browser showed.
    """
    if value is None:
        return None
    return value.replace("\r\n", "\n").replace("\r", "\n")


class ChoiceField(SelectField):
    """A select whose refusals speak plainly (WTForms says "Not a valid choice")."""

    message = _l("Choose one of the options in the list.")

    def process_formdata(self, valuelist: list[str]) -> None:
        """Coerce the submitted value; a value that cannot be coerced is just "no choice"."""
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(self.message) from exc

    def pre_validate(self, form: Any) -> None:
        """Accept only a value from the list."""
        try:
            super().pre_validate(form)
        except ValueError as exc:  # WTForms' ValidationError is a ValueError
            raise ValidationError(self.message) from exc


class CheckboxesField(SelectMultipleField):
    """A choice of several options as a list of checkboxes: on a phone a multiple
    select needs a long press and hides what is chosen; boxes show it and take a tap."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
    message = ChoiceField.message

    def pre_validate(self, form: Any) -> None:
        """Accept only values from the list (none ticked is an empty choice)."""
        try:
            super().pre_validate(form)
        except ValueError as exc:
            raise ValidationError(self.message) from exc


def long_text(label: Any, *, limit: int, required: Any = None) -> TextAreaField:
    """Return a textarea with the house rules: LF line breaks, a stated limit, and a
    message of its own when it is required and left empty."""
    validators: list[Any] = [
        DataRequired(message=required) if required is not None else Optional(),
        Length(max=limit, message=_l("At most %(max)d characters.", max=limit)),
    ]
    return TextAreaField(label, filters=[normalize_newlines], validators=validators)


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(text: str | None) -> date | None:
    """Return the date written as YYYY-MM-DD, or None if it is not one."""
    text = (text or "").strip()
    if not ISO_DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def seen_revision() -> int | None:
    """Return the revision of the case the posted form's page showed (its hidden
    ``seen`` field), or ``None`` when the form carries none."""
    value = request.form.get("seen", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


class ConfirmKeyForm(CsrfForm):
    """The fingerprint of a colleague's key, as they read it out (``services.confirmation``)."""

    fingerprint = StringField(
        _l("Fingerprint"),
        validators=[
            DataRequired(_l("Type the fingerprint your colleague reads to you.")),
            Length(max=40),
        ],
    )
