"""The shared form helpers: dates, line breaks, choices, long texts and the CSRF token."""

from __future__ import annotations

from datetime import date

import pytest
from flask import session
from wtforms.validators import ValidationError

from dissent.web.forms import (
    CheckboxesField,
    ChoiceField,
    CsrfForm,
    check_csrf_token,
    choices_from,
    csrf_token,
    has_control_characters,
    long_text,
    normalize_newlines,
    parse_day,
    seen_revision,
)

# --- parse_day ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2024-03-05", date(2024, 3, 5)),
        ("  2024-03-05\n", date(2024, 3, 5)),
        ("2024-02-29", date(2024, 2, 29)),
        ("0001-01-01", date(1, 1, 1)),
    ],
)
def test_a_day_written_as_yyyy_mm_dd_is_read(text, day):
    assert parse_day(text) == day


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "2023-02-29",
        "2024-13-01",
        "2024-04-31",
        "2024-3-5",
        "05-03-2024",
        "2024/03/05",
        "20240305",
        "2024-03-05T10:00",
        "2024-03-05 x",
        "\uff12\uff10\uff12\uff14-\uff10\uff13-\uff10\uff15",  # full-width digits
    ],
)
def test_anything_but_a_real_day_as_yyyy_mm_dd_is_none(text):
    assert parse_day(text) is None


# --- seen_revision -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "seen"),
    [
        ({"seen": "0"}, 0),
        ({"seen": "17"}, 17),
        ({"seen": "999999999"}, 999_999_999),
        ({"seen": "1000000000"}, None),
        ({"seen": "-1"}, None),
        ({"seen": " 3"}, None),
        ({"seen": "3.0"}, None),
        ({"seen": ""}, None),
        ({}, None),
    ],
)
def test_the_revision_a_page_showed_is_read_only_from_a_short_number(app, form, seen):
    with app.test_request_context(method="POST", data=form):
        assert seen_revision() == seen


# --- line breaks, choices, long texts -------------------------------------------------------


def test_every_kind_of_line_break_becomes_a_line_feed():
    assert normalize_newlines("one\r\ntwo\rthree\nfour") == "one\ntwo\nthree\nfour"
    assert normalize_newlines(None) is None


def test_choices_come_from_a_mapping_or_pairs_with_values_as_text():
    from_mapping = choices_from({1: "One", "b": "Bee"})
    from_pairs = choices_from([(2, "Two"), ("", "—")])

    assert [(c.value, c.label) for c in from_mapping] == [("1", "One"), ("b", "Bee")]
    assert [(c.value, c.label) for c in from_pairs] == [("2", "Two"), ("", "—")]


class NoteForm(CsrfForm):
    class Meta:
        csrf = False

    note = long_text("Note", limit=5, required="Write a note.")
    remark = long_text("Remark", limit=5)


def test_a_long_text_counts_a_browser_line_break_as_one_character(app):
    with app.test_request_context(method="POST", data={"note": "ab\r\ncd", "remark": ""}):
        form = NoteForm()
        assert form.validate(), form.errors
        assert form.note.data == "ab\ncd"


def test_a_long_text_refuses_more_than_its_limit_and_a_required_one_says_so(app):
    with app.test_request_context(method="POST", data={"note": "", "remark": "abcdef"}):
        form = NoteForm()
        assert not form.validate()

    assert form.note.errors == ["Write a note."]
    assert form.remark.errors == ["At most 5 characters."]


class PickForm(CsrfForm):
    class Meta:
        csrf = False

    pick = ChoiceField("Pick", coerce=int, choices=choices_from({1: "One", 2: "Two"}))


@pytest.mark.parametrize("value", ["3", "not a number"])
def test_a_value_not_in_the_list_is_refused_in_plain_words(app, value):
    with app.test_request_context(method="POST", data={"pick": value}):
        form = PickForm()
        assert not form.validate()

    assert form.pick.errors == ["Choose one of the options in the list."]


def test_a_value_from_the_list_is_accepted_and_coerced(app):
    with app.test_request_context(method="POST", data={"pick": "2"}):
        form = PickForm()
        assert form.validate()

    assert form.pick.data == 2


class LeadersForm(CsrfForm):
    class Meta:
        csrf = False

    chosen = CheckboxesField("Send to", coerce=int, choices=choices_from({1: "One", 2: "Two"}))


def test_a_list_of_checkboxes_shows_each_option_as_a_box_with_its_label(app):
    with app.test_request_context():
        form = LeadersForm(data={"chosen": [2]})
        boxes = [(str(option), str(option.label)) for option in form.chosen]

    assert [b for b, _ in boxes] == [
        '<input id="chosen-0" name="chosen" type="checkbox" value="1">',
        '<input checked id="chosen-1" name="chosen" type="checkbox" value="2">',
    ]
    assert [label for _, label in boxes] == [
        '<label for="chosen-0">One</label>',
        '<label for="chosen-1">Two</label>',
    ]


def test_a_ticked_box_not_in_the_list_is_refused_in_plain_words(app):
    with app.test_request_context(method="POST", data={"chosen": ["1", "9"]}):
        form = LeadersForm()
        assert not form.validate()

    assert form.chosen.errors == ["Choose one of the options in the list."]


def test_no_ticked_box_is_an_empty_choice(app):
    # A browser leaves unticked boxes out of the form it sends.
    with app.test_request_context(method="POST", data={"something": "else"}):
        form = LeadersForm()
        assert form.validate()

    assert form.chosen.data == []


# --- CSRF token -----------------------------------------------------------------------------


def test_the_csrf_token_is_one_value_per_session_and_stores_nothing(app):
    with app.test_request_context():
        first = csrf_token()
        assert csrf_token() == first
        assert dict(session) == {}  # made from the cookie's key: no record needed
    with app.test_request_context():
        assert csrf_token() != first


def test_a_missing_token_is_refused_as_missing(app):
    with app.test_request_context():
        csrf_token()
        for submitted in (None, "", 12345, b"bytes"):
            with pytest.raises(ValidationError, match="missing"):
                check_csrf_token(submitted)


def test_a_token_of_another_session_is_refused_as_not_matching(app):
    with app.test_request_context():
        foreign = csrf_token()
    with app.test_request_context():
        with pytest.raises(ValidationError, match="does not match"):
            check_csrf_token(foreign)  # before this session showed a form
        own = csrf_token()
        with pytest.raises(ValidationError, match="does not match"):
            check_csrf_token(foreign)
        with pytest.raises(ValidationError, match="does not match"):
            check_csrf_token(own + "x")
        check_csrf_token(own)


def test_a_form_makes_its_token_only_when_the_page_shows_it(app):
    with app.test_request_context():
        form = CsrfForm()
        assert not session.bound  # a form answered with a redirect needs no cookie

        html = str(form.csrf_token())

        assert csrf_token() in html
        assert session.bound  # the browser is given the cookie the token was made with


# --- control characters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "multiline", "refused"),
    [
        ("Kabul, 3 March", False, False),
        ("tab\tseparated", False, False),
        ("ünïcödé 中文 😀 \u200b\u202e", False, False),  # format characters are not controls
        ("two\nlines", False, True),
        ("two\r\nlines\tand a tab", True, False),
        ("nul\x00", True, True),
        ("bell\x07", True, True),
        ("escape\x1b[2J", True, True),
        ("delete\x7f", True, True),
        ("next line\u0085", True, True),
    ],
)
def test_control_characters_are_told_from_typed_text(text, multiline, refused):
    assert has_control_characters(text, multiline=multiline) is refused
