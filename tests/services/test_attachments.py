"""Attachments through the service: who may add files, the limits under races, audit, reading."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dissent.crypto import KeyKind, generate_identity
from dissent.extensions import current_context, db
from dissent.models import Attachment, AuditEntry, Observation, Role, Sender, StaffUser, State
from dissent.services import attachments, audit
from dissent.services.errors import ObservationClosed
from tests.helpers.blobs import part_files, stored_blobs
from tests.helpers.files import random_bytes
from tests.helpers.filing import file_directly


@pytest.fixture
def adviser(mission, make_staff):
    return make_staff(Role.ADVISER, username="jdoe")


@pytest.fixture
def observation_id(app, mission, adviser) -> int:
    with app.app_context(), db.unit():
        file_directly(db.session, current_context(), mission.id)
        return db.session.scalar(select(Observation.id))


def start(observation_id: int, sender: Sender = Sender.SOURCE) -> attachments.Upload:
    """Start an upload (inside an app context)."""
    observation = db.session.get(Observation, observation_id)
    return attachments.start_upload(
        db.session, current_context(), observation=observation, sender=sender
    )


def feed(upload: attachments.Upload, data: bytes, filename: str = "notes.bin") -> None:
    target = upload.sink.open_part(None, "application/octet-stream", filename)
    target.write(data)


def store(upload: attachments.Upload, staff_id: int | None = None) -> Attachment:
    staff = db.session.get(StaffUser, staff_id) if staff_id is not None else None
    return attachments.store_upload(db.session, current_context(), upload, staff=staff)


def blob_count(app) -> int:
    """Blobs stored and uploads in flight (files, or chunks on PostgreSQL)."""
    return len(stored_blobs(app)) + len(part_files(app))


def attachment_count() -> int:
    return db.session.scalar(select(func.count(Attachment.id)))


def test_an_adviser_may_still_add_a_file_to_a_closed_observation(app, observation_id, adviser):
    with app.app_context():
        with db.unit():
            db.session.get(Observation, observation_id).state = State.CLOSED

        with pytest.raises(ObservationClosed) as refused:
            start(observation_id, Sender.SOURCE)
        assert refused.value.what == "file"

        with db.unit():
            upload = start(observation_id, Sender.ADVISER)
            feed(upload, b"the final answer\n" * 20, "answer.txt")
            stored = store(upload, adviser.id)

        assert (stored.sender, stored.staff_id) == (Sender.ADVISER, adviser.id)


def test_a_new_file_may_only_fill_the_room_left_in_the_observation(
    app, observation_id, monkeypatch
):
    monkeypatch.setattr(attachments, "MAX_TOTAL_BYTES_PER_OBSERVATION", 20_000)
    with app.app_context():
        with db.unit():
            upload = start(observation_id)
            feed(upload, random_bytes(3000))
            first = store(upload)

        upload = start(observation_id)
        assert upload.sink.max_bytes == 20_000 - first.stored_size
        feed(upload, random_bytes(upload.sink.max_bytes + 1, seed=2))

        with pytest.raises(attachments.AttachmentTooLarge) as refused, db.unit():
            store(upload)

        assert refused.value.limit == 20_000 - first.stored_size
        assert attachment_count() == 1


def test_two_uploads_racing_for_the_last_place_store_one(app, observation_id, monkeypatch):
    monkeypatch.setattr(attachments, "MAX_ATTACHMENTS_PER_OBSERVATION", 1)
    with app.app_context():
        # Both pass the check made before their bodies are read.
        first, second = start(observation_id), start(observation_id)
        feed(first, random_bytes(2000, seed=1))
        feed(second, random_bytes(2000, seed=2))
        with db.unit():
            store(first)

        with pytest.raises(attachments.TooManyAttachments), db.unit():
            store(second)

        assert attachment_count() == 1
    assert blob_count(app) == 1  # the loser's ciphertext was removed


def test_two_uploads_racing_for_the_last_bytes_store_one(app, observation_id, monkeypatch):
    with app.app_context():
        first, second = start(observation_id), start(observation_id)
        feed(first, random_bytes(2000, seed=1))
        feed(second, random_bytes(2000, seed=2))
        with db.unit():
            stored = store(first)
        monkeypatch.setattr(
            attachments, "MAX_TOTAL_BYTES_PER_OBSERVATION", stored.stored_size + 100
        )

        with pytest.raises(attachments.ObservationFull), db.unit():
            store(second)

        assert attachment_count() == 1
    assert blob_count(app) == 1


def test_once_the_observation_is_full_no_upload_starts(app, observation_id, monkeypatch):
    with app.app_context():
        with db.unit():
            upload = start(observation_id)
            feed(upload, random_bytes(2000))
            stored = store(upload)
        monkeypatch.setattr(attachments, "MAX_TOTAL_BYTES_PER_OBSERVATION", stored.stored_size)

        with pytest.raises(attachments.ObservationFull):
            start(observation_id)


def test_a_file_part_without_content_is_refused_and_leaves_nothing(app, observation_id):
    with app.app_context():
        upload = start(observation_id)
        feed(upload, b"")

        with pytest.raises(attachments.EmptyAttachment), db.unit():
            store(upload)

        assert attachment_count() == 0
    assert blob_count(app) == 0


def test_an_advisers_file_is_audited_and_a_sources_is_not(app, observation_id, adviser):
    with app.app_context():
        with db.unit():
            upload = start(observation_id)
            feed(upload, b"from the source " * 10)
            store(upload)
        with db.unit():
            upload = start(observation_id, Sender.ADVISER)
            feed(upload, b"from the adviser " * 10)
            from_adviser = store(upload, adviser.id)
        ref = db.session.get(Observation, observation_id).ref

        entries = db.session.execute(
            select(AuditEntry.actor, AuditEntry.subject).where(
                AuditEntry.action == audit.Action.ATTACHMENT_ADD
            )
        ).all()

    assert entries == [("jdoe", f"{ref}/{from_adviser.id}")]


def test_a_reader_without_the_key_gets_unreadable_and_no_download_is_audited(
    app, observation_id, adviser
):
    stranger = generate_identity(KeyKind.HYBRID)
    with app.app_context():
        with db.unit():
            upload = start(observation_id)
            feed(upload, b"for the mission only " * 10)
            stored = store(upload)
        staff = db.session.get(StaffUser, adviser.id)

        with pytest.raises(attachments.AttachmentUnreadable), db.unit():
            attachments.open_download(db.session, current_context(), stored, stranger, staff=staff)
        [view] = attachments.list_attachments(
            db.session, db.session.get(Observation, observation_id), stranger, for_staff=True
        )

        downloads = db.session.scalar(
            select(func.count(AuditEntry.seq)).where(
                AuditEntry.action == audit.Action.ATTACHMENT_DOWNLOAD
            )
        )
    assert downloads == 0
    assert (view.readable, view.filename, view.warning) == (False, "", True)
