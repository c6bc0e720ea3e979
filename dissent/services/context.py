"""What services need besides the database session: settings and shared gates."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import Flask, current_app

from ..config import Settings
from ..crypto.codename import SourceKeys, derive_source_keys
from ..security.ratelimit import RateLimiter


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
    """Settings, the KDF gate and the rate limiter of one application."""

    settings: Settings
    kdf_gate: KdfGate
    limiter: RateLimiter


def install_context(app: Flask, settings: Settings, limiter: RateLimiter) -> None:
    """Create the application's service context."""
    app.extensions["dissent.context"] = ServiceContext(
        settings=settings, kdf_gate=KdfGate(settings.max_concurrent_kdf), limiter=limiter
    )


def current_context() -> ServiceContext:
    """Return the service context of the current application."""
    ctx: ServiceContext = current_app.extensions["dissent.context"]
    return ctx
