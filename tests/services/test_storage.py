"""Blob storage: a record and its ciphertext commit together (dissent.services.storage)."""

from __future__ import annotations

import itertools
import os
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from dissent.extensions import current_context, db
from dissent.models import Attachment, BlobChunk, Role, Sender
from dissent.services import storage
from tests.helpers.blobs import (
    delete_blob,
    folder_dated_to_the_day,
    part_files,
    read_blob,
    stored_blobs,
)
from tests.helpers.casework import observation_ref
from tests.helpers.source import file_observation
from tests.helpers.stores import POSTGRES_URL


@pytest.fixture
def observation_id(app, new_client, mission, make_staff) -> int:
    make_staff(Role.ADVISER)
    file_observation(new_client(), what="The fuel ledger does not add up.")
    ref = observation_ref(app, mission_id=mission.id)
    with app.app_context():
        from dissent.models import Observation

        return db.session.scalar(select(Observation.id).where(Observation.ref == ref))


_positions = itertools.count(1)


def attachment_row(observation_id: int, blob: storage.PendingBlob, size: int) -> Attachment:
    return Attachment(
        observation_id=observation_id,
        position=next(_positions),
        sender=Sender.SOURCE,
        blob_name=blob.name,
        stored_size=size,
        meta=b"sealed",
    )


def folder_listing(app) -> list[str]:
    return sorted(os.listdir(os.path.join(app.instance_path, storage.BLOB_DIR)))


def stored(app) -> list[str]:
    """What is stored: files and part files on SQLite, chunks and part files on PostgreSQL."""
    return sorted(stored_blobs(app) | set(part_files(app)))


def row_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Attachment))


def test_a_committed_blob_has_its_final_name_and_its_row(app, observation_id):
    with app.app_context():
        settings = current_context().settings
        blob = storage.new_blob(settings)
        assert folder_listing(app) == [blob.temp_path.name]  # a .part file while writing
        blob.file.write(b"ciphertext" * 100)

        def record(size):
            row = attachment_row(observation_id, blob, size)
            db.session.add(row)
            return row

        with db.unit():
            row = storage.publish_with_record(db.session, blob, record)

    assert stored(app) == [blob.name]
    assert row.stored_size == 1000
    assert row_count(app) == 1
    with app.app_context(), storage.open_blob(db.session, settings, blob.name) as handle:
        assert handle.read() == b"ciphertext" * 100
    mode = os.stat(os.path.join(app.instance_path, storage.BLOB_DIR)).st_mode & 0o777
    assert mode == 0o700


@pytest.mark.parametrize("where", ["making the record", "committing", "never committed"])
def test_a_failure_before_the_commit_removes_the_file(app, observation_id, monkeypatch, where):
    with app.app_context():
        blob = storage.new_blob(current_context().settings)
        blob.file.write(b"ciphertext")

        def record(size):
            if where == "making the record":
                raise RuntimeError("disk full")
            db.session.add(attachment_row(observation_id, blob, size))

        if where == "committing":
            real = db.session.commit

            def failing_commit():
                raise OSError("disk full")

            monkeypatch.setattr(db.session, "commit", failing_commit)
        if where == "never committed":
            # The request failed after the upload was stored: its session is closed
            # without a commit.
            storage.publish_with_record(db.session, blob, record)
            assert stored(app) == ([] if storage.in_database(db.session) else [blob.name])
            db.session.close()
        else:
            with pytest.raises((RuntimeError, OSError)), db.unit():
                storage.publish_with_record(db.session, blob, record)
            if where == "committing":
                monkeypatch.setattr(db.session, "commit", real)

    assert stored(app) == []
    assert row_count(app) == 0


def test_a_discarded_blob_leaves_nothing(app):
    with app.app_context():
        blob = storage.new_blob(current_context().settings)
        blob.file.write(b"partial")
        blob.discard()
        blob.discard()  # idempotent

    assert folder_listing(app) == []


