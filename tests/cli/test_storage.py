"""`dissent storage migrate`: files of an older instance moved into PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dissent.extensions import db
from dissent.models import Attachment
from tests.helpers.blobs import blob_folder, delete_blob, read_blob, write_blob
from tests.helpers.casework import observation_ref
from tests.helpers.files import source_upload
from tests.helpers.instances import run_in
from tests.helpers.source import file_observation
from tests.helpers.stores import POSTGRES_URL


@pytest.fixture
def blob_file(app, new_client, adviser, mission) -> str:
    """An attachment kept as a file in the blob folder, as before the move."""
    source = new_client()
    file_observation(source, what="The minutes were approved before the meeting.")
    source.ref = observation_ref(app, mission_id=mission.id)
    assert source_upload(source, b"an annex", "annex.txt").status_code == 303
    with app.app_context():
        name = db.session.scalar(select(Attachment.blob_name))
    if POSTGRES_URL:
        data = read_blob(app, name)
        delete_blob(app, name)
        (blob_folder(app) / name).write_bytes(data)
    return name


@pytest.mark.skipif(not POSTGRES_URL, reason="moves files into PostgreSQL")
def test_the_files_are_moved_and_named_once_each(app, blob_file):
    result = run_in(app, "storage", "migrate")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"moved {blob_file}"
    assert result.output.splitlines()[-1].startswith("moved 1 file(s) (")
    assert not (blob_folder(app) / blob_file).exists()

    again = run_in(app, "storage", "migrate")
    assert again.exit_code == 0
    assert again.output.startswith("moved 0 file(s) (0 bytes); 0 already in the database")


@pytest.mark.skipif(not POSTGRES_URL, reason="moves files into PostgreSQL")
def test_a_file_that_differs_from_the_database_fails_the_command(app, blob_file):
    write_blob(app, blob_file, b"other bytes")  # the database holds another version

    result = run_in(app, "storage", "migrate")

    assert result.exit_code == 1
    assert f"kept {blob_file}: the file and the database hold different bytes" in result.output
    assert (blob_folder(app) / blob_file).exists()


def test_an_sqlite_instance_is_told_it_keeps_files(app, blob_file):
    if POSTGRES_URL:
        pytest.skip("the refusal is for SQLite instances")

    result = run_in(app, "storage", "migrate")

    assert result.exit_code != 0
    assert "only on PostgreSQL" in result.output
    assert (blob_folder(app) / blob_file).exists()
