"""The interface languages: which there are, and which one a request gets."""

from __future__ import annotations

from flask import request

# Each language with its name in itself, for the visible switch.
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}
LANGUAGES = tuple(LANGUAGE_NAMES)


def select_locale() -> str | None:
    """Return the language: the visible switch's cookie, else the browser's preference."""
    chosen = request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"
