"""Hourly filing budgets: how much anonymous visitors may add to the instance in an hour.

Anyone can file an observation, and each may hold hundreds of MiB of files, so without a
bound a single visitor could fill the disk as fast as their line allows. Two budgets
bound what sources add in each clock hour (UTC), for the whole instance and for each
mission: new observations, and stored volume (KiB of attachments and of messages a
source sends). Nothing is counted per visitor: sources share one address (Tor), and
keeping addresses would break invariant 2.

The counts live in the ``rate_limit_counter`` table, so every worker and host sharing
the database shares them, and they are taken in the request's own transaction, by one
conditional ``INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`` each: a refused
filing rolls back whole (nothing half-stored, nothing counted), and a stored one is
counted exactly once. A row is named by a keyed hash of budget, mission and hour, and
its expiry says only the day (invariant 2: source actions are dated to the day); the
rows of past hours are removed by the next filing (decision 22 in docs/decisions.md).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from sqlalchemy import Connection, bindparam, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from ..config import Settings
from ..crypto.secretbox import derive_key
from ..models import RateLimitCounter
from .errors import ServiceError

WINDOW_SECONDS = 3600
KIB = 1024
# Rows removed per filing at most: the past hours of the budgets it counts in, and
# counters whose day has ended.
CLEANUP_BATCH = 100
_PURPOSE = "filing-budget-names"


class Budget(enum.StrEnum):
    """What a filing budget counts."""

    OBSERVATIONS = "observations"  # new observations
    VOLUME = "volume"  # KiB a source stores: attachments and messages


class BudgetReached(ServiceError):
    """This hour's budget of ``budget`` is used up; nothing was stored.

    ``retry_at`` is when the next hour's budget starts (UTC).
    """

    def __init__(self, budget: Budget, *, retry_at: datetime) -> None:
        super().__init__(f"the hourly budget of {budget.value} is used up")
        self.budget = budget
        self.retry_at = retry_at

    def retry_after_seconds(self) -> int:
        """Return how many seconds from now until the next hour's budget (at least 1)."""
        return max(1, math.ceil(self.retry_at.timestamp() - _now()))


def _now() -> float:
    return time.time()


def kib(size: int) -> int:
    """Return the KiB a stored size counts for (rounded up)."""
    return -(-size // KIB)


def limits(settings: Settings, budget: Budget) -> tuple[int, int]:
    """Return the hourly limit of ``budget`` for the instance and for each mission."""
    if budget is Budget.OBSERVATIONS:
        return settings.filing_budget_observations, settings.filing_budget_mission_observations
    return settings.filing_budget_mib * KIB, settings.filing_budget_mission_mib * KIB


def _window(now: float) -> int:
    return int(now) // WINDOW_SECONDS


def _window_end(window: int) -> datetime:
    return datetime.fromtimestamp((window + 1) * WINDOW_SECONDS, UTC)


def _day_end(window: int) -> datetime:
    """Return the end of the day of ``window``: all a counter's expiry says about it."""
    start = datetime.fromtimestamp(window * WINDOW_SECONDS, UTC)
    return datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), UTC)


@lru_cache(maxsize=8)
def _names_key(secret_key: bytes) -> bytes:
    return derive_key(secret_key, purpose=_PURPOSE)


def counter_name(settings: Settings, budget: Budget, *, mission_id: int | None, window: int) -> str:
    """Return the stored name of a budget's counter in one hour: a keyed hash, so the
    table says neither which mission nor which hour (without the instance secret)."""
    scope = "all" if mission_id is None else str(mission_id)
    message = f"budget:{WINDOW_SECONDS}:{window}:{budget.value}:{scope}".encode()
    return hmac.new(_names_key(settings.secret_key), message, hashlib.sha256).hexdigest()


def _spend_statement(dialect: str) -> Executable:
    """Return the statement that adds ``amount`` unless that exceeds ``limit``, returning
    the new count (no row when refused)."""
    insert: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        insert = postgresql.insert(RateLimitCounter)
    elif dialect == "sqlite":
        insert = sqlite.insert(RateLimitCounter)
    else:
        raise ValueError(f"filing budgets in a {dialect} database are not supported")
    added = RateLimitCounter.count + insert.excluded.count
    return insert.on_conflict_do_update(
        index_elements=[RateLimitCounter.name],
        set_={"count": added},
        where=added <= bindparam("limit"),
    ).returning(RateLimitCounter.count)


_SPEND = {dialect: _spend_statement(dialect) for dialect in ("postgresql", "sqlite")}