def test_removing_a_blob_or_a_part_dates_the_folder_to_the_day_only(app):
    """An unlink sets the folder's time to the moment; a source's action (a refused
    upload, a removal) must be dated to the day only (invariant 2)."""
    with app.app_context():
        settings = current_context().settings
        discarded = storage.new_blob(settings)
        discarded.file.write(b"partial")
        discarded.discard()
        assert folder_dated_to_the_day(app), "a refused upload's part"

        published = storage.new_blob(settings)
        published.file.write(b"ciphertext")
        published.publish()
        now = time.time()
        os.utime(published.folder, (now, now))  # as any other change to the folder would
        storage.remove_blob(db.session, settings, published.name)
        assert folder_dated_to_the_day(app), "a removed blob"


def test_blob_names_are_never_paths(app):
    with app.app_context():
        settings = current_context().settings
        for name in ("../dissent.sqlite3", "dissent.json", "", "A" * 32):
            with pytest.raises(storage.BlobMissing):
                storage.open_blob(db.session, settings, name)


def test_orphans_are_found_for_the_operator(app, observation_id):
    with app.app_context():
        settings = current_context().settings
        folder = storage.blob_dir(settings)
        kept = storage.new_blob(settings)
        lost = storage.new_blob(settings)
        with db.unit():
            for blob in (kept, lost):
                storage.publish_with_record(
                    db.session,
                    blob,
                    lambda size, blob=blob: db.session.add(
                        attachment_row(observation_id, blob, size)
                    ),
                )
    delete_blob(app, lost.name)  # a record without its bytes
    with app.app_context():
        stray = folder / ("ab" * 16)
        stray.write_bytes(b"a file without a record")
        partial = storage.new_blob(settings)  # a crash mid-upload
        partial.file.close()
        an_hour_ago = time.time() - 2 * storage.ORPHAN_GRACE_SECONDS
        for path in (kept.path, stray, partial.temp_path):
            if path.exists():  # on PostgreSQL the kept blob is chunks, not a file
                os.utime(path, (an_hour_ago, an_hour_ago))
        in_flight = folder / ("cd" * 16)  # just renamed, its row not yet committed
        in_flight.write_bytes(b"young")

        found = storage.find_orphans(db.session, settings)
        lost_id = db.session.scalar(select(Attachment.id).where(Attachment.blob_name == lost.name))

    assert found.files_without_record == [stray.name]
    assert found.records_without_file == [lost_id]
    assert found.partial_files == [partial.temp_path.name]
    assert not found.clean


def test_a_tidy_folder_has_no_orphans(app):
    with app.app_context():
        found = storage.find_orphans(db.session, current_context().settings, grace_seconds=0)

    assert found.clean


def test_a_published_blob_is_dated_to_the_day_only(app):
    """The file's own timestamp must not say when a source uploaded it (invariant 2)."""
    with app.app_context():
        settings = current_context().settings
        blob = storage.new_blob(settings)
        blob.file.write(b"ciphertext")
        blob.publish()
        stamps = [os.stat(blob.path).st_mtime, os.stat(blob.path.parent).st_mtime]
    for stamp in stamps:
        moment = datetime.fromtimestamp(stamp, UTC)
        assert (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)
        assert moment.date() == datetime.now(UTC).date()


def test_only_parts_no_upload_writes_to_any_more_are_stale(app):
    with app.app_context():
        settings = current_context().settings
        stale, writing, renaming = (storage.new_blob(settings) for _ in range(3))
        for blob in (stale, writing, renaming):
            blob.file.close()
        # Late in the day: one part untouched for two hours, one written to a minute ago,
        # and one publish() has just dated to midnight, the moment before its rename.
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        late_that_day = midnight.timestamp() + 23 * 3600
        for blob, moment in (
            (stale, late_that_day - 2 * storage.ORPHAN_GRACE_SECONDS),
            (writing, late_that_day - 60),
            (renaming, midnight.timestamp()),
        ):
            os.utime(blob.temp_path, (moment, moment))

        found = storage.stale_parts(settings, now=late_that_day)
        removed = storage.remove_stale_parts(settings, now=late_that_day)

    assert found == [stale.temp_path.name]
    assert removed == 1
    assert folder_listing(app) == sorted([writing.temp_path.name, renaming.temp_path.name])


