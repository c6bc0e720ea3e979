"""The audit ledger: every staff action, hash-chained, checkable by ``dissent audit verify``.

Entries carry who (a username), what (an action name) and on what (an observation
reference or ledger label), never content and never anything about a source.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import AuditEntry, AuditHead, utcnow
from ..models.audit import GENESIS_HASH

ACTOR_MAX = 64
ACTION_MAX = 48
SUBJECT_MAX = 96
# The actor of a failed login with a name that is no account (the name typed is not
# kept: it may be a password typed into the wrong field). Not a possible username.
UNKNOWN_ACCOUNT = "(unknown account)"


class Action:
    """The names of audited actions (one place, so reports and tests agree)."""

    LOGIN = "login"
    LOGOUT = "logout"
    LOGIN_FAILED = "login_failed"
    VIEW = "view"
    ACKNOWLEDGE = "acknowledge"
    REPLY = "reply"
    STATE_CHANGE = "state_change"
    ASSIGN = "assign"
    SEVERITY = "severity"
    CATEGORY = "category"
    NOTE = "note"
    PROPOSE = "propose_summary"
    ESCALATE = "escalate"
    REVISE = "revise_summary"
    ESCALATION_VIEW = "escalation_view"
    ESCALATION_ACK = "escalation_acknowledge"
    RESPOND = "respond"
    FEEDBACK = "feedback"
    ATTACHMENT_ADD = "attachment_add"
    ATTACHMENT_DOWNLOAD = "attachment_download"
    EXPORT = "export"
    BACKUP = "backup"
    RESTORE = "restore"
    REPORT = "report"
    MISSION_CHANGE = "mission_change"
    ACCOUNT_CHANGE = "account_change"
    NAMES_CHANGE = "names_change"
    ACCESS_GRANT = "access_grant"
    PURGE = "purge"
    LADDER_STEP = "ladder_step"


def _hash(prev: bytes, *, seq: int, at: datetime, actor: str, action: str, subject: str) -> bytes:
    canonical = json.dumps(
        [seq, at.isoformat(timespec="microseconds"), actor, action, subject],
        ensure_ascii=True,
        separators=(",", ":"),
    ).encode("ascii")
    return hashlib.sha256(b"dissent/v1/audit" + prev + canonical).digest()


def record(session: Session, *, actor: str, action: str, subject: str = "") -> AuditEntry:
    """Append an entry in the caller's transaction (it commits with the action itself)."""
    # Take the lock first (an UPDATE), then read the head: on PostgreSQL this is a row
    # lock, on SQLite the database write lock, so concurrent appends queue and the chain
    # never forks.
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is None:
        raise RuntimeError("the audit ledger has no head row: run the migrations")
    at = utcnow()
    actor, action, subject = actor[:ACTOR_MAX], action[:ACTION_MAX], subject[:SUBJECT_MAX]
    entry = AuditEntry(
        seq=head.seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        prev_hash=head.entry_hash,
        entry_hash=_hash(
            head.entry_hash, seq=head.seq, at=at, actor=actor, action=action, subject=subject
        ),
    )
    head.entry_hash = entry.entry_hash
    session.add(entry)
    return entry


@dataclass(frozen=True)
class Verification:
    """The result of checking the chain."""

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    problem: str = ""


def verify_chain(session: Session) -> Verification:
    """Recompute every entry's hash and link; report the first entry that does not fit."""
    head = session.get(AuditHead, 1)
    head_seq = head.seq if head else 0
    head_hash = (head.entry_hash if head else GENESIS_HASH).hex()
    prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).yield_per(1000):
        if entry.seq != expected_seq:
            return Verification(
                False,
                checked,
                head_seq,
                head_hash,
                expected_seq,
                f"entry {expected_seq} is missing",
            )
        if entry.prev_hash != prev:
            return Verification(
                False,
                checked,
                head_seq,
                head_hash,
                entry.seq,
                f"entry {entry.seq} does not link to entry {entry.seq - 1}",
            )
        recomputed = _hash(
            prev,
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            subject=entry.subject,
        )
        if recomputed != entry.entry_hash:
            return Verification(
                False, checked, head_seq, head_hash, entry.seq, f"entry {entry.seq} was altered"
            )
        prev = entry.entry_hash
        expected_seq += 1
        checked += 1
    if checked != head_seq or (head is not None and prev != head.entry_hash):
        return Verification(
            False,
            checked,
            head_seq,
            head_hash,
            checked + 1,
            f"the ledger ends at entry {checked} but its head says {head_seq}",
        )
    return Verification(True, checked, head_seq, head_hash)


def chain_head(session: Session) -> tuple[int, str]:
    """Return the latest sequence number and hash (hex), shown on the report."""
    head = session.get(AuditHead, 1)
    if head is None:
        return 0, GENESIS_HASH.hex()
    return head.seq, head.entry_hash.hex()
