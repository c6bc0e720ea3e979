"""Invariant 1, no plaintext at rest: a canary typed into every field is found nowhere.

A unique string goes in through the web forms as the observation, its place and report
fields, a source reply and an adviser reply, and as the content and original name of a
file attached by each side. Afterwards no byte of the database files (with WAL and
journal), of the attachment blobs, of a PostgreSQL dump, or of the logs holds it in any
common encoding; nor does anything hold the source's codename. The recovery key opens the
stored record and finds the canary, so it was stored, encrypted.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from dissent.crypto import decrypt
from dissent.extensions import db
from dissent.models import Attachment, Observation, Role, Sender
from dissent.services.content import open_document
from tests.helpers.blobs import read_blob
from tests.helpers.casework import observation_ref
from tests.helpers.leaks import capture_all_logging, instance_files, leaks
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import submit_observation
from tests.helpers.staff import login_staff
from tests.helpers.stores import POSTGRES_URL

FIELDS = ("what", "where", "official_report", "source_reply", "adviser_reply")
# Attachments: the file's bytes and its original name, from each side.
FILE_FIELDS = ("source_file_bytes", "source_file_name", "adviser_file_bytes", "adviser_file_name")


@dataclass
class Flow:
    """What went in: the canaries by field, the codename, the observation's reference."""

    canaries: dict[str, str]
    codename: str
    ref: str

    def secrets(self) -> dict[str, str]:
        """Return every string that must not be stored or logged in clear."""
        return {
            **self.canaries,
            "codename": self.codename,
            "codename (as typed)": self.codename.upper(),
            "codename (hyphenated)": self.codename.replace(" ", "-"),
        }


