"""The declarative base and shared column conventions."""

from __future__ import annotations

import enum
import secrets
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Date, Enum, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import DateTime, TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The largest row id: ids fit PostgreSQL's BIGINT and SQLite's INTEGER (both signed 64-bit).
RANDOM_ID_MAX = 2**63 - 1
# The column type of a random id: BIGINT, but INTEGER on SQLite, where only an INTEGER
# primary key is the row's own number (any other type adds a hidden, sequential one).
RANDOM_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


def random_id() -> int:
    """Return a uniformly random positive 63-bit row id.

    For rows a source writes among rows with exact staff times (messages, attachments):
    a sequence would number them in the order they were written, and a database dump
    would place a source's message between two staff rows whose times are exact
    (invariant 2). Order within a conversation is kept by a counter of its own.
    """
    return secrets.randbelow(RANDOM_ID_MAX) + 1


# Crockford's base32 without look-alikes: a reference is read aloud on the phone.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def random_reference() -> str:
    """Return a random reference such as ``NS3F-29QZ`` (40 bits), derived from nothing."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored without zone and always returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        """Store as naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        """Return as aware UTC."""
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Base of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), date: Date()}


def utcnow() -> datetime:
    """Return the current time as aware UTC (staff-side timestamps only)."""
    return datetime.now(UTC)


def today() -> date:
    """Return today's UTC date: source-side events are kept to the day."""
    return datetime.now(UTC).date()


def enum_type(enum_class: type[enum.Enum], *, length: int = 32) -> Enum:
    """Return a column type that stores an enum's values as plain strings."""

    def values(members: Any) -> list[str]:
        return [member.value for member in members]

    return Enum(
        enum_class,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=values,
        validate_strings=True,
    )
