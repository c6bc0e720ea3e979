"""Triage by advisers: state changes with reasons, assignment, severity, category, notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..crypto import DecryptionError, Identity
from ..models import (
    Category,
    Note,
    Observation,
    Role,
    Severity,
    StaffUser,
    State,
    StateChange,
    staff_mission,
    today,
)
from . import audit
from .content import open_document, seal_document
from .context import ServiceContext
from .errors import InvalidInput, Problem, TransitionRefused, check_text
from .keyring import adviser_only_recipients
from .locks import hold_observation
from .workflow import can_change

NOTE_MAX = 10_000
REASON_MAX = 2_000


def record_transition(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    observation: Observation,
    to_state: State,
    reason: str = "",
) -> None:
    """Move the observation and keep the change (and its encrypted reason) in its history."""
    reason = check_text(reason, field="reason", limit=REASON_MAX, required=False)
    sealed = (
        seal_document(
            {"text": reason},
            recipients=adviser_only_recipients(
                session, ctx.settings, mission_id=observation.mission_id
            ),
        )
        if reason
        else None
    )
    session.add(
        StateChange(
            observation_id=observation.id,
            from_state=observation.state,
            to_state=to_state,
            actor_id=staff.id,
            reason=sealed,
        )
    )
    observation.state = to_state
    if to_state is State.CLOSED:
        observation.closed_on = today()
    audit.record(
        session,
        actor=staff.username,
        action=audit.Action.STATE_CHANGE,
        subject=f"{observation.ref}:{to_state.value}",
    )


def change_state(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    observation: Observation,
    to_state: State,
    reason: str = "",
    seen: int | None = None,
) -> None:
    """Make a manual state change (see :data:`workflow.MANUAL_TRANSITIONS`)."""
    hold_observation(session, observation, seen=seen)
    if not can_change(observation.state, to_state):
        raise TransitionRefused(f"{observation.state.value} cannot become {to_state.value}")
    record_transition(
        session, ctx, staff=staff, observation=observation, to_state=to_state, reason=reason
    )


def mission_staff(session: Session, mission_id: int, role: Role) -> list[StaffUser]:
    """Return the active, enrolled staff of a mission in ``role``, by username."""
    return list(
        session.scalars(
            select(StaffUser)
            .join(staff_mission, staff_mission.c.staff_id == StaffUser.id)
            .where(
                staff_mission.c.mission_id == mission_id,
                StaffUser.role == role,
                StaffUser.active.is_(True),
                StaffUser.enrolled_at.is_not(None),
            )
            .order_by(StaffUser.username)
        )
    )


def assign(
    session: Session, *, staff: StaffUser, observation: Observation, assignee_id: int | None
) -> None:
    """Assign the observation to one adviser of its mission (or to nobody)."""
    if assignee_id is not None and assignee_id not in {
        a.id for a in mission_staff(session, observation.mission_id, Role.ADVISER)
    }:
        raise InvalidInput("assignee", Problem.NOT_ALLOWED, detail="not an adviser of this mission")
    observation.assigned_to_id = assignee_id
    audit.record(session, actor=staff.username, action=audit.Action.ASSIGN, subject=observation.ref)


def set_severity(
    session: Session, *, staff: StaffUser, observation: Observation, severity: Severity | None
) -> None:
    """Record the adviser's judgement of severity."""
    observation.severity = severity
    audit.record(
        session, actor=staff.username, action=audit.Action.SEVERITY, subject=observation.ref
    )


def correct_category(
    session: Session, *, staff: StaffUser, observation: Observation, category: Category
) -> None:
    """Correct the category the source chose (it counts in reports)."""
    observation.category = category
    audit.record(
        session, actor=staff.username, action=audit.Action.CATEGORY, subject=observation.ref
    )


def update_triage(
    session: Session,
    *,
    staff: StaffUser,
    observation: Observation,
    assignee_id: int | None,
    severity: Severity | None,
    category: Category,
    seen: int | None = None,
) -> None:
    """Save assignment, severity and category as the adviser chose them, each change
    audited; refused if a colleague changed the case after the adviser's page was shown."""
    hold_observation(session, observation, seen=seen)
    if assignee_id != observation.assigned_to_id:
        assign(session, staff=staff, observation=observation, assignee_id=assignee_id)
    if severity != observation.severity:
        set_severity(session, staff=staff, observation=observation, severity=severity)
    if category != observation.category:
        correct_category(session, staff=staff, observation=observation, category=category)


def add_note(
    session: Session, ctx: ServiceContext, *, staff: StaffUser, observation: Observation, text: str
) -> None:
    """Add an internal note, encrypted to the mission's advisers and recovery only."""
    text = check_text(text, field="text", limit=NOTE_MAX)
    session.add(
        Note(
            observation_id=observation.id,
            author_id=staff.id,
            body=seal_document(
                {"text": text},
                recipients=adviser_only_recipients(
                    session, ctx.settings, mission_id=observation.mission_id
                ),
            ),
        )
    )
    audit.record(session, actor=staff.username, action=audit.Action.NOTE, subject=observation.ref)


@dataclass(frozen=True)
class HistoryItem:
    """A state change or a note, decrypted for an adviser."""

    at: datetime
    author: str
    kind: str  # "state" or "note"
    text: str
    from_state: State | None = None
    to_state: State | None = None
    readable: bool = True


def _open_text(blob: bytes | None, identity: Identity) -> tuple[str, bool]:
    if blob is None:
        return "", True
    try:
        return str(open_document(blob, identities=[identity]).get("text", "")), True
    except DecryptionError:
        return "", False


def history(session: Session, observation: Observation, identity: Identity) -> list[HistoryItem]:
    """Return state changes and notes, oldest first."""
    items: list[HistoryItem] = []
    for change in session.scalars(
        select(StateChange).where(StateChange.observation_id == observation.id)
    ):
        text, readable = _open_text(change.reason, identity)
        items.append(
            HistoryItem(
                at=change.at,
                author=change.actor.username,
                kind="state",
                text=text,
                from_state=change.from_state,
                to_state=change.to_state,
                readable=readable,
            )
        )
    for note in session.scalars(select(Note).where(Note.observation_id == observation.id)):
        text, readable = _open_text(note.body, identity)
        items.append(
            HistoryItem(
                at=note.created_at,
                author=note.author.username,
                kind="note",
                text=text,
                readable=readable,
            )
        )
    return sorted(items, key=lambda item: item.at)


def moved_on(session: Session, observation: Observation) -> date | None:
    """Return the day the observation last changed state (``None``: it never did), as
    its source may see it: the day only, though staff times are exact."""
    last = session.scalar(
        select(func.max(StateChange.at)).where(StateChange.observation_id == observation.id)
    )
    return None if last is None else last.date()
