"""A source takes back a file they sent, until staff have opened or exported it.

Whether a file was opened is read from the audit ledger: an adviser's download is
recorded there (``attachment_download``, subject ``<ref>/<attachment id>``), and so is
an export of the observation (``dissent export``, by an operator or a custodian), which
holds every file. Once opened, removing the file would not take it back, so it is
refused.

The removal itself is not written to the ledger. The ledger is a chain of staff actions
in order, each timed to the microsecond: an entry for a source's action, whatever time
it carried, would sit between two timed staff entries and so date it to the minute
(invariant 2 keeps a source's actions to the day). It is kept where the source's other
actions are, in the conversation: a note dated to the day, with a random id and the next
place in the thread, encrypted like a message (decision 31 in docs/decisions.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..crypto import Identity
from ..models import Attachment, AuditHead, Observation, Sender
from .attachments import AttachmentView, attachment_for_source, list_attachments
from .context import ServiceContext
from .conversation import note_file_removed
from .errors import NotFound, ServiceError
from .locks import lock_observation
from .storage import remove_after_commit


class NotRemovable(enum.StrEnum):
    """Why a file cannot be removed by the source."""

    OPENED = "opened"  # staff have downloaded it, or exported its observation
    NOT_YOURS = "not_yours"  # an adviser sent it


class FileNotRemovable(ServiceError):
    """The source may not remove this file (``reason``); nothing was changed."""

    def __init__(self, reason: NotRemovable) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class RemovedFile:
    """What was removed: the observation it belonged to and the file's name."""

    ref: str
    filename: str


def _describe_own(
    session: Session, attachment: Attachment, identity: Identity
) -> tuple[Observation, AttachmentView]:
    observation = session.get(Observation, attachment.observation_id)
    if observation is None:
        raise NotFound
    for view in list_attachments(session, observation, identity):
        if view.id == attachment.id:
            return observation, view
    raise NotFound  # removed a moment ago


def file_to_remove(
    session: Session, *, source_id: int, attachment_id: int, identity: Identity
) -> tuple[str, AttachmentView]:
    """Return the reference and description of a file the source asks to remove.

    Raises :class:`NotFound` if it is not a file of one of their observations, and
    :class:`FileNotRemovable` if it cannot be removed (the page then says why).
    """
    attachment = attachment_for_source(session, source_id=source_id, attachment_id=attachment_id)
    observation, view = _describe_own(session, attachment, identity)
    if view.sender is not Sender.SOURCE:
        raise FileNotRemovable(NotRemovable.NOT_YOURS)
    if view.opened:
        raise FileNotRemovable(NotRemovable.OPENED)
    return observation.ref, view


def remove_source_file(
    session: Session,
    ctx: ServiceContext,
    *,
    source_id: int,
    attachment_id: int,
    identity: Identity,
) -> RemovedFile:
    """Delete a file the source sent, with its ciphertext, in the caller's transaction,
    and note the removal in the conversation; return what was removed.

    Raises :class:`NotFound` and :class:`FileNotRemovable` as :func:`file_to_remove`
    does. The file's blob goes with the transaction: its chunks in it, its file once
    it has committed.
    """
    attachment = attachment_for_source(session, source_id=source_id, attachment_id=attachment_id)
    lock_observation(session, attachment.observation_id)
    # The ledger's head, as an adviser's download takes it to record the download: a
    # download either committed before this (and is seen below), or waits and then
    # finds the file gone (services/attachments.open_download). On SQLite the
    # observation's lock above is the database's write lock already.
    session.execute(select(AuditHead.id).where(AuditHead.id == 1).with_for_update())
    # As it stands under the locks: removed meanwhile (in another tab), it is gone.
    found = session.scalar(
        select(Attachment)
        .where(Attachment.id == attachment_id)
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise NotFound
    attachment = found
    observation, view = _describe_own(session, attachment, identity)
    if view.sender is not Sender.SOURCE:
        raise FileNotRemovable(NotRemovable.NOT_YOURS)
    if view.opened:
        raise FileNotRemovable(NotRemovable.OPENED)
    filename = view.filename if view.readable else ""
    blob_name = attachment.blob_name
    session.delete(attachment)
    session.flush()
    remove_after_commit(session, ctx.settings, [blob_name])
    note_file_removed(session, ctx, observation, filename=filename)
    return RemovedFile(ref=observation.ref, filename=filename)
