"""Files attached to an observation: received, cleaned, encrypted, listed and sent back.

A file is never on disk in clear: the upload parser writes it into an
:class:`~dissent.services.uploads.UploadSink` (memory, or encrypted as it arrives)
instead of a temporary file. Images and PDFs lose their metadata
(:mod:`dissent.services.metadata`); other files are stored as they are and flagged. The
record, with its encrypted description (original name, sniffed type, size, whether
metadata was removed), can be committed only after the blob is complete
(:mod:`dissent.services.storage`). Downloads are decrypted as they stream.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..crypto import DecryptionError, Identity, iter_decrypt
from ..models import (
    Attachment,
    AuditEntry,
    NotificationKind,
    Observation,
    Sender,
    StaffUser,
    State,
    today,
)
from . import audit, budget, notifications
from .budget import Budget
from .content import open_document, seal_document
from .context import ServiceContext
from .errors import NotFound, ObservationClosed, Refused, ServiceError
from .inbox import observation_for_adviser
from .keyring import observation_recipients
from .locks import lock_observation
from .metadata import STRIPPABLE, FileType, StripFailed, TooComplex, sniff, strip_metadata
from .storage import PendingBlob, open_blob, publish_with_record
from .uploads import FALLBACK_FILENAME, UploadSink, disk_is_full, sanitize_filename

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
MAX_ATTACHMENT_BYTES = 200 * MIB
MAX_ATTACHMENTS_PER_OBSERVATION = 20
# Counted in stored (padded) bytes, which are at most 12 % above the files' sizes.
MAX_TOTAL_BYTES_PER_OBSERVATION = 500 * MIB
# Images and PDFs up to this size are held in memory until complete, to be cleaned;
# larger ones are encrypted as they arrive and flagged as not cleaned.
STRIP_IN_MEMORY_LIMIT = 32 * MIB
# Room in a request body for the multipart framing and the CSRF token around the file.
FORM_OVERHEAD_BYTES = 64 * 1024


class AttachmentError(ServiceError):
    """Base of the reasons an upload is refused."""


class AttachmentTooLarge(AttachmentError):
    """The file is larger than :data:`MAX_ATTACHMENT_BYTES` or than the room left."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class TooManyAttachments(AttachmentError):
    """The observation already has :data:`MAX_ATTACHMENTS_PER_OBSERVATION` files."""


class ObservationFull(AttachmentError):
    """The observation's files would exceed :data:`MAX_TOTAL_BYTES_PER_OBSERVATION`."""


class EmptyAttachment(AttachmentError):
    """The file has no content (or no file was chosen)."""


class AttachmentOutOfSpace(AttachmentError):
    """The server's disk is full: the file was not stored (nothing of it is kept)."""


class AttachmentUnreadable(ServiceError):
    """The reader's key cannot open this attachment (they were given access later)."""


class StripNote(enum.StrEnum):
    """Why metadata was or was not removed (stored in the encrypted description)."""

    REMOVED = "removed"
    PARTLY = "partly"  # a part of the file (an image inside a PDF) could not be cleaned
    UNSUPPORTED_TYPE = "unsupported_type"
    UNREADABLE = "unreadable"  # the file did not parse as its type
    TOO_LARGE = "too_large"  # larger than STRIP_IN_MEMORY_LIMIT
    TOO_COMPLEX = "too_complex"  # beyond a cleaning limit (scans, pixels, time)


# --- limits ----------------------------------------------------------------------------


def max_request_bytes() -> int:
    """Return the largest request body an upload route accepts."""
    return MAX_ATTACHMENT_BYTES + FORM_OVERHEAD_BYTES


def _usage(session: Session, observation_id: int) -> tuple[int, int]:
    count, total = session.execute(
        select(func.count(Attachment.id), func.coalesce(func.sum(Attachment.stored_size), 0)).where(
            Attachment.observation_id == observation_id
        )
    ).one()
    return int(count), int(total)


