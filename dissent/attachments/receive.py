"""Reading an upload's request body straight into its sink.

Werkzeug's form parser writes each file part to a ``SpooledTemporaryFile``, which goes
to disk past 500 KiB: a plaintext copy of the file in ``/tmp``. For the upload routes the
parser is given a stream factory that hands it the :class:`UploadSink` instead, so the
file is only ever held in memory (small images and PDFs, to be cleaned) or encrypted as
it arrives. The body limit is raised for these requests only.
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from ..services import attachments
from ..services.attachments import AttachmentTooLarge
from ..services.uploads import UploadSink

# The CSRF token and the file, with room for a browser's extra submit field.
MAX_FORM_PARTS = 8


def _parser_class(sink: UploadSink) -> type[FormDataParser]:
    """Return a form parser class that writes file parts into ``sink``."""

    class UploadParser(FormDataParser):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["stream_factory"] = sink.open_part
            super().__init__(*args, **kwargs)

    return UploadParser


def receive_upload(sink: UploadSink) -> None:
    """Parse the current request's body, its file going into ``sink``.

    Raises :class:`AttachmentTooLarge` when the body is larger than an upload may be,
    without reading it if its declared length already says so. A body that is not
    multipart is not read here: it holds no file.
    """
    if "files" in request.__dict__:
        # Parsed already, by Werkzeug's default parser: the file may have been spooled.
        raise RuntimeError("the request body was parsed before the upload sink was set")
    if request.mimetype != "multipart/form-data":
        # No other body can carry a file: the form then says to choose one. Such a body
        # is read (if at all) under the ordinary form limits, never the upload's.
        return
    limit = attachments.max_request_bytes()
    request.max_content_length = limit
    request.max_form_parts = MAX_FORM_PARTS
    request.form_data_parser_class = _parser_class(sink)
    if request.content_length is not None and request.content_length > limit:
        raise AttachmentTooLarge(attachments.MAX_ATTACHMENT_BYTES)
    try:
        request.files  # noqa: B018 - reading it parses the body
    except RequestEntityTooLarge as exc:  # a body without a declared length ran over
        raise AttachmentTooLarge(attachments.MAX_ATTACHMENT_BYTES) from exc
