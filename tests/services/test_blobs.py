"""Moving blob files into PostgreSQL (dissent.services.blobs, `dissent storage migrate`)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dissent.extensions import current_context, db
from dissent.models import Attachment, BlobChunk
from dissent.services import storage
from dissent.services.blobs import StorageError, move_files
from tests.helpers.blobs import blob_folder, delete_blob, read_blob
from tests.helpers.casework import observation_ref
from tests.helpers.files import random_bytes, source_upload
from tests.helpers.pages import BASE_URL
from tests.helpers.source import file_observation
from tests.helpers.stores import POSTGRES_URL

NEEDS_POSTGRES = pytest.mark.skipif(
    not POSTGRES_URL, reason="blobs are moved into PostgreSQL; needs DISSENT_TEST_DATABASE_URL"
)


@pytest.fixture
def source(app, new_client, adviser, mission):
    browser = new_client()
    file_observation(browser, what="The range log was signed by someone who was not there.")
    browser.ref = observation_ref(app, mission_id=mission.id)
    return browser


def move(app, **kwargs):
    with app.app_context():
        engine = db.engine(app)
        return move_files(
            lambda: Session(engine, expire_on_commit=False), current_context().settings, **kwargs
        )


def as_file(app, name: str) -> bytes:
    """Turn a stored blob into a file in the blob folder, as an instance from before had."""
    data = read_blob(app, name)
    delete_blob(app, name)
    (blob_folder(app) / name).write_bytes(data)
    return data


def uploaded(app, source, data: bytes) -> str:
    assert source_upload(source, data, "annex.bin").status_code == 303
    with app.app_context():
        return db.session.scalars(select(Attachment.blob_name)).all()[-1]


def chunk_names(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(BlobChunk.blob_name).distinct()))


@NEEDS_POSTGRES
def test_files_from_before_are_read_then_moved_and_verified(app, source, monkeypatch):
    monkeypatch.setattr(storage, "CHUNK_BYTES", 4096)
    data = random_bytes(50_000, seed=3)
    name = uploaded(app, source, data)
    ciphertext = as_file(app, name)
    # Before the move, the file is still read from the folder: nothing breaks.
    with app.app_context():
        attachment_id = db.session.scalar(select(Attachment.id))
    assert source.get(f"/inbox/attachments/{attachment_id}", base_url=BASE_URL).data == data

    summary = move(app)

    assert summary.moved == [name] and summary.moved_bytes == len(ciphertext)
    assert not (blob_folder(app) / name).exists()
    assert chunk_names(app) == {name}
    assert read_blob(app, name) == ciphertext
    assert source.get(f"/inbox/attachments/{attachment_id}", base_url=BASE_URL).data == data


@NEEDS_POSTGRES
def test_a_dry_run_moves_nothing(app, source):
    name = uploaded(app, source, b"a small file")
    as_file(app, name)

    summary = move(app, dry_run=True)

    assert summary.moved == [name]
    assert (blob_folder(app) / name).exists()
    assert chunk_names(app) == set()


@NEEDS_POSTGRES
def test_a_move_stopped_half_way_is_taken_up_again(app, source):
    """The crash came after the commit and before the file was deleted."""
    name = uploaded(app, source, b"moved once already")
    (blob_folder(app) / name).write_bytes(read_blob(app, name))  # chunks and the file

    summary = move(app)

    assert (summary.moved, summary.already_there) == ([], [name])
    assert not (blob_folder(app) / name).exists()
    assert chunk_names(app) == {name}


@NEEDS_POSTGRES
def test_a_file_that_differs_from_its_chunks_is_kept_and_named(app, source):
    name = uploaded(app, source, b"two versions of one blob")
    stored = read_blob(app, name)
    (blob_folder(app) / name).write_bytes(stored[:-1] + bytes([stored[-1] ^ 1]))

    summary = move(app)

    assert summary.differing == [name]
    assert (blob_folder(app) / name).exists()
    assert read_blob(app, name) == stored


@NEEDS_POSTGRES
def test_a_file_without_a_record_is_left_for_the_doctor(app):
    stray = blob_folder(app) / ("ab" * 16)
    stray.write_bytes(b"nobody names this")

    summary = move(app)

    assert summary.without_record == [stray.name]
    assert stray.exists()
    assert chunk_names(app) == set()


@NEEDS_POSTGRES
def test_a_damaged_file_moves_as_it_is_and_the_download_still_stops(app, source):
    """The move copies bytes; it does not repair them (the backup does)."""
    name = uploaded(app, source, random_bytes(200_000, seed=5))
    data = bytearray(as_file(app, name))
    data[-100] ^= 1
    (blob_folder(app) / name).write_bytes(bytes(data))

    assert move(app).moved == [name]
    assert read_blob(app, name) == bytes(data)


def test_sqlite_keeps_files_and_says_so(app):
    if POSTGRES_URL:
        pytest.skip("the refusal is for SQLite instances")
    with pytest.raises(StorageError, match="only on PostgreSQL"):
        move(app)
