"""Typed refusals (dissent.services.errors): what they carry, and the text check."""

from __future__ import annotations

import pytest

from dissent.services.errors import (
    ConsentProblem,
    ConsentRefused,
    InvalidInput,
    LoginFailed,
    ObservationClosed,
    Problem,
    Refused,
    ServiceError,
    check_text,
)


def test_check_text_trims_and_normalises_line_breaks():
    assert check_text("  one\r\ntwo\rthree \n", field="text", limit=20) == "one\ntwo\nthree"


@pytest.mark.parametrize("text", ["", "   ", "\r\n\t"])
def test_check_text_refuses_an_empty_text_naming_the_field(text):
    with pytest.raises(InvalidInput) as refused:
        check_text(text, field="summary", limit=10)

    assert (refused.value.field, refused.value.problem) == ("summary", Problem.MISSING)


def test_check_text_allows_empty_when_not_required():
    assert check_text("  ", field="reason", limit=10, required=False) == ""


def test_check_text_counts_after_trimming_and_reports_the_limit():
    assert check_text(" " * 50 + "x" * 10, field="text", limit=10) == "x" * 10
    with pytest.raises(InvalidInput) as refused:
        check_text("x" * 11, field="text", limit=10)

    assert (refused.value.problem, refused.value.limit) == (Problem.TOO_LONG, 10)
    assert str(refused.value) == "text: longer than 10 characters"


def test_the_command_line_gets_the_detail_and_pages_get_the_codes():
    refused = InvalidInput("slug", Problem.MALFORMED, detail="slug: lower-case letters only")

    assert str(refused) == "slug: lower-case letters only"
    assert str(InvalidInput("end", Problem.OUT_OF_RANGE)) == "end: out of range"


def test_refusals_carry_codes_not_sentences_to_match():
    assert ConsentRefused(ConsentProblem.NEVER).problem is ConsentProblem.NEVER
    assert ObservationClosed(Refused.FILE).what is Refused.FILE
    assert ObservationClosed().what is Refused.MESSAGE


def test_only_a_failed_login_keeps_what_the_request_wrote():
    def every(kind):
        yield kind
        for sub in kind.__subclasses__():
            yield from every(sub)

    keeping = {kind.__name__ for kind in every(ServiceError) if kind.keep_changes}
    assert keeping == {"LoginFailed"}
    assert LoginFailed().keep_changes
