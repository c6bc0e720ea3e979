"""Password rules and hashing (Argon2id, for login checks only)."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from .errors import WeakPassword

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
# zxcvbn's score 3 means "safely unguessable: moderate protection from offline
# slow-hash scenario"; its dictionaries include the passwords most common in breaches.
MIN_STRENGTH_SCORE = 3

_hasher = PasswordHasher()  # argon2-cffi's RFC 9106 "low memory" profile defaults


def check_password_policy(password: str, *, username: str) -> None:
    """Raise :class:`WeakPassword` with the reason if ``password`` is refused."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(WeakPassword.TOO_SHORT)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(WeakPassword.TOO_LONG)
    # zxcvbn is slow on very long inputs; the first 100 characters decide anyway.
    result = zxcvbn(password[:100], user_inputs=[username, "dissent"])
    if result["score"] < MIN_STRENGTH_SCORE:
        raise WeakPassword(WeakPassword.TOO_GUESSABLE)


def hash_password(password: str) -> str:
    """Return the Argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Return whether ``password`` matches; with no hash, spend the same time and fail."""
    if password_hash is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash("dissent dummy password for constant-time misses")
