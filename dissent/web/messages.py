"""What a refusal says to the person who met it, in their language: one place for all.

Services raise typed exceptions (``dissent.services.errors`` and the attachment limits);
:func:`message_for` turns each into a sentence, and :func:`show_on` puts it next to the
form field it concerns. Nothing here reads an exception's English text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from flask import make_response
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..crypto.codename import CODENAME_WORDS, InvalidCodename, typed_words
from ..models.mission import NAME_MAX
from ..services import attachments, first_files
from ..services.attachments import (
    AttachmentError,
    AttachmentOutOfSpace,
    AttachmentTooLarge,
    EmptyAttachment,
    ObservationFull,
    TooManyAttachments,
)
from ..services.budget import Budget, BudgetReached
from ..services.errors import (
    AccountExists,
    AlreadyDone,
    ChangedMeanwhile,
    CodenameNotFound,
    ConsentProblem,
    ConsentRefused,
    EnrolmentCodeRejected,
    EnrolmentUsedMeanwhile,
    InvalidInput,
    InvalidState,
    KdfBusy,
    Limit,
    LoginFailed,
    MissionExists,
    MissionUnavailable,
    NotAcknowledged,
    ObservationClosed,
    Problem,
    RateLimited,
    Refused,
    ServiceError,
    SigningKeyMismatch,
    TotpRejected,
    TransitionRefused,
    WeakPassword,
)
from ..services.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from .templating import filesize

# A value refused for a reason that needs words of its own; others get the general
# sentence for their problem.
_INPUT: dict[tuple[str, Problem], Any] = {
    ("leaders", Problem.MISSING): _l("Choose at least one leader of this mission."),
    ("assignee", Problem.NOT_ALLOWED): _l("Choose an adviser of this mission."),
    ("fingerprint", Problem.MALFORMED): _l(
        "This is not the fingerprint of their key, so it was not confirmed. Ask them to "
        "read it again from their own screen. If it still differs, do not confirm: tell "
        "the other advisers, as someone else's key may have been put in its place."
    ),
    ("slug", Problem.MALFORMED): _l(
        "Use 1 to 40 lower-case letters, digits and hyphens, "
        "starting and ending with a letter or digit."
    ),
    ("username", Problem.MALFORMED): _l(
        "Use 2 to 64 lower-case letters, digits, dots, hyphens or underscores."
    ),
    ("missions", Problem.NOT_ALLOWED): _l("An operator account belongs to no mission."),
    ("missions", Problem.MISSING): _l("Advisers and leaders belong to at least one mission."),
    ("missions", Problem.UNKNOWN): _l("Choose missions from the list."),
    ("planned_for", Problem.MISSING): _l("Give the date by which the action is planned."),
    ("record_title", Problem.MISSING): _l("Name the report or figure this summary contradicts."),
    ("record_period", Problem.MISSING): _l("Give the period the report or figure covers."),
    ("record_decision", Problem.MISSING): _l(
        "This escalation contradicts an official report or figure: say whether it was "
        "corrected, a correction is planned, or it is not corrected."
    ),
    ("record_note", Problem.MISSING): _l(
        "Give the reference of the correction, or the reason it is not corrected."
    ),
    ("correction_due", Problem.MISSING): _l("Give the date by which it will be corrected."),
    ("correction_due", Problem.OUT_OF_RANGE): _l(
        "This date is in the past: was the report or figure corrected?"
    ),
    ("end", Problem.OUT_OF_RANGE): _l("The last day is before the first day."),
    ("email", Problem.MALFORMED): _l(
        "Type one mail address, such as name@example.org, or leave it empty."
    ),
}
_PROBLEM = {
    Problem.MISSING: _l("This cannot be left empty."),
    Problem.OUT_OF_RANGE: _l("This value is outside what is allowed."),
    Problem.MALFORMED: _l("This is not in the form asked for."),
    Problem.NOT_ALLOWED: _l("This choice is not possible here."),
    Problem.UNKNOWN: _l("Choose one of the options in the list."),
}
_CLOSED = {
    Refused.MESSAGE: _l("This observation is closed; it takes no more messages."),
    Refused.DECISION: _l("This observation is closed; it takes no more messages."),
    Refused.FILE: _l("This observation is closed; it takes no more files."),
}
_NOT_ACKNOWLEDGED = {
    Refused.ESCALATION: _l("Acknowledge the observation before escalating it."),
    Refused.FEEDBACK: _l("Acknowledge the observation before giving feedback."),
}
_ALREADY = {
    Refused.DECISION: _l("This proposal was already answered or withdrawn."),
    Refused.ACKNOWLEDGEMENT: _l("This was acknowledged already."),
}
_CONSENT = {
    ConsentProblem.NEVER: _l(
        "The source chose never to have this escalated. "
        "You can still talk with them and give advice."
    ),
    ConsentProblem.NOT_APPROVED: _l(
        "The source asked to approve the summary first: propose this exact text, "
        "and escalate it once they have approved it."
    ),
    ConsentProblem.RECORD_NOT_APPROVED: _l(
        "The source approved this text with another statement about the official report or "
        "figure: propose it with this statement, and escalate it once they have approved it."
    ),
    ConsentProblem.NOT_ASKED_FIRST: _l(
        "Proposals are only for sources who asked to approve the summary first."
    ),
}
_RATE = {
    Limit.STAFF_LOGIN: _l("Too many attempts. Wait a few minutes and try again."),
    Limit.STAFF_TOTP: _l("Too many attempts. Wait five minutes."),
    Limit.SOURCE_LOGIN: _l("Too many attempts right now. Wait a minute and try again."),
}
PASSWORD_REFUSALS = {
    WeakPassword.TOO_SHORT: _l(
        "This password is too short: use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH
    ),
    WeakPassword.TOO_LONG: _l(
        "This password is too long: use at most %(n)d characters.", n=MAX_PASSWORD_LENGTH
    ),
    WeakPassword.TOO_GUESSABLE: _l(
        "This password is too common or too easy to guess. A few unrelated words work well."
    ),
}
_SIMPLE: dict[type[ServiceError], Any] = {
    MissionExists: _l("A mission with this short name exists already."),
    AccountExists: _l("This username is taken."),
    LoginFailed: _l("Wrong username or password."),
    EnrolmentUsedMeanwhile: _l(
        "This link was used a moment ago, in another browser or tab, so nothing you "
        "entered here was kept. If that was not you, tell the operator at once."
    ),
    EnrolmentCodeRejected: _l(
        "That code does not match. Check the app and the clock, then try the next code."
    ),
    TotpRejected: _l("That code is wrong, expired or already used. Wait for the next one."),
    CodenameNotFound: _l("No observation was found for this codename. Check each word."),
    KdfBusy: _l("Many people are logging in right now. Wait a moment, then log in again."),
    MissionUnavailable: _l("This mission cannot take observations. Choose another."),
    TransitionRefused: _l("That change is not possible from the current state."),
    SigningKeyMismatch: _l(
        "Your signing key does not match your account. Log out, log in again and retry; "
        "if it happens again, tell the operator."
    ),
    EmptyAttachment: _l("This file is empty. Choose another file."),
    AttachmentOutOfSpace: _l(
        "The server is out of space, so this file was not stored. Nothing else was lost. "
        "Please try again later."
    ),
    ChangedMeanwhile: _l(
        "A colleague changed this just now, so nothing was done. It is shown below as it "
        "stands; anything you typed is kept. Check it, then send again if it still applies."
    ),
}


def _input_message(exc: InvalidInput) -> str:
    specific = _INPUT.get((exc.field, exc.problem))
    if specific is not None:
        return str(specific)
    if exc.field == "name":
        return str(_("Give the mission a name of at most %(n)d characters.", n=NAME_MAX))
    if exc.problem is Problem.TOO_LONG and exc.field == "end":
        return str(_("A report covers at most %(days)d days.", days=exc.limit or 0))
    if exc.problem is Problem.TOO_LONG:
        return str(_("At most %(max)d characters.", max=exc.limit or 0))
    return str(_PROBLEM[exc.problem])


def _attachment_message(exc: AttachmentError) -> str:
    # The limits are read when the message is made (tests lower them).
    if isinstance(exc, AttachmentTooLarge) and exc.limit < attachments.MAX_ATTACHMENT_BYTES:
        return str(
            _(
                "This file is too large for the room left in this observation (%(size)s).",
                size=filesize(exc.limit),
            )
        )
    if isinstance(exc, AttachmentTooLarge):
        return str(
            _(
                "This file is too large: the most a file can be is %(size)s.",
                size=filesize(exc.limit),
            )
        )
    if isinstance(exc, TooManyAttachments):
        return str(
            _(
                "This observation already has %(n)s files, the most it can hold.",
                n=attachments.MAX_ATTACHMENTS_PER_OBSERVATION,
            )
        )
    if isinstance(exc, ObservationFull):
        return str(
            _(
                "The files of this observation would exceed %(size)s together.",
                size=filesize(attachments.MAX_TOTAL_BYTES_PER_OBSERVATION),
            )
        )
    if isinstance(exc, EmptyAttachment):
        return str(_SIMPLE[EmptyAttachment])
    return str(_("This file could not be attached."))


def _budget_message(exc: BudgetReached) -> str:
    # Said to someone who may be frightened: what happened, that nothing was lost, and
    # exactly when to try again (the hour's budget starts at a full hour, UTC).
    when = {
        "time": f"{exc.retry_at:%H:%M}",
        "minutes": max(1, math.ceil(exc.retry_after_seconds() / 60)),
    }
    if exc.budget is Budget.OBSERVATIONS:
        return str(
            _(
                "This service takes a limited number of new observations each hour, and "
                "that number has been reached. Nothing was lost: what you typed is still "
                "in the form below, and none of it was stored. Please keep this page open "
                "and send it again after %(time)s UTC (in about %(minutes)d minutes).",
                **when,
            )
        )
    return str(
        _(
            "This service takes a limited amount of new files and messages each hour, and "
            "that amount has been reached, so this was not stored. Nothing else was lost: "
            "your observation and everything already in it are safe, and what you typed "
            "is still shown here. Please try again after %(time)s UTC (in about "
            "%(minutes)d minutes).",
            **when,
        )
    )


def budget_refusal(page: ResponseReturnValue, exc: BudgetReached) -> ResponseReturnValue:
    """Return ``page`` as the answer to a filing refused by its hourly budget: 503,
    with when to try again (Retry-After)."""
    response = make_response(page)
    response.status_code = 503
    response.headers["Retry-After"] = str(exc.retry_after_seconds())
    return response


# Refusals whose words depend on what they carry: each type with the function that words it.
def _rate_message(exc: RateLimited) -> str:
    if exc.retry_after and exc.limit is Limit.STAFF_LOGIN:
        minutes = -(-exc.retry_after // 60)  # rounded up: never "0 min."
        return str(_("Too many attempts. Try again in %(minutes)d min.", minutes=minutes))
    return str(_RATE[exc.limit])


_WORDED: tuple[tuple[type[Any], Callable[[Any], str]], ...] = (
    (InvalidInput, _input_message),
    (RateLimited, _rate_message),
    (AttachmentError, _attachment_message),
    (BudgetReached, _budget_message),
)


def message_for(exc: ServiceError) -> str:
    """Return what to tell the reader about ``exc``, in their language."""
    for kind in type(exc).__mro__:
        if kind in _SIMPLE:
            return str(_SIMPLE[kind])
    for kind, words in _WORDED:
        if isinstance(exc, kind):
            return words(exc)
    if isinstance(exc, WeakPassword):
        return str(PASSWORD_REFUSALS.get(exc.reason, PASSWORD_REFUSALS[WeakPassword.TOO_GUESSABLE]))
    if isinstance(exc, ConsentRefused):
        return str(_CONSENT[exc.problem])
    if isinstance(exc, ObservationClosed):
        return str(_CLOSED.get(exc.what, _CLOSED[Refused.MESSAGE]))
    if isinstance(exc, NotAcknowledged) and exc.action in _NOT_ACKNOWLEDGED:
        return str(_NOT_ACKNOWLEDGED[exc.action])
    if isinstance(exc, AlreadyDone) and exc.what in _ALREADY:
        return str(_ALREADY[exc.what])
    if isinstance(exc, InvalidState):
        return str(_("That is not possible where the observation stands now."))
    return str(_("This could not be done. Nothing was changed."))


def show_on(form: Any, exc: ServiceError, *, field: str | None = None) -> None:
    """Put the message for ``exc`` next to the form field it concerns: ``field``, else the
    field an :class:`InvalidInput` names, else the form's first field."""
    name = field or (exc.field if isinstance(exc, InvalidInput) else None)
    if not name or name not in form:
        name = next(f.name for f in form if f.name != "csrf_token")
    target = form[name]
    target.errors = [*list(target.errors or []), message_for(exc)]


