"""Who can read what: the one place that decides the readers of every ciphertext.

Two questions are answered here and nowhere else:

* **Who must be able to read a new record of a kind** (:class:`Readers` and the
  ``*_recipients`` functions). Every kind is readable by the mission's active advisers
  and the offline recovery key, so no single person leaving or forgetting a password
  loses a record; the source reads what is theirs; leaders read what was sent to them.
* **Where every ciphertext is stored** (:data:`CIPHERTEXTS`): each encrypted column and
  each kind of encrypted file, with who reads it and how it belongs to an observation.
  Access grants, export, backup, purge and the orphan report walk this list, so a new
  kind of ciphertext registered here is granted, exported, backed up and purged with
  the rest. :data:`NOT_CONTENT` names every other binary column and why it is not
  content; a test fails when a binary column is in neither.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from ..config import Settings
from ..crypto import PublicKeyRecipient, parse_recipient
from ..models import (
    Attachment,
    AuditEntry,
    AuditHead,
    BlobChunk,
    Enrolment,
    Escalation,
    EscalationVersion,
    Message,
    MissionNames,
    Note,
    Observation,
    Proposal,
    Response,
    Role,
    Source,
    StaffUser,
    StateChange,
    StoredSession,
    staff_mission,
)


class Readers(enum.Enum):
    """Who reads a kind of record, besides the mission's advisers and the recovery key."""

    CONVERSATION = "the source"
    ADVISERS = "nobody else"
    ESCALATION = "the source, the leaders it was sent to and the mission's oversight"
    RESPONSE = "the leaders the escalation was sent to and the mission's oversight"

    @property
    def source(self) -> bool:
        """Return whether the source reads this kind."""
        return self in (Readers.CONVERSATION, Readers.ESCALATION)

    @property
    def leaders(self) -> bool:
        """Return whether leaders read this kind."""
        return self in (Readers.ESCALATION, Readers.RESPONSE)


# --- who reads a new record ---------------------------------------------------------------


def confirmed_reader(role: Role) -> ColumnElement[bool]:
    """Return the condition on ``StaffUser`` joined with ``staff_mission`` of a member in
    ``role`` to whom what is sealed now is sealed: active, with a key that a second
    person confirmed for the mission (``confirmation``)."""
    return and_(
        StaffUser.role == role,
        StaffUser.active.is_(True),
        StaffUser.recipient.is_not(None),
        staff_mission.c.confirmed_key == StaffUser.recipient,
    )


# Built once: this runs on every ciphertext written (a source's every message), and
# a prebuilt statement skips most of SQLAlchemy's per-call statement work.
_ADVISER_RECIPIENTS = (
    select(StaffUser.recipient)
    .join(staff_mission, staff_mission.c.staff_id == StaffUser.id)
    .where(staff_mission.c.mission_id == bindparam("mission_id"), confirmed_reader(Role.ADVISER))
    .order_by(StaffUser.id)
)


def adviser_recipients(session: Session | Connection, mission_id: int) -> list[PublicKeyRecipient]:
    """Return the recipients of the mission's active advisers with confirmed keys.

    Read from the database every time, never from a cache: an adviser enrolled or
    deactivated a moment ago (in any worker) changes who can read the next text.
    Parsing is cached (``parse_recipient``), as the keys themselves never change.
    """
    rows = session.scalars(_ADVISER_RECIPIENTS, {"mission_id": mission_id})
    return [parse_recipient(text) for text in rows if text]


# The mission's oversight (the ladder above leadership, ``ladder``): every escalation
# and response is sealed to them from the day their key is confirmed, because the run
# that takes a step up the ladder holds no key and cannot add them then. Which of these
# they are shown is decided by access control (``oversight``): only those that stepped.
_CONFIRMED_OVERSIGHT = confirmed_reader(Role.OVERSIGHT)
_OVERSIGHT_SELECT = (
    select(StaffUser.recipient)
    .join(staff_mission, staff_mission.c.staff_id == StaffUser.id)
    .where(staff_mission.c.mission_id == bindparam("mission_id"), _CONFIRMED_OVERSIGHT)
    .order_by(StaffUser.id)
)


def oversight_recipients(
    session: Session | Connection, mission_id: int
) -> list[PublicKeyRecipient]:
    """Return the recipients of the mission's active oversight members with confirmed keys."""
    rows = session.scalars(_OVERSIGHT_SELECT, {"mission_id": mission_id})
    return [parse_recipient(text) for text in rows if text]


