"""Helpers shared by the forms of every interface."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wtforms.fields.choices import SelectChoice


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
