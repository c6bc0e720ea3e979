"""Attachments in tests: multipart bodies, uploads by source and adviser."""

from __future__ import annotations

import io
import random
import uuid

from tests.helpers.pages import BASE_URL, csrf_from


def random_bytes(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def multipart_body(fields: dict[str, str], file: tuple[bytes, str] | None) -> tuple[bytes, str]:
    """Return a multipart/form-data body (as a browser sends it) and its content type.

    Built here rather than by the test client, which spools large bodies to a temporary
    file of its own.
    """
    boundary = "----dissent" + uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    if file is not None:
        data, filename = file
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post(browser, url: str, fields: dict[str, str], file: tuple[bytes, str] | None, stream=None):
    """POST a multipart form; ``stream`` wraps the body (to break it off, say)."""
    body, content_type = multipart_body(fields, file)
    return browser.post(
        url,
        input_stream=stream(body) if stream else io.BytesIO(body),
        content_type=content_type,
        base_url=BASE_URL,
    )


def upload(browser, url: str, data: bytes, filename: str, *, token_page: str):
    """Send ``data`` as the file of the upload form at ``url``; return the response."""
    token = csrf_from(browser.get(token_page, base_url=BASE_URL))
    return post(browser, url, {"csrf_token": token}, (data, filename))


def source_upload(source, data: bytes, filename: str = "notes.bin"):
    return upload(source, f"/inbox/{source.ref}/attachments", data, filename, token_page="/inbox")


def adviser_upload(staff, ref: str, data: bytes, filename: str = "reply.bin"):
    return upload(
        staff, f"/adviser/o/{ref}/attachments", data, filename, token_page=f"/adviser/o/{ref}"
    )
