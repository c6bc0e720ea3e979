"""Shared column conventions: timestamps in UTC, enums stored as their values, UTC days."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from dissent.extensions import db
from dissent.models import Role, StaffUser, today, utcnow
from dissent.models.base import UTCDateTime


def add_staff(app, **values) -> int:
    with app.app_context(), db.unit():
        user = StaffUser(username=values.pop("username", "someone"), **values)
        db.session.add(user)
        db.session.flush()
        return user.id


def test_a_timestamp_in_another_zone_is_stored_and_returned_as_the_same_utc_instant(app):
    cairo = timezone(timedelta(hours=2))
    staff_id = add_staff(
        app, role=Role.ADVISER, created_at=datetime(2026, 3, 1, 0, 30, tzinfo=cairo)
    )

    with app.app_context():
        stored = db.session.execute(
            text("SELECT created_at FROM staff_user WHERE id = :id"), {"id": staff_id}
        ).scalar()
        created = db.session.get(StaffUser, staff_id).created_at

    assert str(stored).startswith("2026-02-28 22:30:00")  # naive UTC in the database
    assert created == datetime(2026, 2, 28, 22, 30, tzinfo=UTC)
    assert created.tzinfo is UTC


def test_a_naive_timestamp_is_refused_rather_than_guessed(app):
    with app.app_context():
        db.session.add(
            StaffUser(username="naive", role=Role.ADVISER, created_at=datetime(2026, 1, 1))
        )
        with pytest.raises(StatementError, match="naive datetime given; use aware UTC"):
            db.session.flush()
        db.session.rollback()


def test_an_empty_timestamp_stays_empty(app):
    staff_id = add_staff(app, role=Role.ADVISER, enrolled_at=None)

    with app.app_context():
        assert db.session.get(StaffUser, staff_id).enrolled_at is None
    assert UTCDateTime().process_bind_param(None, None) is None


def test_an_enum_is_stored_as_its_plain_value_and_read_back_as_the_member(app):
    staff_id = add_staff(app, role=Role.LEADERSHIP)

    with app.app_context():
        raw = db.session.execute(
            text("SELECT role FROM staff_user WHERE id = :id"), {"id": staff_id}
        ).scalar()
        role = db.session.scalar(select(StaffUser.role).where(StaffUser.id == staff_id))

    assert raw == "leadership"
    assert role is Role.LEADERSHIP


def test_a_string_that_is_no_value_of_the_enum_is_refused(app):
    with app.app_context():
        db.session.add(StaffUser(username="odd", role="superuser"))
        with pytest.raises(StatementError, match="'superuser' is not among the defined enum"):
            db.session.flush()
        db.session.rollback()


def test_utcnow_is_aware_utc_and_now():
    before = datetime.now(UTC)

    now = utcnow()

    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)


def test_today_is_the_utc_day_whatever_the_servers_zone(monkeypatch):
    # Pick a zone whose date differs from the UTC date at this hour.
    zone = "Etc/GMT-14" if datetime.now(UTC).hour >= 10 else "Etc/GMT+12"
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        utc_day, local_day, day = datetime.now(UTC).date(), date.today(), today()
    finally:
        monkeypatch.undo()
        time.tzset()

    assert local_day != utc_day, "the chosen zone should be on another day"
    assert day == utc_day
