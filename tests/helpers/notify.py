"""Notifications in tests: staff with mail addresses, the outbox's rows, a run at a chosen time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from dissent.extensions import db
from dissent.models import Notification, NotificationKind, Observation, StaffUser
from dissent.services import notifications
from tests.helpers.staff import StaffLogin


def address_of(login: StaffLogin) -> str:
    """Return the mail address tests give ``login``."""
    return f"person{login.id}@example.org"


def give_address(
    app,
    login: StaffLogin,
    *,
    address: str | None = None,
    language: str | None = None,
    off: Iterable[NotificationKind] = (),
) -> str:
    """Give ``login`` a mail address (and a language, and kinds turned off); return it."""
    address = address or address_of(login)
    with app.app_context(), db.unit():
        notifications.set_email(db.session, staff_id=login.id, email=address, actor="test")
        person = db.session.get(StaffUser, login.id)
        person.language = language
        person.notify_off = " ".join(kind.value for kind in off)
    return address


def rows(app, *, pending: bool | None = None) -> list[tuple[int, NotificationKind, int]]:
    """Return the outbox's rows as (staff id, kind, subject id), sorted; ``pending``
    True: only those not sent, False: only those sent."""
    query = select(Notification.staff_id, Notification.kind, Notification.subject_id)
    if pending is True:
        query = query.where(Notification.sent_on.is_(None))
    elif pending is False:
        query = query.where(Notification.sent_on.is_not(None))
    with app.app_context():
        return sorted(tuple(row) for row in db.session.execute(query))


def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    """Return a moment of ``day`` (UTC)."""
    return datetime.combine(day, time(hour, minute), UTC)


def days_after_receipt(app, observation_id: int, days: int, hour: int = 12) -> datetime:
    """Return a moment ``days`` days after the observation was received."""
    with app.app_context():
        received = db.session.get(Observation, observation_id).received_on
    return at(received + timedelta(days=days), hour)


def plan_at(app, now: datetime) -> None:
    """Bring the outbox up to date as a run at ``now`` would."""
    with app.app_context(), db.unit():
        notifications.plan(db.session, now=now)
