"""Attachments over HTTP: upload, clean, encrypt, store, list and download.

Sources and advisers attach files to an observation. A file is never written in clear
(not even by the form parser), images and PDFs lose their metadata, other files are
stored as they are with a warning, and downloads are decrypted as they stream and are
always offered for saving, never displayed. (That neither a file nor its name is stored
or logged in clear is checked with the other canaries in tests/security/test_canary.py.)
"""

from __future__ import annotations

import errno
import io
import logging
import re
import uuid
from pathlib import Path

import pikepdf
import pytest
from PIL import ExifTags, Image
from sqlalchemy import select
from werkzeug import formparser

from dissent.crypto import decrypt
from dissent.extensions import db
from dissent.models import Attachment, AuditEntry, Observation, Role, Sender, State
from dissent.services import attachments, uploads
from dissent.services.content import open_document
from dissent.services.storage import BLOB_DIR
from tests.helpers.blobs import delete_blob, part_files, read_blob, stored_blobs, write_blob
from tests.helpers.files import (
    adviser_upload,
    jpeg_with_gps,
    post,
    random_bytes,
    rows,
    source_upload,
    upload,
)
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import file_observation
from tests.helpers.staff import login_staff

MIB = 1024 * 1024
AGE_MAGIC = b"age-encryption.org/v1\n"


# --- helpers ---------------------------------------------------------------------------


def blob_files(app) -> list[str]:
    """Return every stored blob (a file, or chunks on PostgreSQL) and part file."""
    return sorted(stored_blobs(app) | set(part_files(app)))


def meta_of(app, attachment: Attachment, identity) -> dict:
    with app.app_context():
        return open_document(attachment.meta, identities=[identity])


