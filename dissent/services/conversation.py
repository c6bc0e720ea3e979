"""Reading and writing an observation's conversation, for the source and the adviser."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, ScalarSelect, bindparam, func, insert, select
from sqlalchemy.orm import Session

from ..crypto import DecryptionError, Identity
from ..crypto.padding import padded_size
from ..models import (
    Message,
    MessageKind,
    NotificationKind,
    Observation,
    Sender,
    Source,
    StaffUser,
    State,
    today,
    utcnow,
)
from . import audit, budget, notifications
from .budget import Budget
from .content import open_document, seal_document
from .context import ServiceContext
from .errors import NotFound, ObservationClosed, check_text
from .keyring import conversation_recipients
from .locks import hold_observation, lock_observation
from .triage import record_transition
from .workflow import action_target, check_action

MESSAGE_MAX = 10_000
# The standard acknowledgement. Stored as a marker and rendered in the reader's
# language, so the source reads it in theirs.
ACKNOWLEDGEMENT_MARKER = "acknowledgement"


@dataclass(frozen=True)
class ThreadMessage:
    """One decrypted message as a reader sees it."""

    sender: Sender
    kind: MessageKind
    text: str
    sent_on: date
    sent_at: datetime | None
    author: str | None  # staff username, shown to staff only
    readable: bool = True
    position: int = 0  # its place in the conversation: 1, 2, ...


@dataclass(frozen=True)
class ObservationView:
    """An observation with its decrypted content and thread."""

    observation: Observation
    content: dict[str, Any]
    messages: list[ThreadMessage]
    readable: bool = True


def _decrypt_messages(
    observation: Observation, identities: list[Identity], *, for_staff: bool
) -> list[ThreadMessage]:
    out = []
    for message in observation.messages:
        try:
            text = str(open_document(message.body, identities=identities).get("text", ""))
            readable = True
        except DecryptionError:
            text, readable = "", False
        out.append(
            ThreadMessage(
                sender=message.sender,
                kind=message.kind,
                text=text,
                sent_on=message.sent_on,
                sent_at=message.sent_at if for_staff else None,
                author=message.staff.username if for_staff and message.staff else None,
                readable=readable,
                position=message.position,
            )
        )
    return out


def view_observation(
    observation: Observation, identity: Identity, *, for_staff: bool
) -> ObservationView:
    """Decrypt an observation and its thread with ``identity``.

    A ciphertext this identity cannot open (an adviser added after it was written,
    say) is shown as unreadable rather than failing the page.
    """
    try:
        content = open_document(observation.content, identities=[identity])
        readable = True
    except DecryptionError:
        content, readable = {}, False
    messages = _decrypt_messages(observation, [identity], for_staff=for_staff)
    return ObservationView(
        observation=observation, content=content, messages=messages, readable=readable
    )


def source_observations(session: Session, source_id: int) -> list[Observation]:
    """Return the source's observations, newest first."""
    return list(
        session.scalars(
            select(Observation)
            .where(Observation.source_id == source_id)
            .order_by(Observation.id.desc())
        )
    )


def next_position(observation_id: Any) -> ScalarSelect[int]:
    """Return SQL for the place of a new message at the end of an observation's
    conversation; the caller holds the observation's lock, so two messages never take
    the same place."""
    return (
        select(func.coalesce(func.max(Message.position), 0) + 1)
        .where(Message.observation_id == observation_id)
        .scalar_subquery()
    )


# Built once: a source's follow-up message is the most frequent write.
_INSERT_MESSAGE = insert(Message).values(position=next_position(bindparam("thread")))


def _insert_message(
    connection: Connection,
    ctx: ServiceContext,
    *,
    observation_id: int,
    mission_id: int,
    source_recipient: str,
    sender: Sender,
    text: str,
    kind: MessageKind = MessageKind.MESSAGE,
    staff: StaffUser | None = None,
) -> None:
    """Encrypt ``text`` to everyone who reads the observation and store it.

    A plain INSERT rather than the unit of work: a source's follow-up message is the
    most frequent write, and nothing else in the request needs the new row. On an
    ORM session, pass ``session.connection()``: the same transaction.
    """
    recipients = conversation_recipients(
        connection, ctx.settings, mission_id=mission_id, source_recipient=source_recipient
    )
    lock_observation(connection, observation_id)
    connection.execute(
        _INSERT_MESSAGE,
        {
            "thread": observation_id,
            "observation_id": observation_id,
            "sender": sender,
            "kind": kind,
            "staff_id": staff.id if staff else None,
            "sent_on": today(),
            "sent_at": utcnow() if staff else None,
            "body": seal_document({"text": text}, recipients=recipients),
        },
    )


