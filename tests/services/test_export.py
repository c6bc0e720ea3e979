"""``dissent export``: an observation's ciphertexts, opened offline with the recovery key."""

from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dissent.cli import cli
from dissent.crypto import KeyKind, decrypt, encrypt, format_identity_file, generate_identity
from dissent.extensions import current_context, db
from dissent.models import AuditEntry, Role
from dissent.services.errors import NotFound
from dissent.services.export import MANIFEST, README, ExportError, export_observation
from tests.helpers.blobs import delete_blob
from tests.helpers.casework import (
    checked_hash,
    file_and_acknowledge,
    observation_ref,
    post_summary,
)
from tests.helpers.files import random_bytes, source_upload
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import file_observation, source_reply
from tests.helpers.staff import login_staff

WHAT = "The convoy log was rewritten after the inspection."


@pytest.fixture
def source(app, new_client, adviser, mission):
    """A browser logged in as a source who filed one observation; ``.ref`` is its reference."""
    browser = new_client()
    file_observation(browser, what=WHAT)
    browser.ref = observation_ref(app, mission_id=mission.id)
    return browser


@pytest.fixture
def cast(app, new_client, mission, make_staff):
    """An adviser and a leader of the mission, the adviser logged in."""
    adviser = make_staff(Role.ADVISER, username="escalating-adviser")
    leader = make_staff(Role.LEADERSHIP)
    browser = new_client()
    login_staff(browser, adviser)
    return adviser, leader, browser


@pytest.fixture
def staff(new_client, adviser):
    browser = new_client()
    login_staff(browser, adviser)
    return browser


SUMMARY = "Literacy completion figures in the Q3 report count attendance, not completion."


def export(app, ref: str, folder):
    with app.app_context(), db.unit():
        return export_observation(db.session, current_context().settings, ref=ref, folder=folder)


def opened(folder, name: str, identity) -> bytes:
    return decrypt((folder / name).read_bytes(), identities=[identity], padded=True)


def test_every_ciphertext_is_exported_and_opens_with_the_recovery_key(
    app, source, staff, recovery_identity, tmp_path
):
    ref = source.ref
    assert source_reply(source, ref, "The original figures are in the ops log.").status_code == 303
    photo = random_bytes(50_000, seed=7)
    assert source_upload(source, photo, "ops-log.bin").status_code == 303
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    token = csrf_from(page)
    assert (
        staff.post(
            f"/adviser/o/{ref}/acknowledge", data={"csrf_token": token}, base_url=BASE_URL
        ).status_code
        == 303
    )
    assert (
        staff.post(
            f"/adviser/o/{ref}/notes",
            data={"note-csrf_token": token, "note-text": "Check the ops log against the report."},
            base_url=BASE_URL,
        ).status_code
        == 303
    )
    folder = tmp_path / "export"

    files = export(app, ref, folder)

    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["ref"] == ref
    assert manifest["mission"] == "eupol"
    assert manifest["files"] == files
    whats = [entry["what"] for entry in files]
    assert whats[0] == "observation"
    assert whats.count("message") == 2  # the source's message and the acknowledgement
    assert "attachment" in whats and "adviser note" in whats
    assert {e["file"] for e in files} | {MANIFEST, README} == {p.name for p in folder.iterdir()}
    # Every file opens with the recovery key alone, offline.
    texts = {entry["file"]: opened(folder, entry["file"], recovery_identity) for entry in files}
    assert WHAT.encode() in texts["observation.age"]
    assert b"The original figures are in the ops log." in texts["message-001.age"]
    attachment = next(e for e in files if e["what"] == "attachment")
    assert texts[attachment["file"]] == photo
    assert b"ops-log.bin" in texts[attachment["meta"]]
    note = next(e for e in files if e["what"] == "adviser note")
    assert b"Check the ops log against the report." in texts[note["file"]]


