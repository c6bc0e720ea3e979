"""Password rules and hashing (Argon2id, for login checks only)."""

from __future__ import annotations

import contextlib
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..crypto.codename import KdfParams
from .errors import WeakPassword

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
# zxcvbn's score 3 means "safely unguessable: moderate protection from offline
# slow-hash scenario"; its dictionaries include the passwords most common in breaches.
MIN_STRENGTH_SCORE = 3
ZXCVBN_MAX = 72


def check_password_policy(password: str, *, username: str) -> None:
    """Raise :class:`WeakPassword` with the reason if ``password`` is refused."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(WeakPassword.TOO_SHORT)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(WeakPassword.TOO_LONG)
    # Imported here, not at the top: its dictionaries cost a process about 12 MiB, and
    # most workers only ever serve sources (docs/performance.md).
    from zxcvbn import zxcvbn

    # zxcvbn refuses inputs longer than 72 characters (and is slow near that); the
    # first 72 decide: a password whose first 72 characters are strong is strong.
    result = zxcvbn(password[:ZXCVBN_MAX], user_inputs=[username, "dissent"])
    if result["score"] < MIN_STRENGTH_SCORE:
        raise WeakPassword(WeakPassword.TOO_GUESSABLE)


class PasswordHashing:
    """Argon2id hashes of staff passwords, at the instance's cost (tests make it cheap)."""

    def __init__(self, params: KdfParams) -> None:
        self._hasher = PasswordHasher(
            time_cost=params.iterations,
            memory_cost=params.memory_cost_kib,
            parallelism=params.lanes,
        )

    @cached_property
    def _dummy_hash(self) -> str:
        # Checked against when the account does not exist, so that a miss costs the same.
        return self._hasher.hash("dissent dummy password for constant-time misses")

    def hash(self, password: str) -> str:
        """Return the Argon2id hash of ``password``."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Return whether ``password`` matches; with no hash, spend the same time and fail."""
        if password_hash is None:
            with contextlib.suppress(VerificationError):
                self._hasher.verify(self._dummy_hash, password)
            return False
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