def _next_position(session: Session, observation_id: int) -> int:
    """Return the place of a new file after the observation's last one (under its lock).

    A place is never handed out twice, even after a source removed the last file: the
    source's inbox counts what it has shown them by place (``source_seen_attachment``),
    and a new file in a removed one's place would pass as seen.
    """
    last = session.scalar(
        select(func.max(Attachment.position)).where(Attachment.observation_id == observation_id)
    )
    shown = session.scalar(
        select(Observation.source_seen_attachment).where(Observation.id == observation_id)
    )
    return max(last or 0, shown or 0) + 1


def _room_left(session: Session, observation_id: int) -> int:
    """Return how many bytes one more file may have; raise if none may be added."""
    count, total = _usage(session, observation_id)
    if count >= MAX_ATTACHMENTS_PER_OBSERVATION:
        raise TooManyAttachments
    room = MAX_TOTAL_BYTES_PER_OBSERVATION - total
    if room <= 0:
        raise ObservationFull
    return min(MAX_ATTACHMENT_BYTES, room)


@dataclass
class Upload:
    """An upload in progress to one observation."""

    observation: Observation
    sink: UploadSink

    def discard(self) -> None:
        """Drop what was received unless it was stored."""
        self.sink.discard()


def start_upload(
    session: Session, ctx: ServiceContext, *, observation: Observation, sender: Sender
) -> Upload:
    """Prepare to receive a file for ``observation``, or raise why none may be added.

    Call before the request body is read: the limits and recipients are known up front.
    A source's file is refused here too when this hour's volume budget is used up
    (:class:`~dissent.services.budget.BudgetReached`).
    """
    if sender is Sender.SOURCE and observation.state is State.CLOSED:
        raise ObservationClosed(Refused.FILE)
    room = _room_left(session, observation.id)
    if sender is Sender.SOURCE:
        budget.check(
            session.connection(), ctx.settings, Budget.VOLUME, mission_id=observation.mission_id
        )
    sink = UploadSink(
        settings=ctx.settings,
        recipients=observation_recipients(session, ctx.settings, observation),
        max_bytes=room,
        memory_limit=STRIP_IN_MEMORY_LIMIT,
    )
    return Upload(observation=observation, sink=sink)


@dataclass(frozen=True)
class _Cleaned:
    data: bytes | None  # None: the file was streamed, nothing to add
    stripped: bool
    note: StripNote


def _clean(sink: UploadSink) -> _Cleaned:
    """Remove metadata from a file held in memory, where its type allows."""
    held = sink.take_memory()
    if held is None:
        note = StripNote.TOO_LARGE if sink.too_large_to_strip else StripNote.UNSUPPORTED_TYPE
        return _Cleaned(None, stripped=False, note=note)
    if sink.kind is None:
        sink.kind = sniff(held)
    if sink.kind not in STRIPPABLE:
        return _Cleaned(held, stripped=False, note=StripNote.UNSUPPORTED_TYPE)
    try:
        result = strip_metadata(held, sink.kind)
    except TooComplex:
        # Not worked on further: the file is kept as it came and shown as not cleaned.
        logger.info("metadata not removed from an upload beyond the cleaning limits")
        return _Cleaned(held, stripped=False, note=StripNote.TOO_COMPLEX)
    except StripFailed as exc:
        # The type of failure only: a message could quote the file.
        logger.info("metadata could not be removed from an upload (%s)", type(exc).__name__)
        return _Cleaned(held, stripped=False, note=StripNote.UNREADABLE)
    if not result.complete:
        return _Cleaned(result.data, stripped=False, note=StripNote.PARTLY)
    return _Cleaned(result.data, stripped=True, note=StripNote.REMOVED)


class FileNamer(Protocol):
    """Gives the name a file is stored under, from its type, size and the name it came with."""

    def __call__(self, kind: FileType, size: int, original: str) -> str: ...


@dataclass
class ReceivedFile:
    """A received file, cleaned and encrypted into a blob that is not yet stored."""

    blob: PendingBlob
    original_name: str  # sanitised
    kind: FileType
    size: int  # of the (cleaned) file
    stripped: bool
    note: StripNote
    stored_name: str = ""  # the name it was stored under, once it is

    def discard(self) -> None:
        """Remove the blob unless it was stored."""
        self.blob.discard()