def _cleanup(past_names: list[str]) -> Executable:
    """Return the statement that removes this filing's past hours and ended days.

    PostgreSQL: two filings cleaning at once skip each other's rows instead of waiting
    on them (and deadlocking on rows locked in opposite orders).
    """
    stale = (
        select(RateLimitCounter.name)
        .where(
            or_(
                RateLimitCounter.name.in_(past_names),
                RateLimitCounter.expires_at <= bindparam("now"),
            )
        )
        .limit(CLEANUP_BATCH)
        .with_for_update(skip_locked=True)
    )
    return delete(RateLimitCounter).where(RateLimitCounter.name.in_(stale))


def _scopes(mission_id: int | None) -> tuple[tuple[int | None, int], ...]:
    """Return (mission or None for the instance, index into ``limits``), instance first;
    the instance alone without a mission.

    Always in this order, so two filings lock the same rows in the same order.
    """
    instance: tuple[int | None, int] = (None, 0)
    return (instance,) if mission_id is None else (instance, (mission_id, 1))


def check(conn: Connection, settings: Settings, budget: Budget, *, mission_id: int | None) -> None:
    """Raise :class:`BudgetReached` if this hour's ``budget`` is used up already, for the
    instance or for the mission (``mission_id`` None: for the instance only, before
    the mission is known).

    Reads only: called before costly work (a codename derivation, reading an upload's
    body), so a full budget refuses early. :func:`spend` decides.
    """
    window = _window(_now())
    bounds = limits(settings, budget)
    for scope, which in _scopes(mission_id):
        name = counter_name(settings, budget, mission_id=scope, window=window)
        used = conn.scalar(select(RateLimitCounter.count).where(RateLimitCounter.name == name))
        if (used or 0) >= bounds[which]:
            raise BudgetReached(budget, retry_at=_window_end(window))


def spend(
    conn: Connection, settings: Settings, budget: Budget, *, mission_id: int, amount: int
) -> None:
    """Count ``amount`` against this hour's ``budget`` of the instance and of the mission,
    in the caller's transaction, or raise :class:`BudgetReached` (the caller's transaction
    must then roll back: a count taken from the first budget goes back with it)."""
    now = _now()
    window = _window(now)
    retry_at = _window_end(window)
    bounds = limits(settings, budget)
    scopes = _scopes(mission_id)
    past = [
        counter_name(settings, kind, mission_id=scope, window=earlier)
        for earlier in range(window - 24, window)
        for kind in Budget
        for scope, _ in scopes
    ]
    conn.execute(_cleanup(past), {"now": datetime.fromtimestamp(now, UTC)})
    statement = _SPEND[conn.dialect.name]
    for scope, which in scopes:
        if amount > bounds[which]:
            raise BudgetReached(budget, retry_at=retry_at)
        counted = conn.execute(
            statement,
            {
                "name": counter_name(settings, budget, mission_id=scope, window=window),
                "expires_at": _day_end(window),
                "count": amount,
                "limit": bounds[which],
            },
        ).scalar_one_or_none()
        if counted is None:
            raise BudgetReached(budget, retry_at=retry_at)


@dataclass(frozen=True)
class Usage:
    """How much of one hourly budget is used."""

    used: int
    limit: int

    @property
    def reached(self) -> bool:
        """Whether the next filing would be refused."""
        return self.used >= self.limit


@dataclass(frozen=True)
class BudgetState:
    """The budgets of the current hour: for the instance, and for each mission."""

    resets_at: datetime
    instance: dict[Budget, Usage]
    missions: dict[int, dict[Budget, Usage]]


def state(conn: Connection, settings: Settings, mission_ids: list[int]) -> BudgetState:
    """Return how much of this hour's budgets is used, for the operator's page."""
    window = _window(_now())
    wanted: dict[str, tuple[int | None, Budget]] = {}
    for scope in (None, *mission_ids):
        for budget in Budget:
            wanted[counter_name(settings, budget, mission_id=scope, window=window)] = (
                scope,
                budget,
            )
    counts = {
        wanted[name]: count
        for name, count in conn.execute(
            select(RateLimitCounter.name, RateLimitCounter.count).where(
                RateLimitCounter.name.in_(wanted)
            )
        )
    }

    def usage(scope: int | None) -> dict[Budget, Usage]:
        which = 0 if scope is None else 1
        return {
            budget: Usage(counts.get((scope, budget), 0), limits(settings, budget)[which])
            for budget in Budget
        }

    return BudgetState(
        resets_at=_window_end(window),
        instance=usage(None),
        missions={mission_id: usage(mission_id) for mission_id in mission_ids},
    )
