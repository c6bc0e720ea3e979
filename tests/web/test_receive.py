"""Reading an upload's body into its sink (dissent.web.receive), within the limits."""

from __future__ import annotations

import io

import pytest
from flask import request

from dissent.services import attachments
from dissent.services.attachments import AttachmentTooLarge
from dissent.web.receive import MAX_FORM_PARTS, receive_upload
from tests.helpers.files import multipart_body, random_bytes


class Part(io.BytesIO):
    """A file part in memory that keeps what was written when the parser closes it."""

    written = b""

    def close(self) -> None:
        self.written = self.getvalue()
        super().close()


class RecordingSink:
    """Stands in for an UploadSink: keeps each file part it is handed in memory."""

    def __init__(self) -> None:
        self.parts: list[tuple[str | None, Part]] = []

    def open_part(self, total_content_length, content_type, filename, content_length=None):
        part = Part()
        self.parts.append((filename, part))
        return part


class UnreadableBody(io.RawIOBase):
    """A request body that must not be read."""

    def readable(self) -> bool:
        return True

    def readinto(self, _buffer) -> int:
        raise AssertionError("the body was read")


def upload_request(app, body: bytes, content_type: str, **environ):
    return app.test_request_context(
        "/upload",
        method="POST",
        input_stream=io.BytesIO(body),
        content_type=content_type,
        environ_overrides=environ,
    )


def test_the_file_goes_to_the_sink_and_the_other_fields_to_the_form(app):
    data = random_bytes(300 * 1024)  # past the size Werkzeug would spool to disk
    body, content_type = multipart_body({"csrf_token": "token"}, (data, "notes.bin"))
    sink = RecordingSink()

    with upload_request(app, body, content_type, CONTENT_LENGTH=str(len(body))):
        receive_upload(sink)
        form = dict(request.form)

    [(filename, part)] = sink.parts
    assert filename == "notes.bin"
    assert (part.written or part.getvalue()) == data
    assert form == {"csrf_token": "token"}


def test_an_upload_may_be_larger_than_other_forms_but_not_larger_than_an_upload(app):
    body, content_type = multipart_body({}, (b"x", "a.bin"))

    with upload_request(app, body, content_type, CONTENT_LENGTH=str(len(body))):
        assert request.max_content_length == app.config["MAX_CONTENT_LENGTH"]
        receive_upload(RecordingSink())
        assert request.max_content_length == attachments.max_request_bytes()
        assert request.max_content_length > app.config["MAX_CONTENT_LENGTH"]


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(app):
    too_long = attachments.max_request_bytes() + 1
    with (
        app.test_request_context(
            "/upload",
            method="POST",
            content_type="multipart/form-data; boundary=x",
            environ_overrides={"wsgi.input": UnreadableBody(), "CONTENT_LENGTH": str(too_long)},
        ),
        pytest.raises(AttachmentTooLarge) as refused,
    ):
        receive_upload(RecordingSink())

    assert refused.value.limit == attachments.MAX_ATTACHMENT_BYTES


def test_a_body_without_a_declared_length_that_runs_over_is_refused(app, monkeypatch):
    monkeypatch.setattr(attachments, "max_request_bytes", lambda: 4096)
    body, content_type = multipart_body({"csrf_token": "t"}, (random_bytes(8192), "a.bin"))

    undeclared = {
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "HTTP_TRANSFER_ENCODING": "chunked",
    }
    with app.test_request_context(
        "/upload", method="POST", content_type=content_type, environ_overrides=undeclared
    ):
        assert request.content_length is None
        with pytest.raises(AttachmentTooLarge) as refused:
            receive_upload(RecordingSink())

    assert refused.value.limit == attachments.MAX_ATTACHMENT_BYTES


def test_a_body_of_more_parts_than_an_upload_has_is_refused(app):
    def body_of(parts: int) -> tuple[bytes, str]:
        return multipart_body({f"field{i}": "x" for i in range(parts - 1)}, (b"data", "a.bin"))

    body, content_type = body_of(MAX_FORM_PARTS)
    with upload_request(app, body, content_type, CONTENT_LENGTH=str(len(body))):
        receive_upload(RecordingSink())
    body, content_type = body_of(MAX_FORM_PARTS + 1)
    too_many = upload_request(app, body, content_type, CONTENT_LENGTH=str(len(body)))
    with too_many, pytest.raises(AttachmentTooLarge):
        receive_upload(RecordingSink())


def test_a_body_already_parsed_elsewhere_is_an_error_not_a_silent_spool(app):
    body, content_type = multipart_body({"csrf_token": "t"}, (b"data", "a.bin"))

    with upload_request(app, body, content_type, CONTENT_LENGTH=str(len(body))):
        request.files  # noqa: B018 - parsed by Werkzeug's default parser
        with pytest.raises(RuntimeError, match="parsed before"):
            receive_upload(RecordingSink())