def test_removing_leftovers_touches_nothing_but_blob_and_part_files(app):
    with app.app_context():
        settings = current_context().settings
        folder = storage.blob_dir(settings)
        (folder / "keep.txt").write_text("not dissent's")

        with pytest.raises(ValueError):
            storage.remove_leftover(settings, "keep.txt")
        with pytest.raises(ValueError):
            storage.remove_leftover(settings, "../dissent.json.part")
        assert storage.remove_leftover(settings, "ab" * 16) is False  # gone already

    assert folder_listing(app) == ["keep.txt"]


# --- PostgreSQL: blobs are chunks in the database -----------------------------------------

NEEDS_POSTGRES = pytest.mark.skipif(
    not POSTGRES_URL, reason="blobs are chunks only on PostgreSQL; needs DISSENT_TEST_DATABASE_URL"
)


def stored_blob(app, observation_id: int, data: bytes) -> str:
    with app.app_context():
        blob = storage.new_blob(current_context().settings)
        blob.file.write(data)
        with db.unit():
            storage.publish_with_record(
                db.session,
                blob,
                lambda size: db.session.add(attachment_row(observation_id, blob, size)),
            )
        return blob.name


@NEEDS_POSTGRES
def test_a_large_blob_is_stored_in_chunks_and_read_back_whole(app, observation_id, monkeypatch):
    monkeypatch.setattr(storage, "CHUNK_BYTES", 1000)
    # A download fetches a chunk in slices; 300 divides no chunk evenly.
    monkeypatch.setattr(storage, "READ_SLICE_BYTES", 300)
    data = os.urandom(4500)

    name = stored_blob(app, observation_id, data)

    with app.app_context():
        sizes = (
            db.session.execute(
                select(func.length(BlobChunk.data))
                .where(BlobChunk.blob_name == name)
                .order_by(BlobChunk.seq)
            )
            .scalars()
            .all()
        )
        with storage.open_blob(db.session, current_context().settings, name) as handle:
            pieces = [handle.read(700) for _ in range(8)]
    assert sizes == [1000, 1000, 1000, 1000, 500]
    assert b"".join(pieces) == data
    assert part_files(app) == []


@NEEDS_POSTGRES
def test_a_reader_keeps_reading_the_blob_it_opened_while_it_is_rewritten(
    app, observation_id, monkeypatch
):
    """An access grant rewrites a blob in place; a download under way reads the old one whole."""
    monkeypatch.setattr(storage, "CHUNK_BYTES", 1000)
    old = os.urandom(3000)
    name = stored_blob(app, observation_id, old)
    with app.app_context():
        settings = current_context().settings
        reader = storage.open_blob(db.session, settings, name)
        first = reader.read(1000)
        rewrite = storage.new_blob(settings)
        rewrite.name = name
        rewrite.file.write(os.urandom(5000))
        with db.unit():
            storage.store(db.session, rewrite)
        rest = reader.read()
        reader.close()
    assert first + rest == old
    assert len(read_blob(app, name)) == 5000


@NEEDS_POSTGRES
def test_chunks_of_purged_records_go_only_if_the_deletion_commits(app, observation_id):
    name = stored_blob(app, observation_id, b"ciphertext")
    with app.app_context():
        settings = current_context().settings
        with pytest.raises(RuntimeError), db.unit():
            storage.remove_after_commit(db.session, settings, [name])
            raise RuntimeError("the purge failed")
    assert read_blob(app, name) == b"ciphertext"

    with app.app_context(), db.unit():
        storage.remove_after_commit(db.session, current_context().settings, [name])
    assert stored_blobs(app) == set()