def finish_upload(sink: UploadSink) -> ReceivedFile:
    """Clean the file in ``sink`` and finish its ciphertext; raise why it is refused.

    Raises an :class:`AttachmentError` when the file is empty or over a limit, or the
    disk is full; nothing of it is kept then.
    """
    if sink.out_of_space:
        raise AttachmentOutOfSpace
    if sink.too_large:
        raise AttachmentTooLarge(sink.max_bytes)
    if sink.size == 0 or sink.parts == 0:
        raise EmptyAttachment
    cleaned = _clean(sink)
    size = len(cleaned.data) if cleaned.data is not None else sink.size
    try:
        blob = sink.seal(cleaned.data)
    except OSError as exc:
        if disk_is_full(exc):
            raise AttachmentOutOfSpace from exc
        raise
    return ReceivedFile(
        blob=blob,
        original_name=sanitize_filename(sink.filename),
        kind=sink.kind or FileType.OTHER,
        size=size,
        stripped=cleaned.stripped,
        note=cleaned.note,
    )


def store_upload(
    session: Session,
    ctx: ServiceContext,
    upload: Upload,
    *,
    staff: StaffUser | None,
    first_filing: bool = False,
    naming: FileNamer | None = None,
) -> Attachment:
    """Clean, encrypt and store a received file with its record; return the record.

    ``staff`` is the adviser who sent it, or None for the source. A source's file tells
    the case's advisers there is news (a ``SOURCE_MESSAGE`` notification), unless it is
    sent with the observation itself (``first_filing``: the new observation's own
    notification covers it). ``naming`` gives the stored name (a neutral one, say);
    without it the file keeps the name it came with. Raises an :class:`AttachmentError`
    when the file is empty or over a limit; nothing is kept then.
    """
    received = finish_upload(upload.sink)
    return store_received(
        session,
        ctx,
        upload.observation,
        received,
        staff=staff,
        first_filing=first_filing,
        naming=naming,
    )


def store_received(
    session: Session,
    ctx: ServiceContext,
    observation: Observation,
    received: ReceivedFile,
    *,
    staff: StaffUser | None,
    first_filing: bool = False,
    naming: FileNamer | None = None,
) -> Attachment:
    """Store a finished file (its blob encrypted to ``observation``'s readers) with its
    record, under the limits and budgets; return the record (see :func:`store_upload`)."""
    blob = received.blob  # from here on, publish_with_record removes it on failure
    filename = received.original_name
    if naming is not None:
        filename = sanitize_filename(naming(received.kind, received.size, received.original_name))
    received.stored_name = filename
    meta = seal_document(
        {
            "filename": filename,
            "content_type": str(received.kind),
            "size": received.size,
            "stripped": received.stripped,
            "warning": not received.stripped,
            "note": str(received.note),
            "neutral_name": naming is not None,
        },
        recipients=observation_recipients(session, ctx.settings, observation),
    )

    def record(stored_size: int) -> Attachment:
        # Two uploads at once must not both pass the limits.
        lock_observation(session, observation.id)
        count, total = _usage(session, observation.id)
        if count >= MAX_ATTACHMENTS_PER_OBSERVATION:
            raise TooManyAttachments
        if total + stored_size > MAX_TOTAL_BYTES_PER_OBSERVATION:
            raise ObservationFull
        if staff is None:
            # A source's file counts against the hour's volume budget; refused, it is
            # removed with the rolled-back record (publish_with_record).
            budget.spend(
                session.connection(),
                ctx.settings,
                Budget.VOLUME,
                mission_id=observation.mission_id,
                amount=budget.kib(stored_size),
            )
            if not first_filing:
                # A file added later is news from the source, like a message; written
                # here, it commits with the file or not at all.
                notifications.notify(
                    session.connection(), NotificationKind.SOURCE_MESSAGE, observation.id
                )
        attachment = Attachment(
            observation_id=observation.id,
            position=_next_position(session, observation.id),
            sender=Sender.ADVISER if staff else Sender.SOURCE,
            staff_id=staff.id if staff else None,
            added_on=today(),
            blob_name=blob.name,
            stored_size=stored_size,
            meta=meta,
        )
        session.add(attachment)
        session.flush()  # its id, for the audit entry
        if staff is not None:
            audit.record(
                session,
                actor=staff.username,
                action=audit.Action.ATTACHMENT_ADD,
                subject=f"{observation.ref}/{attachment.id}",
            )
        return attachment

    try:
        return publish_with_record(session, blob, record)
    except OSError as exc:
        if disk_is_full(exc):
            raise AttachmentOutOfSpace from exc
        raise


