"""Domain exceptions: what a service refuses, by type, never by sentence.

Views turn each into a message in the reader's language in one place
(``dissent.web.messages``); nothing matches an error by its text. The English text an
exception carries is for the command line and logs only.
"""

from __future__ import annotations

import enum


class ServiceError(Exception):
    """Base of the domain exceptions."""

    # Most refusals leave nothing to keep: the request's transaction is rolled back.
    # One that is itself a record (a failed login, audited) sets this.
    keep_changes = False


class NotFound(ServiceError):
    """The thing asked for does not exist or is not visible to the caller."""


class CodenameNotFound(ServiceError):
    """No source has this codename (said only after the full derivation time)."""


class SubmissionReplayed(ServiceError):
    """This form was already submitted: the observation exists once."""


class MissionUnavailable(ServiceError):
    """The mission does not exist, is inactive, or has no adviser to read reports."""


class MissionExists(ServiceError):
    """A mission with this slug exists already."""


class AccountExists(ServiceError):
    """An account with this username exists already."""


class EnrolmentInvalid(ServiceError):
    """The enrolment link is unknown, used or expired."""


class EnrolmentUsedMeanwhile(EnrolmentInvalid):
    """The enrolment link was used by another request while this one was being checked."""


class WeakPassword(ServiceError):
    """The password is refused; ``reason`` is one of the codes below."""

    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    TOO_GUESSABLE = "too_guessable"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LoginFailed(ServiceError):
    """Username or password wrong, or the account is inactive (never which)."""

    keep_changes = True  # every failed attempt is audited


class TotpRejected(ServiceError):
    """The one-time code is wrong, expired or was used before."""


class EnrolmentCodeRejected(TotpRejected):
    """The first code of a new authenticator does not match its secret."""


class Limit(enum.StrEnum):
    """What a rate limit guards."""

    STAFF_LOGIN = "staff-login"  # passwords of one account
    STAFF_TOTP = "staff-totp"  # second-factor codes of one account
    SOURCE_LOGIN = "source-login"  # codenames, all sources together


class RateLimited(ServiceError):
    """Too many attempts of ``limit``; try again later (in ``retry_after`` seconds,
    where that is known)."""

    def __init__(self, limit: Limit, *, retry_after: int | None = None) -> None:
        super().__init__(limit.value)
        self.limit = limit
        self.retry_after = retry_after


class KdfBusy(ServiceError):
    """Every slot for deriving a codename's keys is taken, and so is the short queue
    before them: try again in ``retry_after`` seconds."""

    def __init__(self, *, retry_after: int) -> None:
        super().__init__(f"busy: retry after {retry_after} s")
        self.retry_after = retry_after


class Problem(enum.StrEnum):
    """Why a value was refused."""

    MISSING = "missing"  # empty, or nothing chosen
    TOO_LONG = "too_long"  # longer than ``limit`` characters
    OUT_OF_RANGE = "out_of_range"  # a number or date outside what is allowed
    MALFORMED = "malformed"  # not in the form the value needs
    NOT_ALLOWED = "not_allowed"  # a well-formed value this case does not take
    UNKNOWN = "unknown"  # names something that does not exist


class InvalidInput(ServiceError):
    """A value given to a service is refused.

    ``field`` names the form field it came from, so the message goes next to it;
    ``problem`` says why; ``limit`` is the limit a too-long text exceeded. ``detail``
    is the English the command line prints.
    """

    def __init__(
        self, field: str, problem: Problem, *, limit: int | None = None, detail: str = ""
    ) -> None:
        super().__init__(detail or f"{field}: {problem.value.replace('_', ' ')}")
        self.field = field
        self.problem = problem
        self.limit = limit


def check_text(text: str, *, field: str, limit: int, required: bool = True) -> str:
    """Return ``text`` without surrounding space and with LF line breaks, or raise
    :class:`InvalidInput` when it is empty (and ``required``) or longer than ``limit``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not text:
        raise InvalidInput(field, Problem.MISSING)
    if len(text) > limit:
        raise InvalidInput(
            field, Problem.TOO_LONG, limit=limit, detail=f"{field}: longer than {limit} characters"
        )
    return text


class InvalidState(ServiceError):
    """The action does not fit where the observation (or escalation) stands now."""


class Refused(enum.StrEnum):
    """What an action that does not fit the state was about to add or do."""

    MESSAGE = "message"
    FILE = "file"
    DECISION = "decision"  # the source's answer to a proposal
    ACKNOWLEDGEMENT = "acknowledgement"
    ESCALATION = "escalation"
    FEEDBACK = "feedback"


class ObservationClosed(InvalidState):
    """The observation is closed: it takes no more ``what`` (messages, files, ...)."""

    def __init__(self, what: Refused = Refused.MESSAGE) -> None:
        super().__init__(f"closed: no {what.value}")
        self.what = what


class NotAcknowledged(InvalidState):
    """The observation must be acknowledged before ``action``."""

    def __init__(self, action: Refused) -> None:
        super().__init__(f"acknowledge before {action.value}")
        self.action = action


class AlreadyDone(InvalidState):
    """``what`` was done already (an acknowledgement, a decision)."""

    def __init__(self, what: Refused) -> None:
        super().__init__(f"{what.value} done already")
        self.what = what


class TransitionRefused(InvalidState):
    """The observation cannot be moved to that state by hand from where it is."""


class ChangedMeanwhile(InvalidState):
    """Someone changed the case after the page the action was sent from was shown.

    The action is refused rather than applied to a state its sender never saw; the page
    shows the case as it now stands, with what they typed kept.
    """

    def __init__(self, ref: str) -> None:
        super().__init__(f"{ref} changed meanwhile")
        self.ref = ref


class GranteeUnavailable(InvalidState):
    """The adviser waiting for access was deactivated or has no key any more."""


class ConsentProblem(enum.Enum):
    """Why the source's consent does not allow a summary to go."""

    NEVER = "the source does not consent to escalation"
    NOT_APPROVED = "the source has not approved this exact text"
    RECORD_NOT_APPROVED = (
        "the source approved this text with another statement about the official record"
    )
    NOT_ASKED_FIRST = "proposals are for sources who asked to be asked first"


class ConsentRefused(ServiceError):
    """The source's consent does not allow this; ``problem`` says how."""

    def __init__(self, problem: ConsentProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


class SigningKeyMismatch(ServiceError):
    """The signing key in the session is not the one the account's signatures verify with."""
