"""Typed SQLAlchemy 2 models. Models hold invariants and do no I/O."""

from .base import Base, today, utcnow
from .mission import Mission
from .observation import (
    Category,
    Consent,
    Message,
    MessageKind,
    Observation,
    Sender,
    Source,
    State,
)
from .security import StoredSession
from .staff import Enrolment, Role, StaffUser, staff_mission

__all__ = [
    "Base",
    "Category",
    "Consent",
    "Enrolment",
    "Message",
    "MessageKind",
    "Mission",
    "Observation",
    "Role",
    "Sender",
    "Source",
    "StaffUser",
    "State",
    "StoredSession",
    "staff_mission",
    "today",
    "utcnow",
]