def run_flow(app, new_client, make_staff, mission_id: int) -> Flow:
    """Send a canary through every field: observation, replies both ways."""
    marker = "CANARY-" + uuid.uuid4().hex
    canaries = {field: f"{marker}-{field}" for field in FIELDS + FILE_FIELDS}
    adviser = make_staff(Role.ADVISER)
    codename = submit_observation(
        new_client(),
        what=canaries["what"],
        where=canaries["where"],
        official_report=canaries["official_report"],
    )
    ref = observation_ref(app, mission_id=mission_id)

    source = new_client()
    page = source.get("/login", base_url=BASE_URL)
    response = source.post(
        "/login",
        data={"csrf_token": csrf_from(page), "codename": codename.upper()},
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    inbox = source.get("/inbox", base_url=BASE_URL)
    response = source.post(
        f"/inbox/{ref}/reply",
        data={"csrf_token": csrf_from(inbox), "text": canaries["source_reply"]},
        base_url=BASE_URL,
    )
    assert response.status_code == 303

    staff = new_client()
    login_staff(staff, adviser)
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    for field in ("what", "where", "official_report", "source_reply"):
        assert canaries[field].encode() in page.data, field
    for action, data in (("acknowledge", {}), ("reply", {"text": canaries["adviser_reply"]})):
        response = staff.post(
            f"/adviser/o/{ref}/{action}",
            data={"csrf_token": csrf_from(page), **data},
            base_url=BASE_URL,
        )
        assert response.status_code == 303, action

    inbox = source.get("/inbox", base_url=BASE_URL)
    assert canaries["adviser_reply"].encode() in inbox.data
    exchange_files(app, source, staff, ref, canaries)
    return Flow(canaries=canaries, codename=codename, ref=ref)


def exchange_files(app, source, staff, ref: str, canaries: dict[str, str]) -> None:
    """Each side attaches a file (canary bytes, canary name); the other side downloads it."""
    sent = {}
    for side, browser, url, token_page in (
        ("source", source, f"/inbox/{ref}/attachments", "/inbox"),
        ("adviser", staff, f"/adviser/o/{ref}/attachments", f"/adviser/o/{ref}"),
    ):
        content = (canaries[f"{side}_file_bytes"] + "\n").encode() * 100
        response = browser.post(
            url,
            data={
                "csrf_token": csrf_from(browser.get(token_page, base_url=BASE_URL)),
                "file": (io.BytesIO(content), canaries[f"{side}_file_name"] + ".txt"),
                # The source keeps the name (neutral by default): it must then be
                # stored, and never in clear.
                "keep_name": "y",
            },
            content_type="multipart/form-data",
            base_url=BASE_URL,
        )
        assert response.status_code == 303, side
        sent[side] = content
    with app.app_context():
        from_source, from_adviser = db.session.scalars(
            select(Attachment.id).order_by(Attachment.position)
        )
    assert (
        staff.get(f"/adviser/attachments/{from_source}", base_url=BASE_URL).data == sent["source"]
    )
    assert (
        source.get(f"/inbox/attachments/{from_adviser}", base_url=BASE_URL).data == sent["adviser"]
    )


def assert_recovery_key_reads_the_canaries(app, flow: Flow, recovery_identity) -> None:
    """The canaries were stored: the offline recovery key opens every one of them."""
    with app.app_context():
        observation = db.session.scalar(select(Observation).where(Observation.ref == flow.ref))
        content = open_document(observation.content, identities=[recovery_identity])
        texts = {
            message.sender: open_document(message.body, identities=[recovery_identity])["text"]
            for message in observation.messages
            if message.kind == "message"
        }
    assert content["what"] == flow.canaries["what"]
    assert content["where"] == flow.canaries["where"]
    assert content["official_report"] == flow.canaries["official_report"]
    assert texts == {
        Sender.SOURCE: flow.canaries["source_reply"],
        Sender.ADVISER: flow.canaries["adviser_reply"],
    }
    assert_recovery_key_reads_the_files(app, flow, recovery_identity)


def assert_recovery_key_reads_the_files(app, flow: Flow, recovery_identity) -> None:
    """The attached files and their names were stored, encrypted to the recovery key."""
    with app.app_context():
        stored = list(db.session.scalars(select(Attachment).order_by(Attachment.position)))
    for attachment, side in zip(stored, ("source", "adviser"), strict=True):
        meta = open_document(attachment.meta, identities=[recovery_identity])
        assert meta["filename"] == flow.canaries[f"{side}_file_name"] + ".txt"
        data = decrypt(
            read_blob(app, attachment.blob_name), identities=[recovery_identity], padded=True
        )
        assert data.startswith(flow.canaries[f"{side}_file_bytes"].encode())


def assert_logs_clean(flow: Flow, caplog, capsys) -> None:
    """Neither the logs nor stdout/stderr hold a canary or the codename."""
    captured = capsys.readouterr()
    logs = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    for where, text in (("logs", logs), ("stdout", captured.out), ("stderr", captured.err)):
        found = leaks(text.encode("utf-8", "replace"), flow.secrets())
        assert not found, f"{where}: {found}"


@pytest.mark.sqlite_only
def test_canary_absent_from_database_files_and_logs(
    app, new_client, mission, make_staff, database_url, recovery_identity, caplog, capsys
):
    if not database_url.startswith("sqlite"):
        pytest.skip("reads SQLite files; the PostgreSQL run checks a pg_dump instead")
    capture_all_logging(caplog)

    flow = run_flow(app, new_client, make_staff, mission.id)

    live = instance_files(app)  # with the WAL as the running server leaves it
    assert any(name.endswith("-wal") for name in live), sorted(live)
    db.engine(app).dispose()  # checkpoint: the WAL's pages move into the main file
    settled = instance_files(app)
    assert "dissent.sqlite3" in settled
    for moment, files in (("live", live), ("after checkpoint", settled)):
        for name, data in files.items():
            found = leaks(data, flow.secrets())
            assert not found, f"{moment} {name}: {found}"
    assert_logs_clean(flow, caplog, capsys)
    assert_recovery_key_reads_the_canaries(app, flow, recovery_identity)


@pytest.mark.skipif(not POSTGRES_URL, reason="needs DISSENT_TEST_DATABASE_URL (PostgreSQL)")
def test_canary_absent_from_postgres_dump_and_logs(
    app, new_client, mission, make_staff, database_url, recovery_identity, caplog, capsys
):
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("pg_dump is not installed (apt-get install postgresql-client)")
    capture_all_logging(caplog)

    flow = run_flow(app, new_client, make_staff, mission.id)

    libpq_url = make_url(database_url).set(drivername="postgresql")
    dump = subprocess.run(
        [pg_dump, "--no-owner", "--dbname", libpq_url.render_as_string(hide_password=False)],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert b"COPY public.observation" in dump  # the dump really holds the data
    assert b"COPY public.blob_chunk" in dump  # and the attachments' ciphertext
    found = leaks(dump, flow.secrets())
    assert not found, f"pg_dump: {found}"
    assert_logs_clean(flow, caplog, capsys)
    assert_recovery_key_reads_the_canaries(app, flow, recovery_identity)
