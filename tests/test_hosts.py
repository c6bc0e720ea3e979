"""Several app hosts share one database: nothing an upload leaves is on one host only.

Two applications with separate instance folders (two hosts) and the same secrets and
database, as docs/operations.md ("Adding an app host") sets them up. On PostgreSQL an
attachment uploaded through one is downloaded through the other; on SQLite (one host by
design: the files are beside the database) the test is skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dissent.app import create_app
from dissent.extensions import db
from tests.helpers.casework import observation_ref
from tests.helpers.files import adviser_upload, random_bytes, source_upload
from tests.helpers.pages import BASE_URL
from tests.helpers.source import file_observation
from tests.helpers.staff import login_staff
from tests.helpers.stores import POSTGRES_URL

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL,
    reason="several hosts share PostgreSQL; SQLite keeps attachments beside its one host",
)


@pytest.fixture
def host_b(config, tmp_path):
    """A second host: its own instance folder, the same secrets and database."""
    app = create_app({**config, "INSTANCE_PATH": str(tmp_path / "host-b")})
    yield app
    db.engine(app).dispose()


def move_cookies(from_client, to_client) -> None:
    """The browser's next request goes to the other host (nginx chooses the upstream)."""
    for cookie in from_client._cookies.values():
        to_client.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def test_an_upload_through_one_host_downloads_through_the_other(
    app, host_b, new_client, adviser, mission
):
    source_a = new_client()
    file_observation(source_a, what="The patrol report left out the second incident.")
    ref = source_a.ref = observation_ref(app, mission_id=mission.id)
    data = random_bytes(3 * 1024 * 1024 + 17, seed=11)  # more than one chunk

    assert source_upload(source_a, data, "annex.bin").status_code == 303

    staff_b = host_b.test_client()
    login_staff(staff_b, adviser)
    page = staff_b.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    assert page.status_code == 200
    [attachment_id] = {
        int(part.split('"')[0])
        for part in page.get_data(as_text=True).split('href="/adviser/attachments/')[1:]
    }
    download = staff_b.get(f"/adviser/attachments/{attachment_id}", base_url=BASE_URL)
    assert download.status_code == 200
    assert download.data == data
    # Host A's folder holds no attachment: the upload's spool is gone with its request.
    assert list((Path(app.instance_path) / "blobs").iterdir()) == []


def test_a_source_session_started_on_one_host_goes_on_on_the_other(
    app, host_b, new_client, adviser, mission
):
    source_a = new_client()
    file_observation(source_a, what="The incident log stops on the day of the visit.")
    staff_a = new_client()
    login_staff(staff_a, adviser)
    ref = observation_ref(app, mission_id=mission.id)
    assert (
        adviser_upload(staff_a, ref, b"guidance for the source", "guidance.txt").status_code == 303
    )

    source_b = host_b.test_client()
    move_cookies(source_a, source_b)
    inbox = source_b.get("/inbox", base_url=BASE_URL)

    assert inbox.status_code == 200
    assert "guidance.txt" in inbox.get_data(as_text=True)
