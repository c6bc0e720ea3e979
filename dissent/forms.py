"""Helpers shared by the forms of every interface."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf, validate_csrf
from markupsafe import Markup, escape
from wtforms import Field, SelectField, TextAreaField
from wtforms.csrf.core import CSRF
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError


class _PageToken:
    """The CSRF token a page shows, made only if the page is rendered.

    A form that is posted and answered with a redirect never shows a new token;
    making one anyway (an HMAC and a signed, encoded timestamp) was a measurable part
    of a source's follow-up message.
    """

    __slots__ = ("_meta", "_token")

    def __init__(self, meta: Any) -> None:
        self._meta = meta
        self._token: str | None = None

    def __str__(self) -> str:
        if self._token is None:
            self._token = generate_csrf(
                secret_key=self._meta.csrf_secret, token_key=self._meta.csrf_field_name
            )
        return self._token

    def __html__(self) -> Markup:
        return escape(str(self))


class _SessionCSRF(CSRF):
    """Flask-WTF's session-bound CSRF check, with the page's token made lazily."""

    def setup_form(self, form: Any) -> Any:
        """Remember the form's settings (secret, field name, time limit)."""
        self.meta = form.meta
        return super().setup_form(form)

    def generate_csrf_token(self, csrf_token_field: Field) -> Any:
        """Return the token to put in the page, made when the page is rendered."""
        return _PageToken(self.meta)

    def validate_csrf_token(self, form: Any, field: Field) -> None:
        """Refuse a missing, foreign or stale token (a wtforms ValidationError)."""
        validate_csrf(
            field.data,
            self.meta.csrf_secret,
            self.meta.csrf_time_limit,
            self.meta.csrf_field_name,
        )


class CsrfForm(FlaskForm):
    """The base of every form that changes something: CSRF-checked."""

    class Meta(FlaskForm.Meta):
        """Flask-WTF's settings with the lazily made page token."""

        csrf_class = _SessionCSRF


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


def long_text(label: Any, *, limit: int, required: Any = None) -> TextAreaField:
    """Return a textarea with the house rules: LF line breaks, a stated limit, and a
    message of its own when it is required and left empty."""
    validators: list[Any] = [
        DataRequired(message=required) if required is not None else Optional(),
        Length(max=limit, message=_l("At most %(max)d characters.", max=limit)),
    ]
    return TextAreaField(label, filters=[normalize_newlines], validators=validators)
