"""Flags likely identifiers in a summary before it leaves the adviser's hands.

Heuristics, not a guarantee: they point the adviser at names from the mission's list,
ranks, unit designations, dates, places and numbers. A unit is a small anonymity set;
any of these can name a person. The adviser decides; the editor only makes sure they
looked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class FlagKind(StrEnum):
    """What kind of identifier a flag points at."""

    NAME = "name"
    RANK = "rank"
    UNIT = "unit"
    DATE = "date"
    PLACE = "place"
    NUMBER = "number"


@dataclass(frozen=True, order=True)
class Flag:
    """One flagged span of the text."""

    start: int
    end: int
    kind: FlagKind
    text: str


# Military and police ranks, English and Dutch, with common abbreviations.
RANKS = (
    "private",
    "pte",
    "pvt",
    "lance corporal",
    "corporal",
    "cpl",
    "sergeant",
    "sgt",
    "staff sergeant",
    "warrant officer",
    "lieutenant",
    "lt",
    "captain",
    "capt",
    "major",
    "maj",
    "lieutenant colonel",
    "colonel",
    "col",
    "brigadier",
    "general",
    "gen",
    "commander",
    "commodore",
    "admiral",
    "constable",
    "inspector",
    "superintendent",
    "chief inspector",
    "commissioner",
    "officer",
    "soldaat",
    "korporaal",
    "sergeant-majoor",
    "adjudant",
    "luitenant",
    "tweede luitenant",
    "eerste luitenant",
    "kapitein",
    "ritmeester",
    "majoor",
    "luitenant-kolonel",
    "kolonel",
    "brigadegeneraal",
    "generaal",
    "agent",
    "hoofdagent",
    "brigadier",
    "inspecteur",
    "hoofdinspecteur",
    "commissaris",
    "marechaussee",
)
_UNIT_WORDS = (
    "battalion",
    "company",
    "platoon",
    "squad",
    "section",
    "brigade",
    "regiment",
    "division",
    "battery",
    "squadron",
    "troop",
    "detachment",
    "task force",
    "unit",
    "team",
    "bataljon",
    "compagnie",
    "peloton",
    "groep",
    "sectie",
    "brigade",
    "regiment",
    "divisie",
    "eskadron",
    "detachement",
    "eenheid",
)
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "januari",
    "februari",
    "maart",
    "mei",
    "juni",
    "juli",
    "augustus",
    "oktober",
]
_WEEKDAYS = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "maandag",
    "dinsdag",
    "woensdag",
    "donderdag",
    "vrijdag",
    "zaterdag",
    "zondag",
    "yesterday",
    "today",
    "tomorrow",
    "gisteren",
    "vandaag",
    "morgen",
]
_PLACE_PREPOSITIONS = r"(?:in|at|near|from|to|outside|inside|te|bij|nabij|naar|vanuit|uit)"


def _words(alternatives: Iterable[str]) -> str:
    ordered = sorted(set(alternatives), key=len, reverse=True)
    return "|".join(re.escape(a).replace(r"\ ", r"\s+") for a in ordered)


_PATTERNS: tuple[tuple[FlagKind, re.Pattern[str]], ...] = (
    (FlagKind.RANK, re.compile(rf"\b(?:{_words(RANKS)})\b\.?", re.IGNORECASE)),
    (
        FlagKind.UNIT,
        re.compile(
            rf"\b(?:\d+(?:st|nd|rd|th|e|ste|de)?\s+)?(?:{_words(_UNIT_WORDS)})(?-i:\s+[A-Z0-9][\w-]*)?\b"
            r"|\b[A-Z]{1,5}-\d{1,4}\b",
            re.IGNORECASE,
        ),
    ),
    (
        FlagKind.DATE,
        re.compile(
            r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b"
            rf"|\b\d{{1,2}}\s+(?:{_words(_MONTHS)})\b(?:\s+\d{{4}})?"
            rf"|\b(?:{_words(_MONTHS)})\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?"
            rf"|\b(?:{_words(_WEEKDAYS)})\b",
            re.IGNORECASE,
        ),
    ),
    (FlagKind.PLACE, re.compile(rf"\b{_PLACE_PREPOSITIONS}\s+((?:[A-Z][\w'-]+\s?){{1,3}})")),
    (FlagKind.NUMBER, re.compile(r"\b\d[\d.,:]*\b")),
)


def flag_identifiers(text: str, *, names: Iterable[str] = ()) -> list[Flag]:
    """Return the flags in ``text``, sorted, without overlaps (the first kind wins)."""
    found: list[Flag] = []
    cleaned = [n.strip() for n in names if len(n.strip()) >= 2]
    if cleaned:
        pattern = re.compile(rf"\b(?:{_words(cleaned)})\b", re.IGNORECASE)
        found += [
            Flag(m.start(), m.end(), FlagKind.NAME, m.group(0)) for m in pattern.finditer(text)
        ]
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            group = 1 if kind is FlagKind.PLACE else 0
            start, end = match.start(group), match.end(group)
            value = text[start:end].rstrip()
            found.append(Flag(start, start + len(value), kind, value))
    result: list[Flag] = []
    for flag in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if result and flag.start < result[-1].end:
            continue  # overlaps a flag already taken
        result.append(flag)
    return result


def segments(text: str, flags: list[Flag]) -> list[tuple[str, FlagKind | None]]:
    """Return ``text`` cut into plain and flagged pieces, for highlighting."""
    out: list[tuple[str, FlagKind | None]] = []
    position = 0
    for flag in flags:
        if flag.start > position:
            out.append((text[position : flag.start], None))
        out.append((text[flag.start : flag.end], flag.kind))
        position = flag.end
    if position < len(text):
        out.append((text[position:], None))
    return out
