"""The files of a new observation's form, as the service receives and stores them
(dissent.services.first_files): one file finished before the next begins, one shared
limit, a refused file refusing them all, stored for the observation's readers."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dissent.crypto import decrypt
from dissent.extensions import current_context, db
from dissent.models import Attachment, Sender
from dissent.services import first_files
from dissent.services.attachments import (
    AttachmentTooLarge,
    EmptyAttachment,
    TooManyAttachments,
)
from dissent.services.first_files import FirstFiles
from dissent.services.metadata import FileType
from dissent.services.uploads import UploadSink
from tests.helpers.blobs import part_files, read_blob, stored_blobs
from tests.helpers.files import jpeg_with_gps, random_bytes


def send(files: FirstFiles, data: bytes, filename: str) -> None:
    """Write one file part, as Werkzeug's parser does."""
    files.open_part(None, "application/octet-stream", filename).write(data)


def receive(settings, parts: list[tuple[bytes, str]]) -> FirstFiles:
    """Return the files of a form whose body held ``parts``, read to its end."""
    files = FirstFiles(settings)
    for data, filename in parts:
        send(files, data, filename)
    files.finish()
    return files


def attachment_count() -> int:
    return db.session.scalar(select(func.count(Attachment.id)))


def test_a_file_field_left_empty_is_no_file(settings):
    files = receive(settings, [(b"", "")])

    assert files.files == [] and files.problem is None and not files.chosen


def test_each_file_is_finished_as_the_next_one_begins(app, settings):
    files = FirstFiles(settings)
    send(files, jpeg_with_gps(), "photo.jpg")
    assert files.files == [], "the photo may still be arriving"

    send(files, random_bytes(3000), "notes.txt")
    [photo] = files.files
    assert (photo.kind, photo.stripped, photo.original_name) == (FileType.JPEG, True, "photo.jpg")

    files.finish()
    assert [f.original_name for f in files.files] == ["photo.jpg", "notes.txt"]
    assert files.problem is None and files.chosen
    files.discard()
    assert part_files(app) == [], "nothing of the request is left behind"


def test_one_refused_file_refuses_them_all_at_once(app, settings):
    files = FirstFiles(settings)
    send(files, random_bytes(3000), "kept so far.bin")
    send(files, b"", "empty.txt")
    send(files, random_bytes(3000, seed=2), "after.bin")
    files.finish()

    assert isinstance(files.problem, EmptyAttachment) and files.chosen
    assert part_files(app) == [], "the files received before it are gone already"


def test_the_files_share_one_limit(app, settings, monkeypatch):
    monkeypatch.setattr(first_files, "MAX_FIRST_FILES_BYTES", 10_000)

    files = receive(settings, [(random_bytes(6000), "a.bin"), (random_bytes(6000), "b.bin")])

    assert isinstance(files.problem, AttachmentTooLarge)
    assert files.problem.limit == 10_000, "the limit named is the files' together"
    assert part_files(app) == []


def test_a_file_beyond_the_most_is_refused_and_swallowed(app, settings):
    parts = [(random_bytes(500, seed=n), f"{n}.bin") for n in range(first_files.MAX_FIRST_FILES)]

    files = receive(settings, [*parts, (random_bytes(500), "one too many.bin")])

    assert isinstance(files.problem, TooManyAttachments)
    assert part_files(app) == []
    assert files.parts == first_files.MAX_FIRST_FILES + 1


def test_the_files_are_stored_for_the_observation_s_readers(app, settings, case, recovery_identity):
    notes = random_bytes(3000)
    files = receive(settings, [(jpeg_with_gps(), "IMG_jdoe.jpg"), (notes, "notes.txt")])

    with app.app_context():
        with db.unit():
            stored = files.store(
                db.session,
                current_context(),
                case.observation(),
                naming=lambda kind, size, original: f"{kind.name} of {size}",
            )
        rows = db.session.scalars(select(Attachment).order_by(Attachment.position)).all()
    files.discard()

    assert [view.filename for view in stored] == [f"JPEG of {stored[0].size}", "OTHER of 3000"]
    assert all(view.neutral_name and view.sender is Sender.SOURCE for view in stored)
    assert [view.stripped for view in stored] == [True, False]
    assert [view.id for view in stored] == [row.id for row in rows]
    photo, text = (
        decrypt(read_blob(app, row.blob_name), identities=[recovery_identity], padded=True)
        for row in rows
    )
    assert photo.startswith(b"\xff\xd8\xff") and b"CanaryCam" not in photo
    assert text == notes
    assert part_files(app) == [], "the request's copies are gone; the stored ones remain"


def test_refused_files_store_nothing(app, settings, case, monkeypatch):
    monkeypatch.setattr(first_files, "MAX_FIRST_FILES_BYTES", 10_000)
    files = receive(settings, [(random_bytes(4000), "a.bin"), (random_bytes(8000), "b.bin")])
    before = stored_blobs(app)

    with app.app_context():
        with pytest.raises(AttachmentTooLarge), db.unit():
            files.store(db.session, current_context(), case.observation(), naming=None)
        assert attachment_count() == 0
    assert stored_blobs(app) == before and part_files(app) == []


def test_files_too_large_together_are_reported_as_such_after_an_earlier_refusal(
    app, settings, monkeypatch
):
    # The first refusal (an empty file) does not hide the worse one: the files after it
    # are still counted, and together they are over the limit.
    monkeypatch.setattr(first_files, "MAX_FIRST_FILES_BYTES", 10_000)

    files = receive(
        settings,
        [(b"", "empty.txt"), (random_bytes(6000), "a.bin"), (random_bytes(6000), "b.bin")],
    )

    assert isinstance(files.problem, AttachmentTooLarge)
    assert files.problem.limit == 10_000
    assert part_files(app) == []


def test_files_after_a_refusal_are_counted_not_encrypted(app, settings, monkeypatch):
    made = []
    real_init = UploadSink.__init__

    def counting_init(self, **kwargs):
        made.append(kwargs["max_bytes"])
        real_init(self, **kwargs)

    monkeypatch.setattr(UploadSink, "__init__", counting_init)

    files = receive(
        settings,
        [(b"", "empty.txt"), (random_bytes(3000), "a.bin"), (random_bytes(3000), "b.bin")],
    )

    assert isinstance(files.problem, EmptyAttachment)
    assert len(made) == 1, "only the empty file was received; the others were only counted"
    assert part_files(app) == []


def test_dropped_files_are_read_without_being_received(app, settings, monkeypatch):
    made = []
    monkeypatch.setattr(UploadSink, "__init__", lambda self, **kw: made.append(kw))
    files = FirstFiles(settings)
    files.drop_files()
    send(files, jpeg_with_gps(), "photo.jpg")
    send(files, random_bytes(3000), "notes.txt")
    files.finish()

    assert made == [] and files.files == [] and files.problem is None
    assert files.chosen, "the page still says the files must be chosen again"
    assert part_files(app) == []
    with app.app_context(), pytest.raises(RuntimeError):
        files.store(db.session, current_context(), None, naming=None)


def test_dropped_files_too_large_together_are_still_named_as_such(settings, monkeypatch):
    monkeypatch.setattr(first_files, "MAX_FIRST_FILES_BYTES", 10_000)
    files = FirstFiles(settings)
    files.drop_files()
    send(files, random_bytes(6000), "a.bin")
    send(files, random_bytes(6000), "b.bin")
    files.finish()

    assert isinstance(files.problem, AttachmentTooLarge)
