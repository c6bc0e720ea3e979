"""The other places to report that /channels lists: built in, or the instance's own.

The built-in list is translated like every other text. An instance replaces it with a
``channels.json`` in its folder (``config.CHANNELS_FILE``: names, texts by language,
numbers), so an operator can correct a number without a new release.

Every number below was found in the source named beside it; an organisation whose
number we could not find is listed with its site only. A wrong number is worse than
none: a frightened caller gives up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from ..config import ExternalChannel, Localized


@dataclass(frozen=True)
class Phone:
    """A number to call, and what it is for (may be empty)."""

    number: str
    note: str = ""


@dataclass(frozen=True)
class ShownChannel:
    """One channel as the page shows it, in the reader's language."""

    name: str
    about: str
    phones: tuple[Phone, ...] = ()
    site: str = ""


@dataclass(frozen=True)
class _BuiltIn:
    name: Any  # lazy strings: translated when the page is made
    about: Any
    phones: tuple[tuple[str, Any], ...]
    site: str

    def shown(self) -> ShownChannel:
        return ShownChannel(
            name=str(self.name),
            about=str(self.about),
            phones=tuple(Phone(number, str(note)) for number, note in self.phones),
            site=self.site,
        )


BUILT_IN: tuple[_BuiltIn, ...] = (
    _BuiltIn(
        _l("Huis voor Klokkenluiders (Dutch Whistleblowers Authority)"),
        _l(
            "Advice on reporting a suspected wrongdoing, free of charge and in confidence, "
            "and investigation of wrongdoing that affects the public interest."
        ),
        # huisvoorklokkenluiders.nl/onderzoek-door-het-huis
        (("088 133 10 00", ""),),
        "huisvoorklokkenluiders.nl",
    ),
    _BuiltIn(
        _l(
            "Defence integrity reporting point (Meldpunt Integriteit Defensie) and "
            "integrity organisation (Centrale Organisatie Integriteit Defensie, COID)"
        ),
        _l(
            "For current and former Defence staff: report a suspected integrity violation, "
            "unwanted behaviour included, or ask for advice. Since 2020 both answer directly "
            "to the ministry's secretary-general, and the reporting point is staffed from "
            "outside Defence."
        ),
        # The reporting line as the COID's announcement of October 2017 gave it
        # (blikopnieuws.nl, nieuws/257479). Since 2020 the reporting point (MID) is no
        # longer part of the COID; both sit under the secretary-general and the MID is
        # staffed externally (defensie.nl news, 5 July 2022). Whether the numbers still
        # reach the MID has not been confirmed by a call: docs/operations.md asks the
        # operator to check them before going live.
        (("0800-22 55 733", _l("in the Netherlands")), ("+31 70 414 33 00", _l("from abroad"))),
        "defensie.nl",
    ),
    _BuiltIn(
        _l("Royal Netherlands Marechaussee (Koninklijke Marechaussee)"),
        _l("The military police of the Dutch armed forces: report a criminal offence to it."),
        # The Marechaussee's contact centre (wegwijzermensenhandel.nl, its profile page).
        (("0800-1814", _l("contact centre")),),
        "marechaussee.nl",
    ),
    _BuiltIn(
        _l("Police: Veiligheid, Integriteit en Klachten (VIK)"),
        _l(
            "For police staff on a police mission: the integrity department of your own "
            "police unit, which looks into suspected integrity violations by police staff."
        ),
        (),  # no number found: the site only
        "politie.nl/themas/integriteit.html",
    ),
    _BuiltIn(
        _l("Meld Misdaad Anoniem (Report Crime Anonymously)"),
        _l(
            "Tell what you know about a crime without giving your name. It is independent of "
            "the police, does not see your number and does not record calls."
        ),
        # politie.nl/themas/meld-misdaad-anoniem.html
        (("0800-7000", ""),),
        "politie.nl/themas/meld-misdaad-anoniem.html",
    ),
    _BuiltIn(
        _l("Inspecteur-Generaal der Krijgsmacht"),
        _l("For members and former members of the armed forces."),
        (),
        "defensie.nl",
    ),
    _BuiltIn(
        _l("Inspectie Justitie en Veiligheid"),
        _l("Supervises the police and other organisations in justice and security."),
        (),
        "inspectie-jenv.nl",
    ),
    _BuiltIn(
        _l("Nationale ombudsman"),
        _l("Complaints about the conduct of government bodies."),
        # defensie.nl/onderwerpen/klachten-en-schadeclaims/marechaussee
        (("0800-335 55 55", ""),),
        "nationaleombudsman.nl",
    ),
    _BuiltIn(
        _l("European Anti-Fraud Office (OLAF)"),
        _l("Fraud involving EU funds, for EU-funded missions."),
        (),
        "anti-fraud.ec.europa.eu",
    ),
)


def in_language(text: Localized, language: str) -> str:
    """Return ``text`` in ``language``, else its text for any language, else English, else
    the first it has."""
    texts = dict(text)
    return texts.get(language) or texts.get("") or texts.get("en") or text[0][1]


def _configured(channel: ExternalChannel, language: str) -> ShownChannel:
    return ShownChannel(
        name=in_language(channel.name, language),
        about=in_language(channel.about, language),
        phones=tuple(
            Phone(number, in_language(note, language) if note else "")
            for number, note in channel.phones
        ),
        site=channel.site,
    )


def channels_to_show(configured: Sequence[ExternalChannel] | None) -> list[ShownChannel]:
    """Return the channels the page lists, in the reader's language: the instance's own
    list if it has one, else the built-in list."""
    if configured is None:
        return [channel.shown() for channel in BUILT_IN]
    language = str(get_locale())
    return [_configured(channel, language) for channel in configured]
