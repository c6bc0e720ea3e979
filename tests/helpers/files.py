"""Attachments in tests: multipart bodies, uploads by source and adviser."""

from __future__ import annotations

import io
import random
import uuid

from PIL import ExifTags, Image
from sqlalchemy import select

from dissent.extensions import current_context, db
from dissent.models import Attachment, Observation, Sender, StaffUser
from dissent.services import attachments
from tests.helpers.pages import BASE_URL, csrf_from


def random_bytes(size: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(size)


def jpeg_with_gps() -> bytes:
    """A small JPEG with EXIF: camera make and model, GPS position, orientation 6."""
    image = Image.new("RGB", (64, 32), (180, 40, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "CanaryCam"
    exif[ExifTags.Base.Model] = "Serial-0042"
    exif[ExifTags.Base.Orientation] = 6  # rotated: the stored picture is on its side
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 4.0, 51.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (4.0, 18.0, 36.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken by J. Doe")
    return out.getvalue()


def rows(app) -> list[Attachment]:
    """Return every attachment record, by observation and place."""
    with app.app_context():
        return list(
            db.session.scalars(
                select(Attachment).order_by(Attachment.observation_id, Attachment.position)
            )
        )


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


def upload(
    browser, url: str, data: bytes, filename: str, *, token_page: str, keep_name: bool = False
):
    """Send ``data`` as the file of the upload form at ``url``; return the response.

    ``keep_name`` ticks "Keep the file name" (offered to sources only)."""
    token = csrf_from(browser.get(token_page, base_url=BASE_URL))
    fields = {"csrf_token": token} | ({"keep_name": "y"} if keep_name else {})
    return post(browser, url, fields, (data, filename))


def source_upload(source, data: bytes, filename: str = "notes.bin", *, keep_name: bool = True):
    """Attach a file as the source; by default keeping its name (tests that look for a
    file by its name), as a source who ticks the box does."""
    return upload(
        source,
        f"/inbox/{source.ref}/attachments",
        data,
        filename,
        token_page="/inbox",
        keep_name=keep_name,
    )


def adviser_upload(staff, ref: str, data: bytes, filename: str = "reply.bin"):
    return upload(
        staff, f"/adviser/o/{ref}/attachments", data, filename, token_page=f"/adviser/o/{ref}"
    )


def store_file(
    app,
    observation_id: int,
    data: bytes,
    filename: str = "notes.bin",
    *,
    staff_id: int | None = None,
    first_filing: bool = False,
) -> int:
    """Add a file to an observation through the service, as the source (or the adviser
    ``staff_id``), in a transaction of its own; return the attachment's id."""
    with app.app_context(), db.unit():
        ctx = current_context()
        observation = db.session.get(Observation, observation_id)
        sender = Sender.SOURCE if staff_id is None else Sender.ADVISER
        started = attachments.start_upload(db.session, ctx, observation=observation, sender=sender)
        try:
            started.sink.open_part(None, "application/octet-stream", filename).write(data)
            staff = db.session.get(StaffUser, staff_id) if staff_id is not None else None
            stored = attachments.store_upload(
                db.session, ctx, started, staff=staff, first_filing=first_filing
            )
            return stored.id
        finally:
            started.discard()
