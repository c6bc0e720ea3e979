"""Identifier flags on a summary: what is flagged, as what kind, and what is left alone."""

from __future__ import annotations

from itertools import pairwise

import pytest

from dissent.services.identifiers import FlagKind, flag_identifiers, segments


def flagged(text: str, *, names: tuple[str, ...] = ()) -> list[tuple[FlagKind, str]]:
    """Return the kind and text of every flag in ``text``."""
    return [(flag.kind, flag.text) for flag in flag_identifiers(text, names=names)]


# --- names from the mission's list ----------------------------------------------------------


def test_a_listed_name_is_flagged_at_every_occurrence_whatever_its_case():
    text = "Jansen said it first; later JANSEN and jansen said it again."

    flags = flag_identifiers(text, names=["Jansen"])

    assert [(f.kind, f.text) for f in flags] == [
        (FlagKind.NAME, "Jansen"),
        (FlagKind.NAME, "JANSEN"),
        (FlagKind.NAME, "jansen"),
    ]
    assert all(text[f.start : f.end] == f.text for f in flags)


def test_a_listed_name_inside_a_longer_word_is_not_flagged():
    assert flagged("Annabel and Joanna were not there.", names=("Anna",)) == []


def test_the_full_name_wins_over_a_listed_first_name_and_may_span_a_line_break():
    text = "Jan  de\nVries met Jan."

    assert flagged(text, names=("Jan", "Jan de Vries")) == [
        (FlagKind.NAME, "Jan  de\nVries"),
        (FlagKind.NAME, "Jan"),
    ]


def test_blank_and_one_letter_names_are_ignored_and_names_are_trimmed():
    # A one-letter "name" would flag every "a" of the text.
    assert flagged("a plan was made", names=("a", "", "   ")) == []
    assert flagged("Bakker agreed.", names=("  Bakker \n",)) == [(FlagKind.NAME, "Bakker")]


def test_characters_with_a_meaning_in_patterns_are_taken_literally_in_names():
    assert flagged("O'Brien and J.Smit", names=("O'Brien", "J.Smit")) == [
        (FlagKind.NAME, "O'Brien"),
        (FlagKind.NAME, "J.Smit"),
    ]
    assert flagged("JxSmit was there", names=("J.Smit",)) == []


def test_a_listed_name_is_flagged_as_a_name_where_another_rule_would_flag_the_same_words():
    assert flagged("We drove to Kabul.", names=("Kabul",)) == [(FlagKind.NAME, "Kabul")]
    assert flagged("Major agreed.", names=("Major",)) == [(FlagKind.NAME, "Major")]


# --- ranks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rank"),
    [
        ("Sergeant Pieters was on duty.", "Sergeant"),
        ("Sgt. Pieters was on duty.", "Sgt."),
        ("Lt. Pieters was on duty.", "Lt."),
        ("Capt Pieters was on duty.", "Capt"),
        ("Lieutenant Colonel Pieters was on duty.", "Lieutenant Colonel"),
        ("Lance Corporal Pieters was on duty.", "Lance Corporal"),
        ("Staff Sergeant Pieters was on duty.", "Staff Sergeant"),
        ("Chief Inspector Pieters was on duty.", "Chief Inspector"),
        ("Constable Pieters was on duty.", "Constable"),
        ("Kapitein Pieters had dienst.", "Kapitein"),
        ("Luitenant-kolonel Pieters had dienst.", "Luitenant-kolonel"),
        ("Tweede luitenant Pieters had dienst.", "Tweede luitenant"),
        ("Sergeant-majoor Pieters had dienst.", "Sergeant-majoor"),
        ("Hoofdagent Pieters had dienst.", "Hoofdagent"),
        ("Commissaris Pieters had dienst.", "Commissaris"),
        ("Ritmeester Pieters had dienst.", "Ritmeester"),
    ],
)
def test_a_rank_before_a_name_is_flagged_whole_in_english_and_dutch(text, rank):
    assert flagged(text)[0] == (FlagKind.RANK, rank)


def test_a_rank_and_the_listed_name_after_it_are_flagged_separately():
    text = "Kapitein Bakker van de marechaussee"

    flags = flag_identifiers(text, names=["Bakker"])

    assert [(f.kind, f.text, f.start) for f in flags] == [
        (FlagKind.RANK, "Kapitein", 0),
        (FlagKind.NAME, "Bakker", 9),
        (FlagKind.RANK, "marechaussee", 23),
    ]


def test_rank_words_inside_ordinary_words_are_not_flagged():
    assert flagged("The majority generally privately agreed on the colonial agenda.") == []
    assert flagged("A gentle, cold, salty breeze; the Ltd. company's cold store.") == [
        (FlagKind.UNIT, "company")
    ]


# --- units ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "unit",
    [
        "3rd Battalion",
        "1st Platoon",
        "Company B",
        "Task Force Uruzgan",
        "section 5",
        "Team Alpha",
        "2e Compagnie",
        "3e peloton",
        "1ste Divisie",
        "2de eskadron",
        "peloton 3",
        "KCT-12",
    ],
)
def test_a_unit_designation_is_flagged_with_its_number_or_name(unit):
    assert flagged(f"It happened with {unit} last year.") == [(FlagKind.UNIT, unit)]


