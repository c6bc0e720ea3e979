"""Who is told what by mail, and when: the one place that decides it.

Each kind of notification (``NotificationKind``) has a rule (:data:`KINDS`): the role it
is for, who its audience is, and whether it is written with the event (a new
observation, a source's message, an escalation, a response) or by ``dissent notify``
from the state of things (deadlines, colleagues waiting for access). A later kind, such
as a step up a ladder of escalation, is one more kind with its rule, and, if nobody
here hears of it yet, one more :class:`Audience`.

A notification says *that* something is waiting, never what: no text, category,
mission, ledger number or time. What a person is told is decided three times: when a
row is written (who the audience is then), at every run (a row whose reason has passed,
or whose person is no longer in the audience, is removed unsent), and when the digest
is made (only the person's own rows, counted by kind). So once one adviser has opened a
case, reminders about it go to the advisers who opened it, not to all of them.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, exists, or_, select
from sqlalchemy.orm import Session

from ..config import parse_email
from ..models import (
    AccessGrant,
    AuditEntry,
    Escalation,
    EscalationState,
    LadderStep,
    Notification,
    NotificationKind,
    Observation,
    Role,
    StaffUser,
    State,
    access_grant_pass,
    escalation_recipient,
    staff_mission,
    today,
)
from ..models.staff import EMAIL_MAX, LANGUAGE_MAX
from . import audit, outbox
from .deadlines import ack_due, ack_overdue, feedback_due, feedback_overdue, response_due
from .errors import InvalidInput, NotFound, Problem
from .keyring import confirmed_reader
from .outbox import Claim, Pending
from .workflow import AWAITING_FEEDBACK

# "Due soon": acknowledgement within 48 hours (deadlines are days: the due day is at
# most two days ahead), feedback and leadership's response within 14 days.
ACK_SOON_DAYS = 2
FEEDBACK_SOON_DAYS = 14
RESPONSE_SOON_DAYS = 14
# Sent rows of events are kept this long, then removed (a reminder's row is kept while
# its case is, so that it is never sent twice).
KEEP_SENT_DAYS = 30


class Audience(enum.Enum):
    """Who may be told about a record."""

    # The observation's assigned adviser; else those who opened it; else all its
    # mission's advisers (active, with a confirmed key).
    CASE_ADVISERS = "case advisers"
    # The same, for the observation an escalation came from.
    ESCALATION_CASE_ADVISERS = "case advisers of the escalation"
    # The leaders the escalation was sent to (active).
    ESCALATION_LEADERS = "leaders of the escalation"
    # The advisers of the mission who can grant a colleague access (not the colleague).
    GRANT_COLLEAGUES = "advisers who can grant the access"
    # The oversight members of the escalation's mission (active; the ladder above leadership).
    ESCALATION_OVERSIGHT = "oversight of the escalation's mission"
    # Who reads the escalation: its leaders, and once it went up the ladder, the oversight
    # members of its mission (their page promises them its new versions).
    ESCALATION_READERS = "leaders of the escalation, and oversight once it stepped"


class Written(enum.Enum):
    """When a kind's rows are written."""

    EVENT = "in the transaction of the event"
    BY_RUN = "by dissent notify, once per person and record"


@dataclass(frozen=True)
class KindRule:
    """The rule of one kind of notification."""

    role: Role
    audience: Audience
    written: Written
    # A second role its audience may hold (oversight, for a kind about an escalation).
    also: Role | None = None

    @property
    def roles(self) -> tuple[Role, ...]:
        """Return the roles that can be sent this kind."""
        return (self.role,) if self.also is None else (self.role, self.also)


