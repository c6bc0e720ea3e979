"""Refusals as sentences (dissent.web.messages): every typed refusal has its own words, in
English and Dutch, and lands next to the field it concerns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask_babel import force_locale

from dissent.crypto.codename import InvalidCodename, normalize_codename
from dissent.services import attachments
from dissent.services.budget import Budget, BudgetReached
from dissent.services.errors import (
    AlreadyDone,
    ChangedMeanwhile,
    ConsentProblem,
    ConsentRefused,
    InvalidInput,
    KdfBusy,
    Limit,
    NotAcknowledged,
    ObservationClosed,
    Problem,
    RateLimited,
    Refused,
    ServiceError,
    WeakPassword,
)
from dissent.web.forms import CsrfForm, long_text
from dissent.web.messages import codename_format_message, message_for, show_on

# Refusals no page explains with words: they end in a page of their own (404, 409,
# the "invalid link" page) or are answered by another route.
WITHOUT_WORDS = {
    "NotFound",
    "BlobMissing",
    "AttachmentUnreadable",
    "SubmissionReplayed",
    "EnrolmentInvalid",
    "GranteeUnavailable",
    "FileNotRemovable",  # the removal page says why (attachments/remove.html)
}
GENERIC = "This could not be done. Nothing was changed."


def all_refusals() -> list[type[ServiceError]]:
    found, queue = [], [ServiceError]
    while queue:
        kind = queue.pop()
        found.append(kind)
        queue.extend(kind.__subclasses__())
    return [k for k in found if k is not ServiceError]


def examples(kind: type[ServiceError]) -> list[ServiceError]:
    """Return an instance of ``kind`` for each way it can be raised."""
    if issubclass(kind, InvalidInput):
        return [kind("text", problem, limit=10) for problem in Problem]
    if issubclass(kind, RateLimited):
        return [kind(limit) for limit in Limit] + [kind(Limit.STAFF_LOGIN, retry_after=90)]
    if issubclass(kind, KdfBusy):
        return [kind(retry_after=2)]
    if issubclass(kind, WeakPassword):
        return [kind(reason) for reason in (kind.TOO_SHORT, kind.TOO_LONG, kind.TOO_GUESSABLE)]
    if issubclass(kind, ConsentRefused):
        return [kind(problem) for problem in ConsentProblem]
    if kind is ObservationClosed:
        return [kind(what) for what in (Refused.MESSAGE, Refused.FILE, Refused.DECISION)]
    if kind is NotAcknowledged:
        return [kind(Refused.ESCALATION), kind(Refused.FEEDBACK)]
    if kind is AlreadyDone:
        return [kind(Refused.DECISION), kind(Refused.ACKNOWLEDGEMENT)]
    if kind is ChangedMeanwhile:
        return [kind("NS3F-29QZ")]
    if kind is BudgetReached:
        return [kind(budget, retry_at=datetime(2027, 1, 15, 9, tzinfo=UTC)) for budget in Budget]
    if issubclass(kind, attachments.AttachmentTooLarge):
        return [kind(attachments.MAX_ATTACHMENT_BYTES), kind(1024)]
    return [kind()]


@pytest.mark.parametrize("language", ["en", "nl"])
def test_every_refusal_a_page_explains_has_its_own_words(app, language):
    explained = [k for k in all_refusals() if k.__name__ not in WITHOUT_WORDS]
    assert len(explained) > 20
    with app.test_request_context(), force_locale(language):
        generic = message_for(ServiceError())
        for kind in explained:
            for exc in examples(kind):
                text = message_for(exc)
                assert text and text != generic, f"{kind.__name__} {exc!r}"
                if language == "nl":
                    with force_locale("en"):
                        assert text != message_for(exc), f"untranslated: {kind.__name__}"
    assert generic != "" and (language == "nl") == (generic != GENERIC)


def test_context_decides_the_words_not_the_english_text(app):
    with app.test_request_context():
        closed_files = message_for(ObservationClosed(Refused.FILE))
        closed_messages = message_for(ObservationClosed(Refused.MESSAGE))
        too_long = message_for(InvalidInput("text", Problem.TOO_LONG, limit=42, detail="x"))
        leaders = message_for(InvalidInput("leaders", Problem.MISSING, detail="anything"))
    assert "files" in closed_files and "messages" in closed_messages
    assert too_long == "At most 42 characters."
    assert leaders == "Choose at least one leader of this mission."


class NoteForm(CsrfForm):
    text = long_text("Note", limit=10)
    reason = long_text("Reason", limit=10)


def test_show_on_puts_the_message_next_to_the_field_the_refusal_names(app):
    with app.test_request_context(method="POST", data={"text": "a", "reason": "b"}):
        form = NoteForm()
        show_on(form, InvalidInput("reason", Problem.TOO_LONG, limit=10))
        show_on(form, ConsentRefused(ConsentProblem.NEVER), field="text")
        show_on(form, InvalidInput("no_such_field", Problem.MISSING))

    assert form.reason.errors == ["At most 10 characters."]
    assert form.text.errors[0].startswith("The source chose never")
    # A field the form does not have: the first field the person can see.
    assert form.text.errors[1] == "This cannot be left empty."
    assert not form.csrf_token.errors


# --- what is wrong with a typed codename ------------------------------------------------


def refusal_of(typed: str):
    with pytest.raises(InvalidCodename) as refused:
        normalize_codename(typed)
    return refused.value


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abacus zoom", "A codename has 7 words separated by spaces; this has 2."),
        (
            "abacus zoom fiets Kaaas zomer vogel fluit",
            "Word 4, “Kaaas”, is not one of the codename words.",
        ),
        (
            "abacus zoom fiets kaas zomer vogel <b>" + "y" * 50,
            f"Word 7, “<b>{'y' * 36}…”, is not one of the codename words.",
        ),
    ],
    ids=["word-count", "typo-as-typed", "long-word-cut"],
)
def test_a_codename_typo_is_named_by_place_and_as_typed(app, typed, message):
    exc = refusal_of(typed)
    with app.test_request_context(), force_locale("en"):
        assert codename_format_message(exc, typed=typed) == message
    # The refusal itself names no word: only the page of the person who typed it does.
    assert "aaas" not in str(exc) and "yyy" not in str(exc)


def test_a_codename_refusal_without_the_typed_text_still_names_the_place(app):
    exc = refusal_of("abacus zoom fiets kaaas zomer vogel fluit")
    with app.test_request_context(), force_locale("en"):
        assert codename_format_message(exc, typed="") == (
            "Word 4 is not a codename word. Please check its spelling."
        )