def test_an_escalation_exports_with_what_verifies_its_signature_offline(
    app, new_client, cast, recovery_identity, tmp_path
):
    """From the export alone: the summary opens with the recovery key, its hash matches,
    and the adviser's Ed25519 signature verifies with any Ed25519 implementation."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    _adviser, leader, staff = cast
    _source, ref = file_and_acknowledge(new_client, staff, consent="summary_allowed")
    first = post_summary(staff, ref, SUMMARY, "check")
    sent = post_summary(staff, ref, SUMMARY, "escalate", [leader.id], checked_hash(first))
    assert sent.status_code == 303
    folder = tmp_path / "export"

    files = export(app, ref, folder)

    entry = next(e for e in files if e["what"] == "escalated summary")
    assert entry["file"] == "escalation-EUPOL-0001-v1.age"
    document = json.loads(opened(folder, entry["file"], recovery_identity))
    summary = document["summary"]
    assert summary == SUMMARY
    assert hashlib.sha256(summary.encode()).hexdigest() == entry["summary_sha256"]
    # The statement about the official record: compact JSON, sorted keys, hashed.
    statement = json.dumps(
        document["record"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert hashlib.sha256(statement.encode()).hexdigest() == entry["record_sha256"]
    assert entry["signed_message"].split("\n") == [
        "eupol",
        "1",
        "1",
        entry["summary_sha256"],
        "official-record",
        "none",
        entry["record_sha256"],
    ]
    signed = (
        b"dissent/v1/signature\x00"
        + entry["signature_purpose"].encode()
        + b"\x00"
        + entry["signed_message"].encode()
    )
    raw_key = entry["verify_key"] + "=" * (-len(entry["verify_key"]) % 4)  # unpadded base64
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(raw_key))
    key.verify(bytes.fromhex(entry["signature"]), signed)  # raises if it does not verify
    for other in files:  # and everything else in the folder opens with the recovery key
        opened(folder, other["file"], recovery_identity)


def test_the_export_is_private_and_recorded_in_the_audit_ledger(app, source, tmp_path):
    folder = tmp_path / "export"

    export(app, source.ref, folder)

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert (entry.action, entry.subject, entry.actor) == ("export", source.ref, "cli")


def test_an_existing_folder_is_refused_and_left_alone(app, source, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")

    with pytest.raises(ExportError, match="exists already"):
        export(app, source.ref, folder)

    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export.")]


def test_a_missing_attachment_file_is_named_and_nothing_is_written(app, source, tmp_path):
    from dissent.models import Attachment

    assert source_upload(source, random_bytes(5_000), "log.bin").status_code == 303
    with app.app_context():
        name = db.session.scalar(select(Attachment.blob_name))
    delete_blob(app, name)

    with pytest.raises(ExportError, match=r"attachment 1 .* is missing"):
        export(app, source.ref, tmp_path / "export")

    assert not (tmp_path / "export").exists()
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "export" not in actions  # an export that did not happen is not in the ledger


def test_an_unknown_reference_writes_nothing(app, source, tmp_path):
    with pytest.raises(NotFound):
        export(app, "NOPE-NOPE", tmp_path / "export")

    assert not (tmp_path / "export").exists()


def test_a_failure_halfway_leaves_no_folder_behind(app, source, tmp_path, monkeypatch):
    from dissent.services import export as export_module

    assert source_reply(source, source.ref, "A second file to export.").status_code == 303
    real_write = export_module._write_private
    written = []

    def fails_on_the_second_file(path, data):
        if written:
            raise OSError(28, "No space left on device")
        real_write(path, data)
        written.append(path)

    monkeypatch.setattr(export_module, "_write_private", fails_on_the_second_file)

    with pytest.raises(ExportError, match="No space left on device"):
        export(app, source.ref, tmp_path / "export")

    assert written  # one file had been written when the disk refused
    assert not (tmp_path / "export").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export.")]


def test_age_decrypt_unpad_gives_the_text_without_padding(tmp_path):
    identity = generate_identity(KeyKind.HYBRID)
    (tmp_path / "id.txt").write_text(format_identity_file(identity))
    (tmp_path / "doc.age").write_bytes(
        encrypt(b'{"v": 1, "text": "hello"}', recipients=[identity.recipient], pad=True)
    )
    args = ["age", "decrypt", "-i", str(tmp_path / "id.txt")]

    padded = CliRunner().invoke(cli, [*args, str(tmp_path / "doc.age")])
    unpadded = CliRunner().invoke(cli, [*args, "--unpad", str(tmp_path / "doc.age")])

    assert unpadded.exit_code == 0, unpadded.output
    assert unpadded.stdout_bytes == b'{"v": 1, "text": "hello"}'
    assert padded.stdout_bytes.startswith(b'{"v": 1, "text": "hello"}\x80\x00')
    assert len(padded.stdout_bytes) == 4096


def test_age_decrypt_unpad_refuses_a_file_without_padding(tmp_path):
    identity = generate_identity(KeyKind.X25519)
    (tmp_path / "id.txt").write_text(format_identity_file(identity))
    (tmp_path / "plain.age").write_bytes(
        encrypt(b"no padding here", recipients=[identity.recipient])
    )

    result = CliRunner().invoke(
        cli,
        [
            "age",
            "decrypt",
            "--unpad",
            "-i",
            str(tmp_path / "id.txt"),
            "-o",
            str(tmp_path / "out"),
            str(tmp_path / "plain.age"),
        ],
    )

    assert result.exit_code != 0
    assert "padding" in result.output
    assert not (tmp_path / "out").exists()


def test_the_adviser_side_of_the_flow_is_not_needed_to_export(app, source, tmp_path):
    """A fresh observation (nothing but the source's text) exports as one file."""
    files = export(app, source.ref, tmp_path / "export")

    assert [entry["what"] for entry in files] == ["observation"]