KINDS: dict[NotificationKind, KindRule] = {
    NotificationKind.NEW_OBSERVATION: KindRule(Role.ADVISER, Audience.CASE_ADVISERS, Written.EVENT),
    NotificationKind.SOURCE_MESSAGE: KindRule(Role.ADVISER, Audience.CASE_ADVISERS, Written.EVENT),
    NotificationKind.ACK_DUE_SOON: KindRule(Role.ADVISER, Audience.CASE_ADVISERS, Written.BY_RUN),
    NotificationKind.ACK_OVERDUE: KindRule(Role.ADVISER, Audience.CASE_ADVISERS, Written.BY_RUN),
    NotificationKind.FEEDBACK_DUE_SOON: KindRule(
        Role.ADVISER, Audience.CASE_ADVISERS, Written.BY_RUN
    ),
    NotificationKind.FEEDBACK_OVERDUE: KindRule(
        Role.ADVISER, Audience.CASE_ADVISERS, Written.BY_RUN
    ),
    NotificationKind.RESPONSE_RECEIVED: KindRule(
        Role.ADVISER, Audience.ESCALATION_CASE_ADVISERS, Written.EVENT
    ),
    NotificationKind.ACCESS_WAITING: KindRule(
        Role.ADVISER, Audience.GRANT_COLLEAGUES, Written.BY_RUN
    ),
    NotificationKind.ESCALATION_RECEIVED: KindRule(
        Role.LEADERSHIP, Audience.ESCALATION_LEADERS, Written.EVENT
    ),
    NotificationKind.ESCALATION_REVISED: KindRule(
        Role.LEADERSHIP, Audience.ESCALATION_READERS, Written.EVENT, also=Role.OVERSIGHT
    ),
    NotificationKind.RESPONSE_DUE_SOON: KindRule(
        Role.LEADERSHIP, Audience.ESCALATION_LEADERS, Written.BY_RUN
    ),
    NotificationKind.RESPONSE_OVERDUE: KindRule(
        Role.LEADERSHIP, Audience.ESCALATION_LEADERS, Written.BY_RUN
    ),
    # A step up the ladder is an event: the run that takes it writes these (``ladder``).
    NotificationKind.LADDER_STEP: KindRule(
        Role.OVERSIGHT, Audience.ESCALATION_OVERSIGHT, Written.EVENT
    ),
    NotificationKind.LADDER_STEP_ADVISER: KindRule(
        Role.ADVISER, Audience.ESCALATION_CASE_ADVISERS, Written.EVENT
    ),
}
_ORDER = {kind: place for place, kind in enumerate(KINDS)}


def kinds_for(role: Role) -> list[NotificationKind]:
    """Return the kinds a person in ``role`` can be sent, in the order digests list them."""
    return [kind for kind, rule in KINDS.items() if role in rule.roles]


# --- who the audience is ------------------------------------------------------------------

_CONFIRMED_ADVISER = confirmed_reader(Role.ADVISER)
# Built once: this runs with every message a source sends.
_CASE_ADVISERS = (
    select(StaffUser.id, StaffUser.username, Observation.assigned_to_id, Observation.ref)
    .select_from(Observation)
    .join(staff_mission, staff_mission.c.mission_id == Observation.mission_id)
    .join(StaffUser, StaffUser.id == staff_mission.c.staff_id)
    .where(Observation.id == bindparam("observation_id"), _CONFIRMED_ADVISER)
)


def _case_advisers(connection: Connection, observation_id: int) -> list[int]:
    rows = connection.execute(_CASE_ADVISERS, {"observation_id": observation_id}).all()
    if not rows:
        return []
    ids = {row.username: row.id for row in rows}
    assigned, ref = rows[0].assigned_to_id, rows[0].ref
    if assigned in ids.values():
        return [assigned]
    # Opening the case, and everything done on its page, is in the audit ledger under
    # the case's reference.
    opened = connection.scalars(
        select(AuditEntry.actor)
        .where(AuditEntry.subject == ref, AuditEntry.actor.in_(list(ids)))
        .distinct()
    ).all()
    return sorted(ids[name] for name in opened) if opened else sorted(ids.values())


def _escalation_case_advisers(connection: Connection, escalation_id: int) -> list[int]:
    observation_id = connection.scalar(
        select(Escalation.observation_id).where(Escalation.id == escalation_id)
    )
    return [] if observation_id is None else _case_advisers(connection, observation_id)


def _escalation_leaders(connection: Connection, escalation_id: int) -> list[int]:
    return list(
        connection.scalars(
            select(StaffUser.id)
            .join(escalation_recipient, escalation_recipient.c.staff_id == StaffUser.id)
            .where(
                escalation_recipient.c.escalation_id == escalation_id,
                StaffUser.role == Role.LEADERSHIP,
                StaffUser.active.is_(True),
            )
            .order_by(StaffUser.id)
        )
    )


def _grant_colleagues(connection: Connection, grant_id: int) -> list[int]:
    """Return who can give the grant (as the adviser's inbox offers it: the newcomer
    active with a confirmed key; a colleague who went through it without opening
    everything is not asked again)."""
    grant = connection.execute(
        select(AccessGrant.staff_id, AccessGrant.mission_id)
        .join(StaffUser, StaffUser.id == AccessGrant.staff_id)
        .join(
            staff_mission,
            and_(
                staff_mission.c.staff_id == AccessGrant.staff_id,
                staff_mission.c.mission_id == AccessGrant.mission_id,
            ),
        )
        .where(AccessGrant.id == grant_id, _CONFIRMED_ADVISER)
    ).one_or_none()
    if grant is None:
        return []
    passed = exists().where(
        access_grant_pass.c.grant_id == grant_id,
        access_grant_pass.c.staff_id == StaffUser.id,
    )
    return list(
        connection.scalars(
            select(StaffUser.id)
            .join(staff_mission, staff_mission.c.staff_id == StaffUser.id)
            .where(
                staff_mission.c.mission_id == grant.mission_id,
                StaffUser.id != grant.staff_id,
                _CONFIRMED_ADVISER,
                ~passed,
            )
            .order_by(StaffUser.id)
        )
    )


