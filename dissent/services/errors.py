"""Domain exceptions. Views turn them into messages in one place each."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of the domain exceptions."""


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


class WeakPassword(ServiceError):
    """The password is refused; ``args[0]`` is one of the reason codes below."""

    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    TOO_GUESSABLE = "too_guessable"

    @property
    def reason(self) -> str:
        """Return the reason code."""
        return str(self.args[0])


class LoginFailed(ServiceError):
    """Username or password wrong, or the account is inactive (never which)."""


class TotpRejected(ServiceError):
    """The one-time code is wrong, expired or was used before."""


class RateLimited(ServiceError):
    """Too many attempts; try again later."""


class InvalidState(ServiceError):
    """The action does not fit the observation's current state."""


class ObservationClosed(InvalidState):
    """The observation is closed: it takes no more messages or decisions."""
