"""Helpers shared by the forms of every interface."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from flask import request, session
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import Field, SelectField, TextAreaField
from wtforms.csrf.core import CSRF
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

# The session key of the CSRF token (the name Flask-WTF used, so sessions carry over).
CSRF_SESSION_KEY = "csrf_token"
_CSRF_TOKEN_BYTES = 32


def csrf_token() -> str:
    """Return the current session's CSRF token, creating it on first use.

    A synchronizer token: one random value per session, kept in the session and put in
    every form. The session lives on the server, sealed (docs/decisions.md, 9), so the token
    needs no signature of its own (Flask-WTF signs it because Flask's default session is a
    cookie). It lives and dies with the session: the idle timeout is its time limit.
    """
    token = session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(_CSRF_TOKEN_BYTES)
        session[CSRF_SESSION_KEY] = token
    return token


def check_csrf_token(submitted: object) -> None:
    """Refuse a missing token, or one that is not this session's (a ValidationError)."""
    if not isinstance(submitted, str) or not submitted:
        raise ValidationError(_l("The form's security token is missing."))
    expected = session.get(CSRF_SESSION_KEY)
    if not isinstance(expected, str) or not hmac.compare_digest(
        submitted.encode("utf-8"), expected.encode("utf-8")
    ):
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


class CsrfForm(FlaskForm):
    """The base of every form that changes something: CSRF-checked."""

    class Meta(FlaskForm.Meta):
        """Flask-WTF's settings with dissent's session-bound token."""

        csrf_class = _SessionCSRF

        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            """Read forms only from form bodies: Flask-WTF would also take a JSON body,
            and a JSON value that is not an object (``5``, ``[1, 2]``) made that a 500.
            A JSON body is simply a post without the form's fields (and its token)."""
            if request.is_json and not request.form and not request.files:
                formdata = request.form  # empty: every field is missing
            return super().wrap_formdata(form, formdata)


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