def _escalation_oversight(connection: Connection, escalation_id: int) -> list[int]:
    return list(
        connection.scalars(
            select(StaffUser.id)
            .join(staff_mission, staff_mission.c.staff_id == StaffUser.id)
            .join(Escalation, Escalation.mission_id == staff_mission.c.mission_id)
            .where(
                Escalation.id == escalation_id,
                StaffUser.role == Role.OVERSIGHT,
                StaffUser.active.is_(True),
            )
            .order_by(StaffUser.id)
        )
    )


def _escalation_readers(connection: Connection, escalation_id: int) -> list[int]:
    stepped = connection.scalar(select(exists().where(LadderStep.escalation_id == escalation_id)))
    oversight = _escalation_oversight(connection, escalation_id) if stepped else []
    return sorted({*_escalation_leaders(connection, escalation_id), *oversight})


_AUDIENCES = {
    Audience.CASE_ADVISERS: _case_advisers,
    Audience.ESCALATION_CASE_ADVISERS: _escalation_case_advisers,
    Audience.ESCALATION_LEADERS: _escalation_leaders,
    Audience.GRANT_COLLEAGUES: _grant_colleagues,
    Audience.ESCALATION_OVERSIGHT: _escalation_oversight,
    Audience.ESCALATION_READERS: _escalation_readers,
}


def _reachable(
    connection: Connection, staff_ids: Sequence[int], kind: NotificationKind
) -> set[int]:
    """Return who of ``staff_ids`` can be mailed ``kind``: active, in its role, with an
    address, and not having turned it off."""
    if not staff_ids:
        return set()
    rows = connection.execute(
        select(StaffUser.id, StaffUser.notify_off).where(
            StaffUser.id.in_(list(staff_ids)),
            StaffUser.active.is_(True),
            StaffUser.role.in_(KINDS[kind].roles),
            StaffUser.email.is_not(None),
        )
    )
    return {row.id for row in rows if kind.value not in row.notify_off.split()}


def recipients(connection: Connection, kind: NotificationKind, subject_id: int) -> set[int]:
    """Return who is to be told ``kind`` about record ``subject_id`` now."""
    audience = _AUDIENCES[KINDS[kind].audience](connection, subject_id)
    return _reachable(connection, audience, kind)


def notify(
    connection: Connection, kind: NotificationKind, subject_id: int, *, on: date | None = None
) -> None:
    """Write the rows of an event in the caller's transaction (``session.connection()``
    for an ORM session): it commits with the event, or neither is kept."""
    if KINDS[kind].written is not Written.EVENT:
        raise ValueError(f"{kind.value} is written by dissent notify, not by an event")
    day = on or today()
    outbox.add(
        connection,
        [
            Pending(staff, kind, subject_id)
            for staff in sorted(recipients(connection, kind, subject_id))
        ],
        on=day,
    )


# --- what is due --------------------------------------------------------------------------


def _within(due: date, on: date, days: int) -> bool:
    return on <= due <= on + timedelta(days=days)


def _observation_applies(kind: NotificationKind, observation: Observation, on: date) -> bool:
    mission = observation.mission
    if kind is NotificationKind.ACK_DUE_SOON:
        return observation.state is State.RECEIVED and _within(
            ack_due(observation, mission), on, ACK_SOON_DAYS
        )
    if kind is NotificationKind.ACK_OVERDUE:
        return ack_overdue(observation, mission, on=on)
    awaiting = observation.state in AWAITING_FEEDBACK
    if kind is NotificationKind.FEEDBACK_DUE_SOON:
        return awaiting and _within(feedback_due(observation, mission), on, FEEDBACK_SOON_DAYS)
    if kind is NotificationKind.FEEDBACK_OVERDUE:
        return feedback_overdue(observation, mission, on=on)
    return True  # news: it stays news until it is sent


