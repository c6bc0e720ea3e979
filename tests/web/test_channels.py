"""The other places to report (dissent.web.channels): the built-in list and an instance's own."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from dissent import config
from dissent.config import ExternalChannel
from dissent.web.channels import BUILT_IN, channels_to_show, in_language


def test_a_text_is_shown_in_the_readers_language_else_a_fallback():
    both = (("en", "Integrity desk"), ("nl", "Integriteitsloket"))

    assert in_language(both, "nl") == "Integriteitsloket"
    assert in_language(both, "de") == "Integrity desk"  # English when there is no German
    assert in_language((("", "COID"),), "nl") == "COID"
    assert in_language((("nl", "alleen Nederlands"),), "en") == "alleen Nederlands"


def test_the_built_in_list_keeps_the_rules_an_operators_file_must_keep():
    """Every number and site of the built-in list would pass the checks config.py makes
    of an instance's channels.json: one standard for both."""
    for channel in BUILT_IN:
        for number, _note in channel.phones:
            assert config._PHONE.fullmatch(number), number
        assert config._SITE.fullmatch(channel.site), channel.site


def test_without_a_list_of_its_own_an_instance_shows_the_built_in_one(app):
    with app.test_request_context(), force_locale("en"):
        shown = channels_to_show(None)

    names = [c.name for c in shown]
    assert len(shown) == len(BUILT_IN)
    assert any("COID" in n for n in names) and any("Marechaussee" in n for n in names)
    [coid] = [c for c in shown if "COID" in c.name]
    assert [(p.number, p.note) for p in coid.phones] == [
        ("0800-22 55 733", "in the Netherlands"),
        ("+31 70 414 33 00", "from abroad"),
    ]
    [police] = [c for c in shown if c.name.startswith("Police")]
    assert police.phones == () and police.site  # no number found: the site only


@pytest.mark.parametrize(("language", "about"), [("en", "Complaints."), ("nl", "Klachten.")])
def test_an_instances_own_list_is_shown_in_the_readers_language(app, language, about):
    own = ExternalChannel(
        name=(("", "Ombudsman"),),
        about=(("en", "Complaints."), ("nl", "Klachten.")),
        phones=(("0800-335 55 55", ()),),
        site="nationaleombudsman.nl",
    )

    with app.test_request_context(), force_locale(language):
        [shown] = channels_to_show([own])

    assert (shown.name, shown.about, shown.site) == ("Ombudsman", about, "nationaleombudsman.nl")
    assert [(p.number, p.note) for p in shown.phones] == [("0800-335 55 55", "")]