def test_only_a_capitalised_or_numbered_word_after_a_unit_word_names_the_unit():
    assert flagged("The team agreed.") == [(FlagKind.UNIT, "team")]
    assert flagged("The platoon sergeant agreed.") == [
        (FlagKind.UNIT, "platoon"),
        (FlagKind.RANK, "sergeant"),
    ]


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "date",
    [
        "12 March 2024",
        "12 March",
        "March 12th, 2024",
        "June 5",
        "Sept 3",
        "3 maart 2024",
        "12 mei",
        "oktober 3",
        "2024-03-12",
        "12/03/2024",
        "12-03-2024",
        "12.03.24",
        "Tuesday",
        "yesterday",
        "dinsdag",
        "gisteren",
        "vandaag",
    ],
)
def test_a_date_in_english_or_dutch_is_one_date_flag_not_numbers(date):
    assert flagged(f"It was {date} when it happened.") == [(FlagKind.DATE, date)]


def test_a_month_name_as_an_ordinary_word_is_not_a_date():
    assert flagged("They may march home early; it was decided by the junior staff.") == []


# --- places ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("It happened in Kabul.", "Kabul"),
        ("They stayed near Camp Marmal, as before.", "Camp Marmal"),
        ("He came from Tarin Kowt", "Tarin Kowt"),
        ("Het gebeurde bij Mazar-i-Sharif.", "Mazar-i-Sharif"),
        ("Ze reden vanuit Deh Rawod terug.", "Deh Rawod"),
        ("Het was te Kunduz.", "Kunduz"),
    ],
)
def test_capitalised_words_after_a_place_preposition_are_a_place(text, place):
    assert flagged(text) == [(FlagKind.PLACE, place)]


def test_a_place_is_at_most_three_words_and_not_a_lowercase_word():
    assert flagged("We met in New York City Hall.") == [(FlagKind.PLACE, "New York City")]
    assert flagged("We met in the hall near the gate.") == []


def test_two_places_in_one_sentence_are_flagged_apart():
    assert flagged("He came from Kunduz and went to Herat") == [
        (FlagKind.PLACE, "Kunduz"),
        (FlagKind.PLACE, "Herat"),
    ]


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Call 06-12345678 after dark.",
        "Call +31 6 12345678 after dark.",
        "Service number 123456789 was on the form.",
        "The vehicle had plate 23-KLM-9.",
        "At 14:30 exactly; 1,000 rounds.",
    ],
)
def test_every_digit_of_a_phone_service_or_other_number_is_covered_by_a_flag(text):
    flags = flag_identifiers(text)

    covered = {i for f in flags for i in range(f.start, f.end)}
    assert flags
    assert all(i in covered for i, c in enumerate(text) if c.isdigit())


def test_a_time_and_a_thousands_separator_stay_one_number():
    assert flagged("At 14:30 exactly; 1,000 rounds.") == [
        (FlagKind.NUMBER, "14:30"),
        (FlagKind.NUMBER, "1,000"),
    ]


# --- texts that must not be flagged ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "The training went well and the recruits were motivated.",
        "The trainers were patient, the rooms were cold and the food was fine.",
        "In the morning the course was postponed without a reason.",
        "De training verliep goed en iedereen was tevreden over de lessen.",
        "Het examen werd uitgesteld zonder dat iemand het uitlegde.",
        "Nobody explained why the figures in the evaluation were rounded up.",
        "They were told to keep quiet about it, and most of them did.",
    ],
)
def test_an_ordinary_sentence_without_identifiers_has_no_flags(text):
    assert flag_identifiers(text, names=["Jansen", "De Vries"]) == []


def test_an_empty_text_has_no_flags():
    assert flag_identifiers("", names=["Jansen"]) == []


# --- overlaps and segments ------------------------------------------------------------------


def test_flags_are_sorted_and_never_overlap():
    text = (
        "On 12 March 2024 Sgt. Jansen of the 3rd Battalion (KCT-12) phoned 06-12345678 "
        "from Camp Marmal; op maandag 3 maart zag kapitein De Vries het in Mazar-i-Sharif."
    )

    flags = flag_identifiers(text, names=["Jansen", "De Vries"])

    assert flags == sorted(flags)
    assert all(a.end <= b.start for a, b in pairwise(flags))
    assert {f.kind for f in flags} == set(FlagKind)


def test_segments_cut_the_text_into_plain_and_flagged_pieces_that_add_up_to_it():
    text = "Jansen was seen in Kabul on Tuesday"
    flags = flag_identifiers(text, names=["Jansen"])

    pieces = segments(text, flags)

    assert pieces == [
        ("Jansen", FlagKind.NAME),
        (" was seen in ", None),
        ("Kabul", FlagKind.PLACE),
        (" on ", None),
        ("Tuesday", FlagKind.DATE),
    ]
    assert "".join(piece for piece, _ in pieces) == text


def test_segments_without_flags_are_the_whole_text_and_nothing_for_an_empty_one():
    assert segments("nothing here", []) == [("nothing here", None)]
    assert segments("", []) == []