# --- finding -----------------------------------------------------------------------------


def source_observation(session: Session, *, source_id: int, ref: str) -> Observation:
    """Return the source's own observation ``ref``, or raise :class:`NotFound`."""
    observation = session.scalar(
        select(Observation).where(Observation.ref == ref, Observation.source_id == source_id)
    )
    if observation is None:
        raise NotFound
    return observation


def attachment_for_source(session: Session, *, source_id: int, attachment_id: int) -> Attachment:
    """Return an attachment of one of the source's observations, or raise NotFound."""
    attachment = session.scalar(
        select(Attachment)
        .join(Observation, Observation.id == Attachment.observation_id)
        .where(Attachment.id == attachment_id, Observation.source_id == source_id)
    )
    if attachment is None:
        raise NotFound
    return attachment


def attachment_for_adviser(session: Session, *, staff: StaffUser, attachment_id: int) -> Attachment:
    """Return an attachment of an observation of the adviser's missions, or raise NotFound."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound
    observation = session.get(Observation, attachment.observation_id)
    if observation is None:
        raise NotFound
    observation_for_adviser(session, staff, observation.ref)  # raises NotFound
    return attachment


# --- listing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentView:
    """One attachment as a reader sees it, its description decrypted."""

    id: int
    sender: Sender
    added_on: date
    author: str | None  # the adviser's username, for staff readers only
    readable: bool
    filename: str = ""
    content_type: str = ""
    size: int = 0
    stripped: bool = False
    warning: bool = True
    note: str = ""
    neutral_name: bool = False  # stored under a name made from its type and size
    # An adviser has downloaded it, or staff exported the observation on or after the
    # day it was added: a source can no longer remove it.
    opened: bool = False


def _describe(
    attachment: Attachment, identity: Identity, author: str | None, *, opened: bool
) -> AttachmentView:
    try:
        meta = open_document(attachment.meta, identities=[identity])
    except DecryptionError:
        return AttachmentView(
            id=attachment.id,
            sender=attachment.sender,
            added_on=attachment.added_on,
            author=author,
            readable=False,
            opened=opened,
        )
    return AttachmentView(
        id=attachment.id,
        sender=attachment.sender,
        added_on=attachment.added_on,
        author=author,
        readable=True,
        filename=str(meta.get("filename") or FALLBACK_FILENAME),
        content_type=str(meta.get("content_type") or FileType.OTHER),
        size=int(meta.get("size", 0)),
        stripped=bool(meta.get("stripped", False)),
        warning=bool(meta.get("warning", True)),
        note=str(meta.get("note", "")),
        neutral_name=bool(meta.get("neutral_name", False)),
        opened=opened,
    )


def list_attachments(
    session: Session, observation: Observation, identity: Identity, *, for_staff: bool = False
) -> list[AttachmentView]:
    """Return the observation's attachments, oldest first, described for ``identity``.

    Advisers' usernames are given to staff readers only (``for_staff``); a source sees
    that an adviser added a file, not which one.
    """
    attachments = list(
        session.scalars(
            select(Attachment)
            .where(Attachment.observation_id == observation.id)
            .order_by(Attachment.position)
        )
    )
    names: dict[int, str] = {}
    staff_ids = {a.staff_id for a in attachments if a.staff_id is not None}
    if for_staff and staff_ids:
        names = {
            staff_id: username
            for staff_id, username in session.execute(
                select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(staff_ids))
            )
        }
    opened = opened_files(session, observation, attachments)
    return [
        _describe(
            a,
            identity,
            names.get(a.staff_id) if a.staff_id is not None else None,
            opened=a.id in opened,
        )
        for a in attachments
    ]


def download_subject(ref: str, attachment_id: int) -> str:
    """Return the ledger subject of a download of one file: ``<ref>/<attachment id>``."""
    return f"{ref}/{attachment_id}"


def opened_files(
    session: Session, observation: Observation, attachments: list[Attachment]
) -> set[int]:
    """Return the ids of ``attachments`` staff may have read, from the audit ledger.

    A file counts as opened once an adviser downloaded it, or anyone exported the
    observation (``dissent export``) on or after the day it was added: an export holds
    every file there is. A source's file has no ledger entry to order it against the
    export's (its place in the chain would date it, decision 31), only its day, so an
    export earlier on that day counts too: the safe side, where a file staff may hold
    is never offered for removal.
    """
    if not attachments:
        return set()
    by_subject = {download_subject(observation.ref, a.id): a.id for a in attachments}
    opened = {
        by_subject[subject]
        for subject in session.scalars(
            select(AuditEntry.subject).where(
                AuditEntry.subject.in_(list(by_subject)),
                AuditEntry.action == audit.Action.ATTACHMENT_DOWNLOAD,
            )
        )
    }
    exported = session.scalar(
        select(func.max(AuditEntry.at)).where(
            AuditEntry.subject == observation.ref, AuditEntry.action == audit.Action.EXPORT
        )
    )
    if exported is not None:
        opened.update(a.id for a in attachments if a.added_on <= exported.date())
    return opened


# --- sending back ------------------------------------------------------------------------


@dataclass
class Download:
    """A decrypted attachment on its way out: its name and size, and its chunks."""

    filename: str
    size: int
    chunks: Iterator[bytes]


def _stream(first: bytes, rest: Iterator[bytes], handle: IO[bytes], size: int) -> Iterator[bytes]:
    """Yield the plaintext; on a failed chunk stop short, so the download is incomplete."""
    sent = 0
    try:
        for chunk in _chain(first, rest):
            piece = chunk[: max(0, size - sent)]  # never more than the announced length
            if piece:
                sent += len(piece)
                yield piece
    except DecryptionError as exc:
        # The length was announced, so the client sees a short, failed download.
        logger.error("attachment download stopped: %s", type(exc).__name__)
    finally:
        handle.close()


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def open_download(
    session: Session,
    ctx: ServiceContext,
    attachment: Attachment,
    identity: Identity,
    *,
    staff: StaffUser | None = None,
) -> Download:
    """Open an attachment for streaming to its reader; audit a staff member's download.

    The header and first chunk are decrypted here, so a key that cannot open the file
    gives :class:`AttachmentUnreadable` before any response is sent. The caller commits
    the audit entry before it sends the file.
    """
    try:
        meta = open_document(attachment.meta, identities=[identity])
    except DecryptionError as exc:
        raise AttachmentUnreadable from exc
    handle = open_blob(session, ctx.settings, attachment.blob_name)
    try:
        chunks = iter_decrypt(handle, identities=[identity], padded=True)
        first = next(chunks, b"")
    except DecryptionError as exc:
        handle.close()
        raise AttachmentUnreadable from exc
    except BaseException:
        handle.close()
        raise
    if staff is not None:
        observation = session.get(Observation, attachment.observation_id)
        audit.record(
            session,
            actor=staff.username,
            action=audit.Action.ATTACHMENT_DOWNLOAD,
            subject=download_subject(observation.ref if observation else "?", attachment.id),
        )
        # Read again under the ledger's lock, which a source's removal holds too
        # (services/file_removal.py): a file removed a moment ago is not sent, and one
        # sent can no longer be removed.
        if session.scalar(select(Attachment.id).where(Attachment.id == attachment.id)) is None:
            handle.close()
            raise NotFound
    size = int(meta.get("size", 0))
    return Download(
        filename=str(meta.get("filename") or FALLBACK_FILENAME),
        size=size,
        chunks=_stream(first, chunks, handle, size),
    )
