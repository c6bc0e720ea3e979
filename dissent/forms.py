"""Helpers shared by the forms of every interface."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError


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