def _escalation_applies(kind: NotificationKind, escalation: Escalation, on: date) -> bool:
    if kind is NotificationKind.ESCALATION_RECEIVED:
        return escalation.state is EscalationState.SENT
    answered = escalation.state is EscalationState.RESPONDED
    if kind is NotificationKind.RESPONSE_DUE_SOON:
        return not answered and _within(response_due(escalation), on, RESPONSE_SOON_DAYS)
    if kind is NotificationKind.RESPONSE_OVERDUE:
        return not answered and on > response_due(escalation)
    return True


# The table each audience's records are in.
_SUBJECTS: dict[Audience, Any] = {
    Audience.CASE_ADVISERS: Observation,
    Audience.ESCALATION_CASE_ADVISERS: Escalation,
    Audience.ESCALATION_LEADERS: Escalation,
    Audience.GRANT_COLLEAGUES: AccessGrant,
    Audience.ESCALATION_OVERSIGHT: Escalation,
    Audience.ESCALATION_READERS: Escalation,
}


def _subject(session: Session, kind: NotificationKind, subject_id: int) -> Any:
    return session.get(_SUBJECTS[KINDS[kind].audience], subject_id)


def _applies(session: Session, kind: NotificationKind, subject_id: int, on: date) -> bool | None:
    """Return whether the reason for ``kind`` about the record still holds on ``on``
    (``None``: the record is gone)."""
    subject = _subject(session, kind, subject_id)
    if subject is None:
        return None
    if isinstance(subject, Observation):
        return _observation_applies(kind, subject, on)
    if isinstance(subject, Escalation):
        return _escalation_applies(kind, subject, on)
    return True


def _due_by_run(session: Session, on: date) -> Iterable[tuple[NotificationKind, int]]:
    """Return the kinds ``dissent notify`` writes that are due on ``on``, with their record."""
    reminders = [k for k, rule in KINDS.items() if rule.written is Written.BY_RUN]
    observations = session.scalars(
        select(Observation).where(Observation.state.in_(AWAITING_FEEDBACK)).order_by(Observation.id)
    )
    for observation in observations:
        for kind in reminders:
            if KINDS[kind].audience is Audience.CASE_ADVISERS and _observation_applies(
                kind, observation, on
            ):
                yield kind, observation.id
    escalations = session.scalars(
        select(Escalation)
        .where(Escalation.state != EscalationState.RESPONDED)
        .order_by(Escalation.id)
    )
    for escalation in escalations:
        for kind in reminders:
            if KINDS[kind].audience is Audience.ESCALATION_LEADERS and _escalation_applies(
                kind, escalation, on
            ):
                yield kind, escalation.id
    for grant_id in session.scalars(select(AccessGrant.id).order_by(AccessGrant.id)):
        yield NotificationKind.ACCESS_WAITING, grant_id


def plan(session: Session, *, now: datetime) -> None:
    """Bring the outbox up to date for a run at ``now``: remove what no longer applies,
    and write the reminders (and other kinds a run writes) that have come due.

    Runs under the run lock, so two runs planning at once write a reminder once.
    """
    outbox.lock_runs(session)
    on = now.date()
    _tidy(session, now=now)
    connection = session.connection()
    for kind, subject_id in list(_due_by_run(session, on)):
        told = set(
            session.scalars(
                select(Notification.staff_id).where(
                    Notification.kind == kind, Notification.subject_id == subject_id
                )
            )
        )
        fresh = recipients(connection, kind, subject_id) - told
        outbox.add(connection, [Pending(s, kind, subject_id) for s in sorted(fresh)], on=on)


def _tidy(session: Session, *, now: datetime) -> None:
    """Remove rows that must not be sent (their record is gone, their reason passed,
    their person left the audience) and sent rows no longer needed."""
    on = now.date()
    events = [k for k, rule in KINDS.items() if rule.written is Written.EVENT]
    session.execute(
        delete(Notification).where(
            Notification.kind.in_(events),
            Notification.sent_on < on - timedelta(days=KEEP_SENT_DAYS),
        )
    )
    # Rows whose record is gone (a purged observation, a completed grant), sent or not.
    for audience_of, model in _SUBJECTS.items():
        kinds = [k for k, rule in KINDS.items() if rule.audience is audience_of]
        session.execute(
            delete(Notification).where(
                Notification.kind.in_(kinds), Notification.subject_id.not_in(select(model.id))
            )
        )
    unsent = and_(
        Notification.sent_on.is_(None),
        or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
    )
    connection = session.connection()
    for kind, subject_id in session.execute(
        select(Notification.kind, Notification.subject_id).where(unsent).distinct()
    ).all():
        about = and_(Notification.kind == kind, Notification.subject_id == subject_id)
        if not _applies(session, kind, subject_id, on):
            session.execute(delete(Notification).where(about, unsent))
        else:
            audience = recipients(connection, kind, subject_id)
            session.execute(
                delete(Notification).where(about, unsent, Notification.staff_id.not_in(audience))
            )


