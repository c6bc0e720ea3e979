"""Reading an upload's request body straight into its sink.

Werkzeug's form parser writes each file part to a ``SpooledTemporaryFile``, which goes
to disk past 500 KiB: a plaintext copy of the file in ``/tmp``. For the upload routes the
parser is given a stream factory that hands it the :class:`UploadSink` instead, so the
file is only ever held in memory (small images and PDFs, to be cleaned) or encrypted as
it arrives. The body limit is raised for these requests only.
"""

from __future__ import annotations

from typing import IO, Any, Protocol

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from ..services import attachments
from ..services.attachments import AttachmentError, AttachmentOutOfSpace, AttachmentTooLarge
from .errors import INSUFFICIENT_STORAGE

# The CSRF token and the file, with room for a browser's extra submit field.
MAX_FORM_PARTS = 8


class PartSink(Protocol):
    """Where file parts go: an upload's one file, or a new observation's files."""

    def open_part(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None,
        content_length: int | None = None,
    ) -> IO[bytes]: ...


def _parser_class(sink: PartSink) -> type[FormDataParser]:
    """Return a form parser class that writes file parts into ``sink``."""

    class UploadParser(FormDataParser):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["stream_factory"] = sink.open_part
            super().__init__(*args, **kwargs)

    return UploadParser


def set_sink(sink: PartSink, *, limit: int, max_parts: int = MAX_FORM_PARTS) -> None:
    """Make ``sink`` where the current request's file parts go, whoever reads the body
    first: the view, or an error page that shows the typed text back (``web.errors``),
    which would otherwise read it under the ordinary form limit (a body with files is
    over it, and the text would be lost) and hold its files in memory.

    ``limit`` is the largest body read, ``max_parts`` the most parts. A body that is not
    multipart holds no file and keeps the ordinary form limits.
    """
    if "files" in request.__dict__:
        # Parsed already, by Werkzeug's default parser: the file may have been spooled.
        raise RuntimeError("the request body was parsed before the upload sink was set")
    if request.mimetype != "multipart/form-data":
        return
    request.max_content_length = limit
    request.max_form_parts = max_parts
    request.form_data_parser_class = _parser_class(sink)


def receive_upload(
    sink: PartSink,
    *,
    limit: int | None = None,
    max_parts: int = MAX_FORM_PARTS,
    refused_limit: int = attachments.MAX_ATTACHMENT_BYTES,
) -> None:
    """Parse the current request's body, its file parts going into ``sink``.

    ``limit`` is the largest body read (by default what an upload may be), ``max_parts``
    the most parts. Raises :class:`AttachmentTooLarge` (naming ``refused_limit``) when
    the body is larger, without reading it if its declared length already says so. A
    body that is not multipart is not read here: it holds no file.
    """
    if limit is None:
        limit = attachments.max_request_bytes()
    set_sink(sink, limit=limit, max_parts=max_parts)
    if request.mimetype != "multipart/form-data":
        # No other body can carry a file: the form then says to choose one. Such a body
        # is read (if at all) under the ordinary form limits, never the upload's.
        return
    if request.content_length is not None and request.content_length > limit:
        raise AttachmentTooLarge(refused_limit)
    try:
        request.files  # noqa: B018 - reading it parses the body
    except RequestEntityTooLarge as exc:  # a body without a declared length ran over
        raise AttachmentTooLarge(refused_limit) from exc


def refusal_status(exc: AttachmentError) -> int:
    """Return the status of the page that refuses a file for ``exc``: too large (413),
    no room on the disk (507), or anything else about the file (400)."""
    if isinstance(exc, AttachmentTooLarge):
        return RequestEntityTooLarge.code
    if isinstance(exc, AttachmentOutOfSpace):
        return INSUFFICIENT_STORAGE
    return 400