def _add_message(
    session: Session,
    ctx: ServiceContext,
    observation: Observation,
    *,
    sender: Sender,
    text: str,
    kind: MessageKind = MessageKind.MESSAGE,
    staff: StaffUser | None = None,
) -> None:
    _insert_message(
        session.connection(),
        ctx,
        observation_id=observation.id,
        mission_id=observation.mission_id,
        source_recipient=observation.source.recipient,
        sender=sender,
        text=text,
        kind=kind,
        staff=staff,
    )
    # The thread, if this session has loaded it, must show the new message.
    session.expire(observation, ["messages"])


def note_file_removed(
    session: Session, ctx: ServiceContext, observation: Observation, *, filename: str
) -> None:
    """Note in the conversation, dated to the day like any message of the source's,
    that the source removed the file ``filename`` (encrypted like a message)."""
    _add_message(
        session,
        ctx,
        observation,
        sender=Sender.SOURCE,
        text=filename,
        kind=MessageKind.FILE_REMOVED,
    )


def _validate_text(text: str) -> str:
    return check_text(text, field="text", limit=MESSAGE_MAX)


# What a source's message needs, in one query: the observation (only if it is this
# source's own), its state and mission, and the source's recipient.
_SOURCE_TARGET = (
    select(Observation.id, Observation.mission_id, Observation.state, Source.recipient)
    .join(Source, Source.id == Observation.source_id)
    .where(Observation.ref == bindparam("ref"), Observation.source_id == bindparam("source_id"))
)


def post_source_message(
    connection: Connection, ctx: ServiceContext, *, source_id: int, ref: str, text: str
) -> None:
    """Add a source's message to one of their observations.

    Takes the connection of the request's transaction (``session.connection()``), not
    the ORM session: a follow-up message is the most frequent write a source makes, and
    plain statements cost a fraction of the unit of work around them. The caller
    commits it with the rest of the request. Raises
    :class:`~dissent.services.budget.BudgetReached` when this hour's volume budget is
    used up (the caller rolls back: the message is not kept).
    """
    found = connection.execute(_SOURCE_TARGET, {"ref": ref, "source_id": source_id}).one_or_none()
    if found is None:
        raise NotFound
    observation_id, mission_id, state, source_recipient = found
    if state is State.CLOSED:
        raise ObservationClosed
    text = _validate_text(text)
    _insert_message(
        connection,
        ctx,
        observation_id=observation_id,
        mission_id=mission_id,
        source_recipient=source_recipient,
        sender=Sender.SOURCE,
        text=text,
    )
    # After the observation's lock (taken by the insert), as an upload takes them: the
    # same order everywhere. Counted at its padded size, as stored.
    budget.spend(
        connection,
        ctx.settings,
        Budget.VOLUME,
        mission_id=mission_id,
        amount=budget.kib(padded_size(len(text.encode()))),
    )
    notifications.notify(connection, NotificationKind.SOURCE_MESSAGE, observation_id)


def post_adviser_message(
    session: Session, ctx: ServiceContext, *, staff: StaffUser, observation: Observation, text: str
) -> None:
    """Add an adviser's message to an observation's thread."""
    _add_message(
        session, ctx, observation, sender=Sender.ADVISER, text=_validate_text(text), staff=staff
    )
    audit.record(session, actor=staff.username, action=audit.Action.REPLY, subject=observation.ref)


def acknowledge(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    observation: Observation,
    seen: int | None = None,
) -> None:
    """Acknowledge receipt: record the date and send the standard acknowledgement."""
    hold_observation(session, observation, seen=seen)
    check_action("acknowledge", observation.state)
    record_transition(
        session, ctx, staff=staff, observation=observation, to_state=action_target("acknowledge")
    )
    observation.acknowledged_on = today()
    _add_message(
        session,
        ctx,
        observation,
        sender=Sender.ADVISER,
        text=ACKNOWLEDGEMENT_MARKER,
        kind=MessageKind.ACKNOWLEDGEMENT,
        staff=staff,
    )
    audit.record(
        session, actor=staff.username, action=audit.Action.ACKNOWLEDGE, subject=observation.ref
    )


def send_feedback(
    session: Session, ctx: ServiceContext, *, staff: StaffUser, observation: Observation, text: str
) -> None:
    """Tell the source what was done; this meets the feedback deadline."""
    hold_observation(session, observation, seen=None)
    check_action("feedback", observation.state)
    text = _validate_text(text)
    if observation.state is not State.FEEDBACK_GIVEN:
        record_transition(
            session, ctx, staff=staff, observation=observation, to_state=action_target("feedback")
        )
    observation.feedback_given_on = observation.feedback_given_on or today()
    _add_message(
        session,
        ctx,
        observation,
        sender=Sender.ADVISER,
        text=text,
        kind=MessageKind.FEEDBACK,
        staff=staff,
    )
    audit.record(
        session, actor=staff.username, action=audit.Action.FEEDBACK, subject=observation.ref
    )