def oversight_counts(session: Session | Connection) -> dict[int, int]:
    """Return, by mission id, how many oversight members can read what is sealed now
    (active, key confirmed); a mission without any is missing. The ladder goes up only
    where someone can read what it brings (``ladder``)."""
    rows = session.execute(
        select(staff_mission.c.mission_id, func.count())
        .select_from(StaffUser)
        .join(staff_mission, staff_mission.c.staff_id == StaffUser.id)
        .where(_CONFIRMED_OVERSIGHT)
        .group_by(staff_mission.c.mission_id)
    )
    return {mission_id: count for mission_id, count in rows}


def _unique(recipients: Iterable[PublicKeyRecipient]) -> list[PublicKeyRecipient]:
    return list(dict.fromkeys(recipients))


def _leader_recipients(leaders: Sequence[StaffUser]) -> list[PublicKeyRecipient]:
    return [parse_recipient(leader.recipient) for leader in leaders if leader.recipient]


def adviser_only_recipients(
    session: Session | Connection, settings: Settings, *, mission_id: int
) -> list[PublicKeyRecipient]:
    """Return the readers of :attr:`Readers.ADVISERS`: the mission's advisers, recovery."""
    return _unique([*adviser_recipients(session, mission_id), settings.recovery_recipient])


def conversation_recipients(
    session: Session | Connection, settings: Settings, *, mission_id: int, source_recipient: str
) -> list[PublicKeyRecipient]:
    """Return the readers of :attr:`Readers.CONVERSATION`: the advisers, recovery and the
    source themselves."""
    return _unique(
        [
            *adviser_recipients(session, mission_id),
            settings.recovery_recipient,
            parse_recipient(source_recipient),
        ]
    )


def observation_recipients(
    session: Session | Connection, settings: Settings, observation: Observation
) -> list[PublicKeyRecipient]:
    """Return the readers of a new record in ``observation``'s conversation."""
    return conversation_recipients(
        session,
        settings,
        mission_id=observation.mission_id,
        source_recipient=observation.source.recipient,
    )


def escalation_recipients(
    session: Session | Connection,
    settings: Settings,
    *,
    mission_id: int,
    source_recipient: str,
    leaders: Sequence[StaffUser],
) -> list[PublicKeyRecipient]:
    """Return the readers of :attr:`Readers.ESCALATION`: the leaders it is sent to, the
    mission's confirmed oversight, and everyone who reads the conversation."""
    return _unique(
        [
            *_leader_recipients(leaders),
            *oversight_recipients(session, mission_id),
            *conversation_recipients(
                session, settings, mission_id=mission_id, source_recipient=source_recipient
            ),
        ]
    )


def response_recipients(
    session: Session | Connection,
    settings: Settings,
    *,
    mission_id: int,
    leaders: Sequence[StaffUser],
) -> list[PublicKeyRecipient]:
    """Return the readers of :attr:`Readers.RESPONSE`: the escalation's leaders, the
    mission's confirmed oversight, the advisers and recovery (the source hears the
    outcome through the adviser)."""
    return _unique(
        [
            *_leader_recipients(leaders),
            *oversight_recipients(session, mission_id),
            *adviser_only_recipients(session, settings, mission_id=mission_id),
        ]
    )


# --- where every ciphertext is ------------------------------------------------------------


class Scope(enum.Enum):
    """What a record belongs to, which says how it is found."""

    OBSERVATION = "observation"  # ``key`` is its observation's id
    ESCALATION = "escalation"  # ``key`` is its escalation's id
    MISSION = "mission"  # ``key`` is its mission's id


@dataclass(frozen=True)
class Ciphertext:
    """One kind of encrypted record: where it is stored and who reads it.

    ``column`` holds the age file itself, or, for a kind kept as files (``in_file``),
    the name of the file in the blob folder.
    """

    kind: str
    column: QueryableAttribute[Any]
    readers: Readers
    scope: Scope
    key: QueryableAttribute[int]
    in_file: bool = False
    size: str | None = None  # the column with the file's size, for a kind kept as files

    @property
    def model(self) -> type[Any]:
        """Return the model class that holds the column."""
        model: type[Any] = self.column.class_  # type: ignore[assignment]
        return model

    @property
    def table(self) -> str:
        """Return the table's name."""
        return str(self.model.__tablename__)

    def of_observations(self, observation_ids: Iterable[int]) -> ColumnElement[bool]:
        """Return the condition that selects the records of these observations."""
        ids = list(observation_ids)
        if self.scope is Scope.OBSERVATION:
            return self.key.in_(ids)
        if self.scope is Scope.ESCALATION:
            return self.key.in_(select(Escalation.id).where(Escalation.observation_id.in_(ids)))
        raise ValueError(f"{self.kind} belongs to a mission, not to an observation")


