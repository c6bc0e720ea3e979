"""Typed SQLAlchemy 2 models. Models hold invariants and do no I/O."""

from .attachment import Attachment, BlobChunk
from .audit import AuditEntry, AuditHead
from .base import Base, today, utcnow
from .escalation import (
    Escalation,
    EscalationState,
    EscalationVersion,
    LadderReason,
    LadderStep,
    Proposal,
    ProposalStatus,
    RecordDecision,
    Response,
    ResponseKind,
    escalation_recipient,
)
from .mission import Mission
from .notification import Notification, NotificationKind, NotificationRun
from .observation import (
    Category,
    Consent,
    Message,
    MessageKind,
    Observation,
    Sender,
    Severity,
    Source,
    State,
)
from .security import RateLimitCounter, StoredSession
from .staff import AccessGrant, Enrolment, Role, StaffUser, access_grant_pass, staff_mission
from .triage import MissionNames, Note, StateChange

__all__ = [
    "AccessGrant",
    "Attachment",
    "AuditEntry",
    "AuditHead",
    "Base",
    "BlobChunk",
    "Category",
    "Consent",
    "Enrolment",
    "Escalation",
    "EscalationState",
    "EscalationVersion",
    "LadderReason",
    "LadderStep",
    "Message",
    "MessageKind",
    "Mission",
    "MissionNames",
    "Note",
    "Notification",
    "NotificationKind",
    "NotificationRun",
    "Observation",
    "Proposal",
    "ProposalStatus",
    "RateLimitCounter",
    "RecordDecision",
    "Response",
    "ResponseKind",
    "Role",
    "Sender",
    "Severity",
    "Source",
    "StaffUser",
    "State",
    "StateChange",
    "StoredSession",
    "access_grant_pass",
    "escalation_recipient",
    "staff_mission",
    "today",
    "utcnow",
]
