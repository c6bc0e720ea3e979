"""Files sent with a new observation, in the same form and the same transaction.

When the form arrives nobody knows yet who will read the files: the mission is one of
the form's fields, and the source's own key comes from the codename, made after the
form has been read. A file must still never be on disk in clear, so each file part is
received as later uploads are (:class:`~dissent.services.uploads.UploadSink`: cleaned
in memory, or encrypted as it arrives), encrypted to a key made for this request and
held only in its memory. Each file is finished (cleaned and sealed) as soon as the next
part begins, so one file at a time is held for cleaning. Once the observation exists,
each ciphertext gets a new header for its real readers (the payload is copied as it is;
:func:`dissent.crypto.rewrap`) and is stored with its record in the observation's
transaction; the request's key is then dropped, and with it every temporary copy's
meaning.
"""

from __future__ import annotations

import contextlib
from typing import IO, cast

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from ..config import Settings
from ..crypto import generate_identity, rewrap
from ..models import Observation
from . import budget
from .attachments import (
    MAX_ATTACHMENT_BYTES,
    STRIP_IN_MEMORY_LIMIT,
    AttachmentError,
    AttachmentOutOfSpace,
    AttachmentTooLarge,
    AttachmentView,
    FileNamer,
    ReceivedFile,
    TooManyAttachments,
    finish_upload,
    store_received,
)
from .budget import Budget
from .context import ServiceContext
from .keyring import observation_recipients
from .storage import new_blob
from .uploads import DroppedPart, UploadSink, disk_is_full

# At most this many files come with the observation (more can be added from the inbox,
# up to the observation's limit), together at most this many bytes: what one later
# upload may hold.
MAX_FIRST_FILES = 5
MAX_FIRST_FILES_BYTES = MAX_ATTACHMENT_BYTES
# The form's other fields, with room for a browser's extra ones.
FORM_FIELDS = 16
# Room in the body for the form's fields (the observation's text is at most 20,000
# characters: 80 KB in UTF-8) and the multipart framing around each part.
FORM_BYTES = 512 * 1024
# A body up to this size is read to its end even when the files in it are over their
# limit, so the form comes back with what was typed and a message; a larger declared
# body is refused unread.
READ_LIMIT = 2 * MAX_FIRST_FILES_BYTES + FORM_BYTES


def check_budgets(conn: Connection, settings: Settings, *, body_bytes: int | None) -> None:
    """Raise :class:`~dissent.services.budget.BudgetReached` if this hour's instance-wide
    budget of new observations is used up, or, for a body that may hold files (larger
    than the form's fields, or of a length not declared), of volume.

    Reads only, before the body is read: a full budget then costs no file received or
    encrypted. The mission is a field of the form, so only the instance's budgets can
    be told yet; the filing itself checks and counts both (``services/submission``).
    """
    budget.check(conn, settings, Budget.OBSERVATIONS, mission_id=None)
    if body_bytes is None or body_bytes > FORM_BYTES:
        budget.check(conn, settings, Budget.VOLUME, mission_id=None)