CIPHERTEXTS: tuple[Ciphertext, ...] = (
    Ciphertext(
        "observation", Observation.content, Readers.CONVERSATION, Scope.OBSERVATION, Observation.id
    ),
    Ciphertext(
        "message", Message.body, Readers.CONVERSATION, Scope.OBSERVATION, Message.observation_id
    ),
    Ciphertext(
        "attachment description",
        Attachment.meta,
        Readers.CONVERSATION,
        Scope.OBSERVATION,
        Attachment.observation_id,
    ),
    Ciphertext(
        "attachment",
        Attachment.blob_name,
        Readers.CONVERSATION,
        Scope.OBSERVATION,
        Attachment.observation_id,
        in_file=True,
        size="stored_size",
    ),
    Ciphertext("note", Note.body, Readers.ADVISERS, Scope.OBSERVATION, Note.observation_id),
    Ciphertext(
        "state change reason",
        StateChange.reason,
        Readers.ADVISERS,
        Scope.OBSERVATION,
        StateChange.observation_id,
    ),
    Ciphertext(
        "proposal", Proposal.body, Readers.CONVERSATION, Scope.OBSERVATION, Proposal.observation_id
    ),
    Ciphertext(
        "escalation version",
        EscalationVersion.body,
        Readers.ESCALATION,
        Scope.ESCALATION,
        EscalationVersion.escalation_id,
    ),
    Ciphertext(
        "response", Response.body, Readers.RESPONSE, Scope.ESCALATION, Response.escalation_id
    ),
    Ciphertext(
        "names list", MissionNames.body, Readers.ADVISERS, Scope.MISSION, MissionNames.mission_id
    ),
)

# Every other binary column, and why it is not content that readers must open.
NOT_CONTENT: dict[QueryableAttribute[Any], str] = {
    Source.lookup_id: "derived from the codename by the KDF; opens nothing",
    Observation.submit_token_hash: "hash of a one-time form token",
    StaffUser.totp_secret_sealed: "the second factor, sealed under an instance key",
    StaffUser.wrapped_identity: "the adviser's own identity, under their password",
    Enrolment.token_hash: "hash of a one-time enrolment link",
    EscalationVersion.signature: "the adviser's Ed25519 signature, public by design",
    AuditEntry.prev_hash: "hash chain of the audit ledger",
    AuditEntry.entry_hash: "hash chain of the audit ledger",
    AuditHead.entry_hash: "hash chain of the audit ledger",
    StoredSession.id_hash: "hash of a session id",
    StoredSession.sealed: "a session, sealed under a key only the browser's cookie holds",
    BlobChunk.data: "a piece of a file kind's ciphertext (the blob named by its record)",
}


def observation_kinds() -> tuple[Ciphertext, ...]:
    """Return the kinds that belong to an observation (directly or by its escalations)."""
    return tuple(kind for kind in CIPHERTEXTS if kind.scope is not Scope.MISSION)


def mission_kinds() -> tuple[Ciphertext, ...]:
    """Return the kinds that belong to a mission as a whole."""
    return tuple(kind for kind in CIPHERTEXTS if kind.scope is Scope.MISSION)


def file_kinds() -> tuple[Ciphertext, ...]:
    """Return the kinds kept as files in the blob folder."""
    return tuple(kind for kind in CIPHERTEXTS if kind.in_file)


def records_of(session: Session, kind: Ciphertext, observation_id: int) -> Iterator[Any]:
    """Yield the observation's records of ``kind`` that hold a ciphertext, oldest first."""
    model = kind.model
    columns = model.__mapper__.columns
    # Messages and files have random ids (invariant 2); their place is their position.
    oldest_first = [columns["position"]] if "position" in columns else model.__mapper__.primary_key
    yield from session.scalars(
        select(model)
        .where(kind.of_observations([observation_id]), kind.column.is_not(None))
        .order_by(*oldest_first)
    )


def file_names_of(session: Session, observation_ids: Iterable[int]) -> list[str]:
    """Return the names of the blob files that belong to these observations."""
    ids = list(observation_ids)
    names: list[str] = []
    for kind in file_kinds():
        names += session.scalars(select(kind.column).where(kind.of_observations(ids)))
    return names


def all_file_names(session: Session) -> dict[str, tuple[str, int]]:
    """Return every blob file name the database holds, with its kind and record id."""
    found: dict[str, tuple[str, int]] = {}
    for kind in file_kinds():
        primary = kind.model.__mapper__.primary_key[0]
        for name, record_id in session.execute(select(kind.column, primary)):
            found[name] = (kind.kind, record_id)
    return found