def pdf_with_author() -> bytes:
    """A one-page PDF with an author in its document information and in XMP."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.trailer.Info = pdf.make_indirect(
        pikepdf.Dictionary(Author="Jane Canary", Creator="Writer", Title="Draft")
    )
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["Jane Canary"]
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


# --- round trips -----------------------------------------------------------------------


def test_source_upload_and_download_round_trip(app, source, recovery_identity):
    data = random_bytes(3 * 64 * 1024 + 123)

    response = source_upload(source, data, "field notes.bin")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/inbox#thread-{source.ref}"
    [row] = rows(app)
    assert row.sender is Sender.SOURCE and row.staff_id is None
    download = source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL)
    assert download.status_code == 200
    assert download.data == data
    assert meta_of(app, row, recovery_identity) | {"v": 1} == {
        "v": 1,
        "filename": "field notes.bin",
        "content_type": "application/octet-stream",
        "size": len(data),
        "stripped": False,
        "warning": True,
        "note": "unsupported_type",
        "neutral_name": False,  # the source ticked "Keep the file name"
    }


def test_adviser_upload_and_download_round_trip(app, source, staff, adviser):
    data = random_bytes(200_000, seed=2)

    response = adviser_upload(staff, source.ref, data, "guidance.pdf.bin")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/adviser/o/{source.ref}#attachments"
    [row] = rows(app)
    assert row.sender is Sender.ADVISER and row.staff_id == adviser.id
    assert staff.get(f"/adviser/attachments/{row.id}", base_url=BASE_URL).data == data
    # The source reads what the adviser sent (content recipients include them).
    assert source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL).data == data
    with app.app_context():
        audited = db.session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject).order_by(AuditEntry.seq)
        ).all()
    subject = f"{source.ref}/{row.id}"
    assert (adviser.username, "attachment_add", subject) in audited
    assert (adviser.username, "attachment_download", subject) in audited


def test_source_downloads_are_not_audited(app, source):
    source_upload(source, b"a file of the source")
    [row] = rows(app)
    source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL)

    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "attachment_add" not in actions and "attachment_download" not in actions


def test_download_headers_make_the_browser_save_the_file(app, source):
    source_upload(source, b"<html><script>alert(1)</script></html>", "Zoë's report <1>.html")
    [row] = rows(app)

    response = source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL)

    assert response.headers["Content-Type"] == "application/octet-stream"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Zo%C3%AB%27s%20report%20_1_.html" in disposition
    assert 'filename="Zo_\'s report _1_.html"' in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Length"] == str(len(response.data))


# --- metadata --------------------------------------------------------------------------


def test_jpeg_comes_back_without_exif_or_gps(app, source):
    original = jpeg_with_gps()
    before = Image.open(io.BytesIO(original))
    assert before.getexif()[ExifTags.Base.Make] == "CanaryCam"
    assert before.getexif().get_ifd(ExifTags.IFD.GPSInfo)

    assert source_upload(source, original, "IMG_0001.jpg").status_code == 303
    [row] = rows(app)
    data = source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL).data

    after = Image.open(io.BytesIO(data))
    assert after.format == "JPEG"
    assert dict(after.getexif()) == {}
    assert after.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert b"CanaryCam" not in data and b"J. Doe" not in data
    assert "comment" not in after.info and "exif" not in after.info
    assert after.size == (32, 64)  # turned upright before the orientation tag went


def test_pdf_comes_back_without_author_or_xmp(app, source, recovery_identity):
    assert source_upload(source, pdf_with_author(), "report.pdf").status_code == 303
    [row] = rows(app)
    data = source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL).data

    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert "/Author" not in pdf.docinfo
        assert "/Metadata" not in pdf.Root
        assert len(pdf.pages) == 1
    assert b"Jane Canary" not in data
    meta = meta_of(app, row, recovery_identity)
    assert meta["stripped"] is True and meta["warning"] is False
    assert meta["content_type"] == "application/pdf"


def test_type_is_sniffed_not_taken_from_the_name(app, source, recovery_identity):
    source_upload(source, jpeg_with_gps(), "holiday.txt")
    [row] = rows(app)

    meta = meta_of(app, row, recovery_identity)

    assert meta["content_type"] == "image/jpeg"
    assert meta["stripped"] is True


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("minutes.txt", b"Minutes of the meeting, version 3.\n" * 40),
        ("archive.zip", b"PK\x03\x04" + random_bytes(5000, seed=3)),
    ],
)
def test_other_types_are_stored_as_they_are_with_a_warning(
    app, source, recovery_identity, filename, data
):
    assert source_upload(source, data, filename).status_code == 303
    [row] = rows(app)

    assert source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL).data == data
    meta = meta_of(app, row, recovery_identity)
    assert meta["stripped"] is False and meta["warning"] is True
    assert meta["note"] == "unsupported_type"


def test_a_corrupt_image_is_stored_as_is_and_flagged(app, source, recovery_identity):
    broken = b"\xff\xd8\xff\xe0" + random_bytes(3000, seed=4)

    assert source_upload(source, broken, "broken.jpg").status_code == 303
    [row] = rows(app)

    assert source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL).data == broken
    meta = meta_of(app, row, recovery_identity)
    assert (meta["stripped"], meta["warning"], meta["note"]) == (False, True, "unreadable")


def test_a_strippable_file_larger_than_memory_allows_is_streamed_and_flagged(
    app, source, recovery_identity, monkeypatch
):
    monkeypatch.setattr(attachments, "STRIP_IN_MEMORY_LIMIT", 10_000)
    big_pdf = b"%PDF-1.4\n" + random_bytes(50_000, seed=5)

    assert source_upload(source, big_pdf, "scan.pdf").status_code == 303
    [row] = rows(app)

    assert source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL).data == big_pdf
    meta = meta_of(app, row, recovery_identity)
    assert (meta["stripped"], meta["note"]) == (False, "too_large")


def files_macros(app):
    """Return the shared attachments macros (render inside a request context)."""
    return app.jinja_env.get_template("shared/attachments.html").module


def test_the_list_says_which_files_keep_their_metadata(app, source, recovery_identity):
    source_upload(source, jpeg_with_gps(), "photo.jpg")
    source_upload(source, b"plain words\n" * 10, "notes.txt")

    with app.test_request_context(base_url=BASE_URL):
        observation = db.session.scalar(select(Observation).where(Observation.ref == source.ref))
        views = attachments.list_attachments(db.session, observation, recovery_identity)
        listing = str(files_macros(app).file_list(views, True))

    assert [(v.filename, v.stripped, v.warning) for v in views] == [
        ("photo.jpg", True, False),
        ("notes.txt", False, True),
    ]
    photo, notes = listing.split("<li")[1:]
    assert "photo.jpg" in photo and "metadata removed" in photo
    assert "notes.txt" in notes and "metadata may remain" in notes
    assert f'href="/inbox/attachments/{views[0].id}"' in photo
    assert "You" in photo


def test_the_upload_form_states_the_limits_and_warns_the_source(app):
    with app.test_request_context(base_url=BASE_URL):
        pages = {
            who: str(files_macros(app).upload_form("ABCD-1234", who == "source"))
            for who in ("source", "adviser")
        }

    assert 'action="/inbox/ABCD-1234/attachments"' in pages["source"]
    assert 'action="/adviser/o/ABCD-1234/attachments"' in pages["adviser"]
    for page in pages.values():
        assert 'enctype="multipart/form-data"' in page
        assert "At most 200 MB per file" in page and "20 files and 500 MB" in page
        assert 'name="csrf_token"' in page
    assert "may carry details that identify you" in pages["source"]
    assert "may carry details that identify you" not in pages["adviser"]


def test_advisers_see_who_added_a_file_and_sources_do_not(
    app, source, staff, adviser, recovery_identity
):
    adviser_upload(staff, source.ref, b"guidance", "guidance.txt")

    with app.app_context():
        observation = db.session.scalar(select(Observation).where(Observation.ref == source.ref))
        for_staff = attachments.list_attachments(
            db.session, observation, recovery_identity, for_staff=True
        )
        for_source = attachments.list_attachments(db.session, observation, recovery_identity)

    assert [(v.filename, v.author) for v in for_staff] == [("guidance.txt", adviser.username)]
    assert [(v.filename, v.author) for v in for_source] == [("guidance.txt", None)]


def test_an_adviser_added_later_sees_the_file_listed_but_cannot_open_it(
    app, source, new_client, make_staff
):
    source_upload(source, b"sent before the new adviser arrived", "early.txt")
    [row] = rows(app)
    newcomer = make_staff(Role.ADVISER)
    browser = new_client()
    login_staff(browser, newcomer)

    response = browser.get(f"/adviser/attachments/{row.id}", base_url=BASE_URL)

    assert response.status_code == 403
    assert b"sent before" not in response.data
    with app.test_request_context(base_url=BASE_URL):
        from dissent.crypto import generate_identity

        observation = db.session.scalar(select(Observation).where(Observation.ref == source.ref))
        [view] = attachments.list_attachments(db.session, observation, generate_identity())
        listing = str(files_macros(app).file_list([view], False))
    assert view.readable is False
    assert "A file your key cannot open." in listing
    assert "early.txt" not in listing


@pytest.mark.parametrize("for_source", [True, False], ids=["source", "adviser"])
def test_the_files_block_for_each_page(app, source, staff, recovery_identity, for_source):
    source_upload(source, b"notes\n" * 5, "notes.txt")
    [row] = rows(app)

    with app.test_request_context(base_url=BASE_URL):
        observation = db.session.scalar(select(Observation).where(Observation.ref == source.ref))
        files = attachments.list_attachments(
            db.session, observation, recovery_identity, for_staff=not for_source
        )
        section = files_macros(app).files_section
        html = str(section(files, source.ref, for_source, True))
        # A closed observation takes no files from the source (its page passes False).
        closed = str(section(files, source.ref, for_source, not for_source))

    if for_source:
        assert f'id="attachments-{source.ref}"' in html
        assert f'href="/inbox/attachments/{row.id}"' in html
        assert f'action="/inbox/{source.ref}/attachments"' in html
        assert "may carry details that identify you" in html
        assert "<form" not in closed  # a closed observation takes no files from the source
    else:
        assert 'id="attachments"' in html
        assert f'href="/adviser/attachments/{row.id}"' in html
        assert f'action="/adviser/o/{source.ref}/attachments"' in html
        assert "may carry details that identify you" not in html
        assert "<form" in closed
    assert "notes.txt" in html and "metadata may remain" in html


# --- limits ----------------------------------------------------------------------------


def assert_nothing_stored(app) -> None:
    assert rows(app) == []
    assert blob_files(app) == []


def field_errors(response) -> list[str]:
    return re.findall(r'<ul class="errors"[^>]*><li>(.*?)</li>', response.get_data(as_text=True))


def test_too_large_file_is_refused_with_a_message(app, source, monkeypatch):
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 10_000)

    response = source_upload(source, random_bytes(10_001), "big.bin")

    assert response.status_code == 413
    assert field_errors(response) == ["This file is too large: the most a file can be is 9.8 KB."]
    assert_nothing_stored(app)


def test_too_large_declared_body_is_refused_before_reading(app, source, monkeypatch):
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 10_000)
    monkeypatch.setattr(attachments, "FORM_OVERHEAD_BYTES", 1_000)
    opened = []
    monkeypatch.setattr(uploads.UploadSink, "open_part", lambda *a, **k: opened.append(1))

    response = source_upload(source, random_bytes(50_000), "big.bin")

    assert response.status_code == 413
    assert "too large" in field_errors(response)[0]
    assert opened == []  # the parser never started
    assert_nothing_stored(app)


def test_a_large_image_over_the_limit_is_refused_too(app, source, monkeypatch):
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 2_000)

    response = source_upload(source, jpeg_with_gps() + random_bytes(3000), "photo.jpg")

    assert response.status_code == 413
    assert_nothing_stored(app)


def test_too_many_files_are_refused(app, source, monkeypatch):
    monkeypatch.setattr(attachments, "MAX_ATTACHMENTS_PER_OBSERVATION", 2)
    for number in range(2):
        assert source_upload(source, b"file %d" % number).status_code == 303
    files_before = blob_files(app)

    response = source_upload(source, b"one too many")

    assert response.status_code == 400
    assert field_errors(response) == ["This observation already has 2 files, the most it can hold."]
    assert len(rows(app)) == 2
    assert blob_files(app) == files_before


def test_total_per_observation_is_limited(app, source, monkeypatch):
    assert source_upload(source, random_bytes(10_000)).status_code == 303
    [first] = rows(app)
    monkeypatch.setattr(attachments, "MAX_TOTAL_BYTES_PER_OBSERVATION", first.stored_size + 6_000)

    response = source_upload(source, random_bytes(20_000, seed=9))

    assert response.status_code == 413
    assert "room left in this observation" in field_errors(response)[0]
    assert len(rows(app)) == 1
    assert len(blob_files(app)) == 1


def test_empty_file_and_no_file_are_refused(app, source):
    empty = source_upload(source, b"", "empty.txt")
    token = csrf_from(source.get("/inbox", base_url=BASE_URL))
    none_chosen = post(source, f"/inbox/{source.ref}/attachments", {"csrf_token": token}, (b"", ""))

    assert empty.status_code == 400
    assert field_errors(empty) == ["This file is empty. Choose another file."]
    assert none_chosen.status_code == 400
    assert field_errors(none_chosen) == ["Choose a file first."]
    assert_nothing_stored(app)


def test_upload_without_csrf_token_stores_nothing(app, source):
    response = post(source, f"/inbox/{source.ref}/attachments", {}, (random_bytes(700_000), "x"))

    assert response.status_code == 400
    assert b"This form has expired" in response.data
    assert_nothing_stored(app)


def test_a_closed_observation_takes_no_files_from_the_source(app, source):
    token = csrf_from(source.get("/inbox", base_url=BASE_URL))
    with app.app_context():
        observation = db.session.scalar(select(Observation).where(Observation.ref == source.ref))
        observation.state = State.CLOSED
        db.session.commit()

    response = post(
        source, f"/inbox/{source.ref}/attachments", {"csrf_token": token}, (b"late", "late.txt")
    )

    assert response.status_code == 400
    assert field_errors(response) == ["This observation is closed; it takes no more files."]
    assert_nothing_stored(app)


def test_only_the_file_field_is_stored(app, source):
    token = csrf_from(source.get("/inbox", base_url=BASE_URL))
    boundary = "----dissent" + uuid.uuid4().hex

    def part(name: str, data: bytes) -> bytes:
        return (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{name}.bin"\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )

    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
    ).encode()
    body += (
        part("decoy", b"decoy bytes") + part("file", b"real bytes") + f"--{boundary}--\r\n".encode()
    )

    response = source.post(
        f"/inbox/{source.ref}/attachments",
        input_stream=io.BytesIO(body),
        content_type=f"multipart/form-data; boundary={boundary}",
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert field_errors(response) == ["This file could not be attached."]
    assert_nothing_stored(app)


# --- nothing in clear, nothing half-stored ------------------------------------------


class FailingStream(io.BytesIO):
    """A request body that breaks off after ``fail_after`` bytes.

    Either the client goes away (reads return nothing, as a closed socket does) or
    reading raises an unexpected error.
    """

    def __init__(self, data: bytes, fail_after: int, *, error: bool) -> None:
        super().__init__(data)
        self._fail_after = fail_after
        self._error = error

    def _allowed(self, size: int) -> int:
        left = self._fail_after - self.tell()
        if left <= 0 and self._error:
            raise RuntimeError("the worker was interrupted")
        return max(0, min(left, size))

    def read(self, size: int | None = -1) -> bytes:
        size = len(self.getbuffer()) if size is None or size < 0 else size
        return super().read(self._allowed(size))

    def readinto(self, buffer) -> int:
        allowed = self._allowed(len(buffer))
        data = super().read(allowed)
        buffer[: len(data)] = data
        return len(data)


@pytest.mark.parametrize("error", [False, True], ids=["client gone", "read error"])
@pytest.mark.parametrize("kind", ["stream", "memory"])
def test_interrupted_upload_leaves_no_blob_and_no_row(app, source, error, kind):
    token = csrf_from(source.get("/inbox", base_url=BASE_URL))
    data = random_bytes(2 * MIB) if kind == "stream" else b"%PDF-1.4\n" + random_bytes(MIB)

    response = post(
        source,
        f"/inbox/{source.ref}/attachments",
        {"csrf_token": token},
        (data, "cut.bin"),
        stream=lambda body: FailingStream(body, len(body) // 2, error=error),
    )

    assert response.status_code == (500 if error else 400)
    assert_nothing_stored(app)


def test_the_form_parser_never_writes_a_temporary_file(app, source, staff, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("the upload was spooled to a temporary file")

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile"):
        monkeypatch.setattr(formparser, name, refuse, raising=False)
    big_image = jpeg_with_gps() + random_bytes(MIB, seed=6)  # held in memory to be cleaned

    assert source_upload(source, random_bytes(2 * MIB), "big.bin").status_code == 303
    assert source_upload(source, big_image, "big.jpg").status_code == 303
    assert adviser_upload(staff, source.ref, random_bytes(MIB, seed=7)).status_code == 303
    assert len(rows(app)) == 3
    assert not [name for name in blob_files(app) if name.endswith(".part")]


def test_stored_blob_is_a_padded_age_file_the_recovery_key_opens(app, source, recovery_identity):
    marker = f"CANARY-{uuid.uuid4().hex}".encode()
    data = marker + random_bytes(100_000) + marker

    source_upload(source, data, "evidence.bin")
    [row] = rows(app)
    blob = read_blob(app, row.blob_name)

    assert blob.startswith(AGE_MAGIC)
    assert marker not in blob
    assert len(blob) == row.stored_size
    assert decrypt(blob, identities=[recovery_identity], padded=True) == data
    assert re.fullmatch(r"[0-9a-f]{32}", row.blob_name)
    folder = Path(app.instance_path) / BLOB_DIR
    assert folder.stat().st_mode & 0o777 == 0o700


# --- who may ---------------------------------------------------------------------------


def test_another_source_gets_404(app, source, new_client):
    source_upload(source, b"private")
    [row] = rows(app)
    other = new_client()
    file_observation(other, what="Another matter entirely.")

    download = other.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL)
    posted = source_upload_as(other, source.ref)

    assert download.status_code == 404
    assert b"private" not in download.data
    assert posted.status_code == 404
    assert len(rows(app)) == 1


def source_upload_as(browser, ref: str):
    return upload(browser, f"/inbox/{ref}/attachments", b"intrusion", "x.txt", token_page="/inbox")


def test_adviser_of_another_mission_gets_404(app, source, new_client, make_staff):
    from dissent.services import accounts

    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eubam", name="EUBAM Test Mission")
    outsider = make_staff(Role.ADVISER, missions=["eubam"])
    source_upload(source, b"mission eupol only")
    [row] = rows(app)
    browser = new_client()
    home = login_staff(browser, outsider)
    token = csrf_from(home)

    download = browser.get(f"/adviser/attachments/{row.id}", base_url=BASE_URL)
    posted = post(
        browser, f"/adviser/o/{source.ref}/attachments", {"csrf_token": token}, (b"x", "x")
    )

    assert download.status_code == 404
    assert posted.status_code == 404
    assert len(rows(app)) == 1


@pytest.mark.parametrize("role", [Role.LEADERSHIP, Role.ADMIN])
def test_leadership_and_operator_cannot_download(app, source, new_client, make_staff, role):
    source_upload(source, b"not for them")
    [row] = rows(app)
    browser = new_client()
    login_staff(browser, make_staff(role))

    response = browser.get(f"/adviser/attachments/{row.id}", base_url=BASE_URL)

    assert response.status_code == 403
    assert b"not for them" not in response.data


# --- a damaged blob --------------------------------------------------------------------


def test_a_damaged_chunk_cuts_the_download_short_and_logs_only_the_error_type(app, source, caplog):
    data = random_bytes(5 * 64 * 1024, seed=8)
    source_upload(source, data)
    [row] = rows(app)
    blob = bytearray(read_blob(app, row.blob_name))
    blob[-3 * (64 * 1024 + 16)] ^= 0x01  # inside a chunk near the end
    write_blob(app, row.blob_name, bytes(blob))
    caplog.set_level(logging.INFO)

    response = source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL)
    received = response.get_data()

    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(data)
    assert len(received) < len(data)
    assert data.startswith(received)
    assert "attachment download stopped: PayloadError" in caplog.text
    assert "chunk" not in caplog.text.replace("attachment download stopped", "")


def test_a_missing_blob_is_a_404_not_a_500(app, source):
    source_upload(source, b"soon gone")
    [row] = rows(app)
    delete_blob(app, row.blob_name)

    assert source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL).status_code == 404


# --- names -------------------------------------------------------------------------------


def test_content_disposition_offers_a_safe_ascii_name_and_the_real_one():
    from dissent.attachments.views import content_disposition

    header = content_disposition("Überblick 100%.pdf")

    assert header == (
        "attachment; filename=\"_berblick 100_.pdf\"; filename*=UTF-8''%C3%9Cberblick%20100%25.pdf"
    )


class FullDisk(io.RawIOBase):
    """A blob file on a disk that fills after ``room`` bytes (or at the final flush)."""

    def __init__(self, real, room: int) -> None:
        self._real, self._room = real, room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self._room < len(data):
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._real.write(data)

    def flush(self) -> None:
        if self._room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._real.flush()

    def fileno(self) -> int:
        return self._real.fileno()

    def close(self) -> None:
        self._real.close()


def fill_disk_after(monkeypatch, room: int) -> None:
    real_new_blob = uploads.new_blob

    def on_a_full_disk(settings):
        blob = real_new_blob(settings)
        blob.file = FullDisk(blob.file, room)
        return blob

    monkeypatch.setattr(uploads, "new_blob", on_a_full_disk)


@pytest.mark.parametrize(
    ("data", "name", "room"),
    [
        (random_bytes(300_000), "scan.bin", 100_000),  # encrypted as it arrives
        (b"a short note", "note.txt", 0),  # held in memory, written when sealed
    ],
)
def test_a_full_disk_says_so_on_the_upload_form_and_keeps_nothing(
    app, source, monkeypatch, data, name, room
):
    fill_disk_after(monkeypatch, room)

    response = source_upload(source, data, name)

    assert response.status_code == 507
    assert field_errors(response) == [
        "The server is out of space, so this file was not stored. Nothing else was lost. "
        "Please try again later."
    ]
    assert_nothing_stored(app)
    monkeypatch.undo()
    assert source_upload(source, data, name).status_code == 303  # space again: it works
