"""The notification outbox's mechanics: rows in, a run's claim on one person's rows, sent
or tried again later, and the record of how sending went.

Who gets which row is decided in ``notifications``; this module only moves rows along.
Every function takes the caller's session (or connection) and never commits: the event
that writes a row commits it with itself, and ``dissent notify`` commits each step.

Two runs at once (a timer and an operator by hand, or two hosts) never send one
person's digest twice: a run *claims* a person's waiting rows in a short transaction of
its own before it talks to the mail server, and marks them sent (or failed) in another.
The claim is a token and a time it lapses at, so a run that dies mid-way holds nothing
for long. On PostgreSQL the claim first locks the person's account row with ``FOR NO KEY
UPDATE SKIP LOCKED`` (a second run skips the person rather than waiting, and cannot claim
rows that arrive meanwhile into a second digest); on SQLite the claim's first statement
is its UPDATE, which takes the database's write lock, so claims run one at a time. No
transaction stays open while a mail is sent: the web's writers never wait on the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from ..models import Notification, NotificationKind, NotificationRun, StaffUser
from ..models.base import random_id

# How long a run's claim on a person's rows holds: far longer than one digest takes to
# send (the mail server's timeout is 30 seconds), so a live run never loses its claim.
CLAIM_MINUTES = 10
# Waiting after a failed digest: 15 minutes, doubling with each failure, at most 6 hours.
BACKOFF_FIRST = timedelta(minutes=15)
BACKOFF_MAX = timedelta(hours=6)


@dataclass(frozen=True)
class Pending:
    """A row to add: something of ``kind`` about record ``subject_id`` waits for a person."""

    staff_id: int
    kind: NotificationKind
    subject_id: int


def _insert(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(Notification).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(Notification).on_conflict_do_nothing()
    raise ValueError(f"notifications in a {dialect} database are not supported")


_INSERT = {dialect: _insert(dialect) for dialect in ("postgresql", "sqlite")}


def add(connection: Connection, rows: Iterable[Pending], *, on: date) -> None:
    """Add ``rows`` in the caller's transaction; one that is already waiting (the same
    person, kind and record, not yet sent) is not added twice."""
    values = [
        {
            "id": random_id(),
            "staff_id": row.staff_id,
            "kind": row.kind,
            "subject_id": row.subject_id,
            "created_on": on,
            "attempts": 0,
        }
        for row in rows
    ]
    if values:
        connection.execute(_INSERT[connection.dialect.name], values)


def backoff(attempts: int) -> timedelta:
    """Return how long to wait after the ``attempts``-th failed digest in a row."""
    if attempts <= 0:
        return timedelta(0)
    doubled: timedelta = BACKOFF_FIRST * 2 ** min(attempts - 1, 16)
    return min(doubled, BACKOFF_MAX)


def lock_runs(session: Session) -> None:
    """Take the lock that puts runs planning reminders one after the other (the run
    record's row: a row lock on PostgreSQL, the write lock on SQLite)."""
    result = session.execute(
        update(NotificationRun).where(NotificationRun.id == 1).values(id=NotificationRun.id)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(NotificationRun(id=1))
        session.flush()


def _waiting(now: datetime) -> Any:
    """SQL for a row that waits to be sent and no run holds."""
    return and_(
        Notification.sent_on.is_(None),
        or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
    )


def _held_back(staff_id: Any, now: datetime, *, token: str | None = None) -> Any:
    """SQL for "this person's digest must not go now": another run holds some of their
    rows, or their last digest failed and its backoff has not passed."""
    other = aliased(Notification)
    claimed = other.claimed_until >= now
    if token is not None:
        claimed = and_(claimed, other.claimed_by != token)
    return exists().where(
        other.staff_id == staff_id,
        other.sent_on.is_(None),
        or_(claimed, other.next_attempt_at > now),
    )


def due_people(session: Session, *, now: datetime) -> list[int]:
    """Return the staff ids whose digest may go now."""
    return list(
        session.scalars(
            select(Notification.staff_id)
            .where(_waiting(now), ~_held_back(Notification.staff_id, now))
            .distinct()
            .order_by(Notification.staff_id)
        )
    )


@dataclass(frozen=True)
class Claim:
    """A run's hold on the rows of one person's digest."""

    token: str
    staff_id: int
    rows: tuple[tuple[NotificationKind, int], ...]  # (kind, subject id)
    attempts: int  # failed digests in a row before this one


def claim(session: Session, *, staff_id: int, token: str, now: datetime) -> Claim | None:
    """Claim every waiting row of ``staff_id`` for the run ``token``; return the claim,
    or ``None`` when another run holds the person, their backoff has not passed, or
    nothing waits."""
    if session.get_bind().dialect.name == "postgresql":
        locked = session.scalar(
            select(StaffUser.id)
            .where(StaffUser.id == staff_id)
            .with_for_update(key_share=True, skip_locked=True)
        )
        if locked is None:
            return None
    session.execute(
        update(Notification)
        .where(
            Notification.staff_id == staff_id,
            _waiting(now),
            ~_held_back(staff_id, now, token=token),
        )
        .values(claimed_by=token, claimed_until=now + timedelta(minutes=CLAIM_MINUTES))
    )
    rows = session.execute(
        select(Notification.kind, Notification.subject_id, Notification.attempts)
        .where(Notification.staff_id == staff_id, Notification.claimed_by == token)
        .order_by(Notification.kind, Notification.subject_id)
    ).all()
    if not rows:
        return None
    return Claim(
        token=token,
        staff_id=staff_id,
        rows=tuple((row.kind, row.subject_id) for row in rows),
        attempts=max(row.attempts for row in rows),
    )


def _claimed(claim: Claim) -> Any:
    return and_(Notification.staff_id == claim.staff_id, Notification.claimed_by == claim.token)


def mark_sent(session: Session, claim: Claim, *, on: date) -> None:
    """Record that the claimed rows went out in a digest on day ``on``."""
    session.execute(
        update(Notification)
        .where(_claimed(claim))
        .values(sent_on=on, claimed_by=None, claimed_until=None, attempts=0, next_attempt_at=None)
    )


def mark_failed(session: Session, claim: Claim, *, now: datetime) -> datetime:
    """Keep the claimed rows for a later run, after a backoff; return when it ends."""
    attempts = claim.attempts + 1
    retry_at = now + backoff(attempts)
    session.execute(
        update(Notification)
        .where(_claimed(claim))
        .values(claimed_by=None, claimed_until=None, attempts=attempts, next_attempt_at=retry_at)
    )
    return retry_at


def release(session: Session, claim: Claim) -> None:
    """Give the claimed rows back untried (the run stopped before sending them)."""
    session.execute(
        update(Notification).where(_claimed(claim)).values(claimed_by=None, claimed_until=None)
    )


def drop(session: Session, claim: Claim) -> None:
    """Remove the claimed rows unsent: the person can no longer be mailed."""
    session.execute(delete(Notification).where(_claimed(claim)))


def record_run(session: Session, *, now: datetime, problem: str | None) -> None:
    """Record a run: a success, or a failure with its problem's code."""
    lock_runs(session)
    run = session.get(NotificationRun, 1, populate_existing=True)
    assert run is not None  # lock_runs made it
    run.last_run_at = now
    if problem is None:
        run.last_success_at = now
        run.failed_runs = 0
    else:
        run.last_failure_at = now
        run.last_problem = problem
        run.failed_runs += 1


@dataclass(frozen=True)
class OutboxState:
    """What the operator's page shows about sending."""

    last_run_at: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_problem: str | None
    failed_runs: int
    queued: int  # rows waiting
    people: int  # people with rows waiting
    failing: int  # people whose last digest failed


def state(session: Session) -> OutboxState:
    """Return how sending stands: the last runs and what waits."""
    run = session.get(NotificationRun, 1)
    waiting = Notification.sent_on.is_(None)
    queued, people = session.execute(
        select(func.count(), func.count(func.distinct(Notification.staff_id))).where(waiting)
    ).one()
    failing = session.scalar(
        select(func.count(func.distinct(Notification.staff_id))).where(
            waiting, Notification.attempts > 0
        )
    )
    return OutboxState(
        last_run_at=run.last_run_at if run else None,
        last_success_at=run.last_success_at if run else None,
        last_failure_at=run.last_failure_at if run else None,
        last_problem=run.last_problem if run else None,
        failed_runs=run.failed_runs if run else 0,
        queued=queued,
        people=people,
        failing=failing or 0,
    )