# A pasted paragraph is not echoed whole: the word named is cut to this many characters.
SHOWN_WORD_MAX = 40


def codename_format_message(exc: InvalidCodename, *, typed: str) -> str:
    """Return what is wrong with the form of the codename ``typed``: the word that is in
    no list, by its place and as typed, or how many words there were.

    The answer goes only into the page of the person who typed it; the exception itself
    names no word, so nothing that reaches a log does.
    """
    words = typed_words(typed)
    if exc.position is not None and 0 < exc.position <= len(words):
        word = words[exc.position - 1]
        if len(word) > SHOWN_WORD_MAX:
            word = word[: SHOWN_WORD_MAX - 1] + "…"
        return str(
            _(
                "Word %(n)d, “%(word)s”, is not one of the codename words.",
                n=exc.position,
                word=word,
            )
        )
    if exc.position is not None:
        return str(
            _("Word %(n)d is not a codename word. Please check its spelling.", n=exc.position)
        )
    return str(
        _(
            "A codename has %(words)d words separated by spaces; this has %(n)d.",
            words=CODENAME_WORDS,
            n=exc.word_count or 0,
        )
    )


def first_files_message(exc: AttachmentError) -> str:
    """Return what is said next to the files of a new observation's form when they are
    refused: their limits are the form's own (``services.first_files``)."""
    if isinstance(exc, AttachmentTooLarge):
        return str(
            _(
                "Your files are larger than %(size)s together. Choose fewer or smaller "
                "files; you can add more from your inbox afterwards.",
                size=filesize(first_files.MAX_FIRST_FILES_BYTES),
            )
        )
    if isinstance(exc, TooManyAttachments):
        return str(
            _(
                "At most %(n)s files can be sent with the observation. Choose fewer; you "
                "can add the others from your inbox afterwards.",
                n=first_files.MAX_FIRST_FILES,
            )
        )
    if isinstance(exc, EmptyAttachment):
        return str(_("One of the files is empty. Choose the files again without it."))
    return message_for(exc)