# --- digests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    """One person's mail of one run: how many of each kind, nothing of what."""

    staff_id: int
    email: str
    language: str | None
    counts: tuple[tuple[NotificationKind, int], ...]  # in the order of KINDS
    # The random mail reference of each case, by kind (only where the instance names
    # cases in mails).
    references: dict[NotificationKind, tuple[str, ...]]


def _mail_ref(session: Session, kind: NotificationKind, subject_id: int) -> str | None:
    subject = _subject(session, kind, subject_id)
    if isinstance(subject, Observation):
        return subject.mail_ref
    if isinstance(subject, Escalation):
        return subject.observation.mail_ref
    return None


def digest_for(session: Session, claim: Claim, *, references: bool) -> Digest | None:
    """Return the digest of a claim, or ``None`` when its person cannot be mailed now."""
    person = session.get(StaffUser, claim.staff_id)
    if person is None or not person.active or person.email is None:
        return None
    counts: dict[NotificationKind, int] = defaultdict(int)
    named: dict[NotificationKind, list[str]] = defaultdict(list)
    for kind, subject_id in claim.rows:
        counts[kind] += 1
        ref = _mail_ref(session, kind, subject_id) if references else None
        if ref is not None:
            named[kind].append(ref)
    return Digest(
        staff_id=person.id,
        email=person.email,
        language=person.language,
        counts=tuple(sorted(counts.items(), key=lambda item: _ORDER[item[0]])),
        references={kind: tuple(sorted(refs)) for kind, refs in named.items()},
    )


# --- what each person wants ---------------------------------------------------------------


def check_email(text: str) -> str | None:
    """Return a mail address as stored (``None`` for an empty one), or raise
    :class:`InvalidInput` for the ``email`` field."""
    if not text.strip():
        return None
    if len(text.strip()) > EMAIL_MAX:
        raise InvalidInput(
            "email",
            Problem.TOO_LONG,
            limit=EMAIL_MAX,
            detail=f"email: longer than {EMAIL_MAX} characters",
        )
    address = parse_email(text)
    if address is None:
        raise InvalidInput(
            "email",
            Problem.MALFORMED,
            detail="email: type one mail address, such as name@example.org",
        )
    return address


def kinds_on(staff: StaffUser) -> list[NotificationKind]:
    """Return the kinds ``staff`` receives (every kind of their role, less those off)."""
    off = set(staff.notify_off.split())
    return [kind for kind in kinds_for(staff.role) if kind.value not in off]


def set_email(session: Session, *, staff_id: int, email: str, actor: str) -> StaffUser:
    """Set (or, with an empty text, remove) an account's mail address, as the operator.

    The ledger records that it changed, never the address.
    """
    address = check_email(email)
    person = session.get(StaffUser, staff_id)
    if person is None:
        raise NotFound
    if person.email != address:
        person.email = address
        audit.record(
            session,
            actor=actor,
            action=audit.Action.ACCOUNT_CHANGE,
            subject=f"email:{person.username}",
        )
    return person


def set_preferences(
    session: Session,
    *,
    staff: StaffUser,
    email: str,
    language: str,
    kinds: Iterable[str],
) -> None:
    """Save a person's own choices: their address, the language of their mails and the
    kinds they receive (those of their role not in ``kinds`` are turned off)."""
    address = check_email(email)
    language = language.strip().lower()
    if not language.isalpha() or len(language) > LANGUAGE_MAX:
        raise InvalidInput("language", Problem.UNKNOWN, detail="language: not one of the list")
    chosen = set(kinds)
    mine = kinds_for(staff.role)
    if chosen - {kind.value for kind in mine}:
        raise InvalidInput("kinds", Problem.UNKNOWN, detail="kinds: not one of the list")
    if address != staff.email:
        audit.record(
            session,
            actor=staff.username,
            action=audit.Action.ACCOUNT_CHANGE,
            subject=f"email:{staff.username}",
        )
    staff.email = address
    staff.language = language
    staff.notify_off = " ".join(kind.value for kind in mine if kind.value not in chosen)


def remember_language(session: Session, *, staff_id: int, language: str) -> None:
    """Take ``language`` as the language of a person's mails if they never chose one
    (the one they logged in with, the first time)."""
    person = session.get(StaffUser, staff_id)
    if person is not None and person.language is None and language.isalpha():
        person.language = language[:LANGUAGE_MAX]