class FirstFiles:
    """The file parts of a new observation's form, as they arrive.

    Werkzeug's form parser calls :meth:`open_part` for each file part
    (``web/receive.py``). After the body is read, :meth:`finish` ends the last
    file; :attr:`files` are then the files received and :attr:`problem` the reason
    to refuse them, if any. :meth:`discard` removes whatever was not stored.

    Once the files are refused, or if :meth:`drop_files` was called first, the parts
    that follow are only counted, never encrypted: enough to tell whether they are
    too large together.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # Made for this request, never stored: what it encrypts is unreadable once the
        # request is over, unless stored for its real readers.
        self._identity = generate_identity(settings.key_kind)
        self._sink: UploadSink | None = None
        self._dropped: DroppedPart | None = None
        self._dropping = False
        self._named = False
        self._received_bytes = 0
        self.parts = 0
        self.files: list[ReceivedFile] = []
        self.problem: AttachmentError | None = None

    @property
    def chosen(self) -> bool:
        """Return whether the source chose any file (even one refused or dropped)."""
        return self._named or bool(self.files) or self.problem is not None

    def drop_files(self) -> None:
        """Read every file part from now on without keeping it: for a form refused
        before its files are looked at, whose typed text is still to be shown back, or
        a body read again by an error page. Nothing of such a part is written anywhere,
        encrypted or not."""
        self._dropping = True

    def open_part(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        """Return where the parser should write the next file part."""
        self._finish_part()
        self.parts += 1
        self._named = self._named or bool(filename)
        if self.parts > MAX_FIRST_FILES:
            self._refuse(TooManyAttachments())
        if self.problem is not None or self._dropping:
            # Refused already: counted, so that "too large together" is still found.
            self._dropped = DroppedPart()
            return cast(IO[bytes], self._dropped)
        self._sink = UploadSink(
            settings=self._settings,
            recipients=[self._identity.recipient],
            max_bytes=max(0, MAX_FIRST_FILES_BYTES - self._received_bytes),
            memory_limit=STRIP_IN_MEMORY_LIMIT,
        )
        return self._sink.open_part(total_content_length, content_type, filename, content_length)

    def finish(self) -> None:
        """End the last file part (call once the body is read)."""
        self._finish_part()

    def _finish_part(self) -> None:
        dropped, self._dropped = self._dropped, None
        if dropped is not None:
            self._received_bytes += dropped.size
            if self._received_bytes > MAX_FIRST_FILES_BYTES:
                self._refuse(AttachmentTooLarge(MAX_FIRST_FILES_BYTES))
            return
        sink, self._sink = self._sink, None
        if sink is None:
            return
        self._received_bytes += sink.size
        if sink.size == 0 and not sink.filename:
            return  # the empty part a browser sends for a file field left empty
        try:
            self.files.append(finish_upload(sink))
        except AttachmentError as exc:
            self._refuse(exc)
        except OSError as exc:
            if not disk_is_full(exc):
                raise
            self._refuse(AttachmentOutOfSpace())
        finally:
            sink.discard()

    def _refuse(self, problem: AttachmentError) -> None:
        if self.problem is None or isinstance(problem, AttachmentTooLarge):
            # "Too large" says the most: the limit the files went over together.
            self.problem = (
                AttachmentTooLarge(MAX_FIRST_FILES_BYTES)
                if isinstance(problem, AttachmentTooLarge)
                else problem
            )
        self.discard()

    def store(
        self,
        session: Session,
        ctx: ServiceContext,
        observation: Observation,
        *,
        naming: FileNamer | None,
    ) -> list[AttachmentView]:
        """Store the files with the new ``observation``, in its transaction, for its
        readers, and return them as the source sees them; raise an
        :class:`AttachmentError` (or a budget refusal) if they cannot all be: the caller
        then rolls back, and nothing is kept."""
        if self.problem is not None:
            raise self.problem
        if self._dropping:
            # Never reached by the form (a refused form stores nothing), and never
            # quietly: an observation without the files it was sent with.
            raise RuntimeError("files dropped unread cannot be stored")
        recipients = observation_recipients(session, ctx.settings, observation)
        stored: list[AttachmentView] = []
        for received in self.files:
            blob = new_blob(ctx.settings)
            try:
                received.blob.file.flush()
                with received.blob.temp_path.open("rb") as spool:
                    rewrap(spool, blob.file, identities=[self._identity], recipients=recipients)
            except OSError as exc:
                blob.discard()
                if disk_is_full(exc):
                    raise AttachmentOutOfSpace from exc
                raise
            except BaseException:
                blob.discard()
                raise
            received.discard()  # the request's copy; the stored one is the blob
            received.blob = blob
            record = store_received(
                session, ctx, observation, received, staff=None, first_filing=True, naming=naming
            )
            stored.append(
                AttachmentView(
                    id=record.id,
                    sender=record.sender,
                    added_on=record.added_on,
                    author=None,
                    readable=True,
                    filename=received.stored_name,
                    content_type=str(received.kind),
                    size=received.size,
                    stripped=received.stripped,
                    warning=not received.stripped,
                    note=str(received.note),
                    neutral_name=naming is not None,
                )
            )
        return stored

    def discard(self) -> None:
        """Remove every file received and not stored (idempotent)."""
        if self._sink is not None:
            self._sink.discard()
        for received in self.files:
            with contextlib.suppress(OSError):
                if not received.blob.published:
                    received.discard()
