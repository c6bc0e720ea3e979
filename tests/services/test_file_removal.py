"""A source's removal of a file through the service (dissent.services.file_removal):
removable until an adviser opens it, gone with its ciphertext only when the removal
commits, and noted in the conversation."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dissent.crypto import decrypt
from dissent.extensions import current_context, db
from dissent.models import Attachment, AuditEntry, MessageKind, Sender
from dissent.services import audit, conversation, file_removal
from dissent.services.attachments import AttachmentView, download_subject
from dissent.services.errors import NotFound
from dissent.services.file_removal import FileNotRemovable, NotRemovable
from tests.helpers.blobs import (
    blob_folder,
    folder_dated_to_the_day,
    in_database,
    read_blob,
    stored_blobs,
)
from tests.helpers.files import random_bytes, store_file
from tests.helpers.services import Case, file_case


class PageFailed(Exception):
    """Something after the removal failed, before its transaction committed."""


def remove(case: Case, attachment_id: int) -> file_removal.RemovedFile:
    """Remove the file as the case's source (inside an app context and a unit)."""
    return file_removal.remove_source_file(
        db.session,
        current_context(),
        source_id=case.source_id,
        attachment_id=attachment_id,
        identity=case.source_identity(),
    )


def to_remove(case: Case, attachment_id: int) -> tuple[str, AttachmentView]:
    """Ask what removing the file would remove (inside an app context)."""
    return file_removal.file_to_remove(
        db.session,
        source_id=case.source_id,
        attachment_id=attachment_id,
        identity=case.source_identity(),
    )


def record_opening(app, action: str, subject: str) -> None:
    with app.app_context(), db.unit():
        audit.record(db.session, actor="adviser", action=action, subject=subject)


def test_a_removal_that_does_not_commit_leaves_the_file_and_its_ciphertext(
    app, case, recovery_identity
):
    data = random_bytes(4000)
    file_id = store_file(app, case.observation_id, data, "duty roster.xlsx")
    as_file = None if in_database(app) else blob_folder(app)
    with app.app_context():
        blob_name = db.session.get(Attachment, file_id).blob_name
        with pytest.raises(PageFailed), db.unit():
            remove(case, file_id)
            if as_file is not None:
                # The file on disk goes only once the record's deletion has committed.
                assert (as_file / blob_name).exists()
            raise PageFailed

        assert db.session.get(Attachment, file_id) is not None
    plain = decrypt(read_blob(app, blob_name), identities=[recovery_identity], padded=True)
    assert plain == data

    with app.app_context():
        with db.unit():
            removed = remove(case, file_id)
        assert db.session.get(Attachment, file_id) is None
    assert (removed.ref, removed.filename) == (case.ref, "duty roster.xlsx")
    assert blob_name not in stored_blobs(app)


def test_a_removal_dates_the_blob_folder_to_the_day_only(app, case):
    # Removing the file (on SQLite) or the upload's spool (on PostgreSQL) sets the
    # folder's time to the moment, which would date the source's action to the second.
    file_id = store_file(app, case.observation_id, random_bytes(4000), "roster.xlsx")

    with app.app_context(), db.unit():
        remove(case, file_id)

    assert folder_dated_to_the_day(app)


def test_the_removal_is_a_note_in_the_conversation_and_not_in_the_ledger(app, case):
    file_id = store_file(app, case.observation_id, random_bytes(2000), "map.bin")
    with app.app_context():
        ledger = db.session.scalar(select(func.count(AuditEntry.seq)))
        with db.unit():
            remove(case, file_id)

        thread = conversation.view_observation(
            case.observation(), case.source_identity(), for_staff=False
        ).messages
        assert db.session.scalar(select(func.count(AuditEntry.seq))) == ledger
    note = thread[-1]
    assert (note.sender, note.kind, note.text) == (
        Sender.SOURCE,
        MessageKind.FILE_REMOVED,
        "map.bin",
    )
    assert note.sent_at is None, "dated to the day only"


def test_a_file_is_removable_until_an_adviser_opens_it(app, case):
    file_id = store_file(app, case.observation_id, random_bytes(2000), "a.bin")
    other_id = store_file(app, case.observation_id, random_bytes(2000, seed=2), "b.bin")
    with app.app_context():
        ref, view = to_remove(case, file_id)
    assert (ref, view.filename, view.opened) == (case.ref, "a.bin", False)

    record_opening(app, audit.Action.ATTACHMENT_DOWNLOAD, download_subject(case.ref, file_id))

    with app.app_context():
        with pytest.raises(FileNotRemovable) as asked:
            to_remove(case, file_id)
        assert asked.value.reason is NotRemovable.OPENED
        with pytest.raises(FileNotRemovable) as forced, db.unit():
            remove(case, file_id)
        assert forced.value.reason is NotRemovable.OPENED
        assert db.session.get(Attachment, file_id) is not None
        # Another file's download says nothing about this one.
        assert to_remove(case, other_id)[1].filename == "b.bin"


def test_an_export_of_the_observation_opens_every_file_it_holds(app, case):
    file_ids = [store_file(app, case.observation_id, random_bytes(900, seed=n)) for n in (1, 2)]
    record_opening(app, audit.Action.EXPORT, case.ref)

    with app.app_context():
        for file_id in file_ids:
            with pytest.raises(FileNotRemovable) as refused, db.unit():
                remove(case, file_id)
            assert refused.value.reason is NotRemovable.OPENED
        assert db.session.scalar(select(func.count(Attachment.id))) == 2


def test_a_download_between_the_question_and_the_removal_wins(app, case):
    file_id = store_file(app, case.observation_id, random_bytes(2000))
    with app.app_context():
        to_remove(case, file_id)  # the confirmation page is shown
    record_opening(app, audit.Action.ATTACHMENT_DOWNLOAD, download_subject(case.ref, file_id))

    with app.app_context():
        with pytest.raises(FileNotRemovable), db.unit():
            remove(case, file_id)
        assert db.session.get(Attachment, file_id) is not None


def test_an_adviser_s_file_is_not_the_source_s_to_remove(app, case, adviser):
    file_id = store_file(app, case.observation_id, random_bytes(2000), staff_id=adviser.id)

    with app.app_context():
        with pytest.raises(FileNotRemovable) as asked:
            to_remove(case, file_id)
        with pytest.raises(FileNotRemovable) as forced, db.unit():
            remove(case, file_id)
        assert asked.value.reason is forced.value.reason is NotRemovable.NOT_YOURS
        assert db.session.get(Attachment, file_id) is not None


def test_another_source_s_file_is_not_found(app, case, mission):
    file_id = store_file(app, case.observation_id, random_bytes(2000))
    stranger = file_case(app, mission.id, what="Another observation altogether.")

    with app.app_context():
        with pytest.raises(NotFound):
            to_remove(stranger, file_id)
        with pytest.raises(NotFound), db.unit():
            remove(stranger, file_id)
        assert db.session.get(Attachment, file_id) is not None
