"""What services need besides the database session: settings and shared gates."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from ..config import Settings
from ..crypto.codename import SourceKeys, derive_source_keys
from .passwords import PasswordHashing


class RateLimiter(Protocol):
    """Counts attempts per key per window (``dissent.security.ratelimit`` has three)."""

    def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        """Record an attempt; return ``False`` if the limit for this window is exceeded."""


@dataclass
class KdfGate:
    """Bounds how many memory-hard codename derivations run at once in this process."""

    limit: int
    _semaphore: threading.BoundedSemaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._semaphore = threading.BoundedSemaphore(self.limit)

    def derive(self, codename: str, settings: Settings) -> SourceKeys:
        """Derive a source's keys, waiting for a free slot first."""
        with self._semaphore:
            return derive_source_keys(
                codename, salt=settings.source_salt, params=settings.kdf_params
            )


@dataclass(frozen=True)
class ServiceContext:
    """Settings, the KDF gate, password hashing and the rate limiter of one application."""

    settings: Settings
    kdf_gate: KdfGate
    limiter: RateLimiter
    passwords: PasswordHashing


def service_context(settings: Settings, limiter: RateLimiter) -> ServiceContext:
    """Return a new context for ``settings``, with its own KDF gate."""
    return ServiceContext(
        settings=settings,
        kdf_gate=KdfGate(settings.max_concurrent_kdf),
        limiter=limiter,
        passwords=PasswordHashing(settings.password_params),
    )
