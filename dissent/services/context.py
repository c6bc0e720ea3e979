"""What services need besides the database session: settings and shared gates."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from ..config import Settings
from ..crypto.codename import SourceKeys, derive_source_keys
from .errors import KdfBusy
from .passwords import PasswordHashing


class RateLimiter(Protocol):
    """Counts attempts per key per window (``dissent.security.ratelimit`` has three)."""

    def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        """Record an attempt; return ``False`` if the limit for this window is exceeded."""


# Requests that may wait behind each busy derivation slot before a login is turned away
# with "busy, try again" (issue 15, finding 14): a short queue absorbs two sources
# logging in at the same moment, while a flood of guesses no longer makes every login
# wait behind it. One waiter per slot keeps a login's wait under about one derivation.
KDF_WAITERS_PER_SLOT = 1
# The longest a login waits in that queue (a safety net: a slot normally frees within
# one derivation, a fraction of a second).
KDF_MAX_WAIT_SECONDS = 3.0
# What a turned-away login is told to wait before trying again (Retry-After).
KDF_RETRY_AFTER_SECONDS = 2


@dataclass
class KdfGate:
    """Bounds how many memory-hard codename derivations run at once in this process.

    Slots are handed over in arrival order. A submission waits for its slot however
    long it takes (the source is filing an observation); a login waits only in a short
    queue and is otherwise turned away at once (:class:`KdfBusy`) instead of queueing
    behind a flood: load is shed before the derivations, not by making everyone slow.
    Per-client fairness is not possible here: the gate cannot tell a source from a
    guesser (no addresses, and cookies are the guesser's to drop), so shedding falls on
    whoever arrives while the queue is full, most often the one who sends the most.
    """

    limit: int
    waiters_per_slot: int = KDF_WAITERS_PER_SLOT
    max_wait_seconds: float = KDF_MAX_WAIT_SECONDS
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _running: int = field(init=False, repr=False, default=0)
    _queue: deque[threading.Event] = field(init=False, repr=False, default_factory=deque)

    @property
    def running(self) -> int:
        """Return how many derivations hold a slot now."""
        with self._lock:
            return self._running

    @property
    def waiting(self) -> int:
        """Return how many derivations wait for a slot now."""
        with self._lock:
            return len(self._queue)

    def derive(self, codename: str, settings: Settings) -> SourceKeys:
        """Derive a source's keys, waiting for a free slot first (however long)."""
        self._acquire(shed=False)
        try:
            return self._derive(codename, settings)
        finally:
            self._release()

    def try_derive(self, codename: str, settings: Settings) -> SourceKeys:
        """Derive a source's keys if a slot is free or soon will be; else raise
        :class:`KdfBusy` at once rather than wait behind everyone else."""
        self._acquire(shed=True)
        try:
            return self._derive(codename, settings)
        finally:
            self._release()

    @staticmethod
    def _derive(codename: str, settings: Settings) -> SourceKeys:
        return derive_source_keys(codename, salt=settings.source_salt, params=settings.kdf_params)

    def _acquire(self, *, shed: bool) -> None:
        with self._lock:
            if self._running < self.limit and not self._queue:
                self._running += 1
                return
            if shed and len(self._queue) >= self.limit * self.waiters_per_slot:
                raise KdfBusy(retry_after=KDF_RETRY_AFTER_SECONDS)
            turn = threading.Event()
            self._queue.append(turn)
        if turn.wait(self.max_wait_seconds if shed else None):
            return  # the slot was handed over by _release
        with self._lock:
            if turn.is_set():  # handed over just as the wait ran out
                return
            self._queue.remove(turn)
        raise KdfBusy(retry_after=KDF_RETRY_AFTER_SECONDS)

    def _release(self) -> None:
        with self._lock:
            if self._queue:
                # Hand the slot straight to the first in line, so that a newcomer
                # cannot take it first (first come, first served).
                self._queue.popleft().set()
            else:
                self._running -= 1


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
