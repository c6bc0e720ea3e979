"""``dissent backup`` / ``dissent restore``: a restored instance is the same instance."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import sqlite3
import stat
import tarfile
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from dissent.app import create_app
from dissent.cli import cli
from dissent.crypto import KeyKind
from dissent.crypto.codename import TEST_KDF_PARAMS
from dissent.extensions import current_context, db
from dissent.models import Role
from dissent.services import accounts
from dissent.services.backup import BackupError, create_backup, restore_backup
from dissent.services.instance import initialise_instance
from tests.helpers.cli import CLEAN_ENV, assert_one_line_error
from tests.helpers.files import random_bytes, upload
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import submit_observation
from tests.helpers.staff import PASSWORD

# Backups copy SQLite files; a PostgreSQL instance is refused (tested below by settings).
pytestmark = pytest.mark.sqlite_only

WHAT = "The readiness figures for the second quarter were copied from the first."
FAST = {"KDF_PARAMS": TEST_KDF_PARAMS, "STAFF_WRAP_WORK_FACTOR": 10, "TESTING": True}


def serve(path):
    return create_app({"INSTANCE_PATH": str(path), **FAST})


def run(*args: str, instance=None):
    env = dict(CLEAN_ENV)
    if instance is not None:
        env["DISSENT_INSTANCE"] = str(instance)
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def live(tmp_path):
    """An instance with one observation and one attachment; ``.codename`` reaches it."""
    path = tmp_path / "live"
    initialise_instance(path, kind=KeyKind.X25519, threshold=2, custodians=3)
    app = serve(path)
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eupol", name="EUPOL")
        user, _ = accounts.create_account(
            db.session, username="adviser", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        accounts.enrol_directly(
            db.session,
            current_context(),
            user=user,
            password=PASSWORD,
            totp_secret=accounts.new_totp_secret(),
        )
    browser = app.test_client()
    codename = submit_observation(browser, what=WHAT)
    inbox = browser.get("/inbox", base_url=BASE_URL)
    ref = re.search(rb'id="thread-([A-Z0-9]{4}-[A-Z0-9]{4})"', inbox.data).group(1).decode()
    response = upload(
        browser,
        f"/inbox/{ref}/attachments",
        random_bytes(20_000),
        "roster.bin",
        token_page="/inbox",
    )
    assert response.status_code == 303
    db.engine(app).dispose()
    return dataclasses.make_dataclass("Live", ["path", "codename"])(path, codename)


def test_a_restored_instance_lets_the_source_back_in_with_everything(live, tmp_path):
    archive = tmp_path / "backup.tar"

    made = run("backup", "-o", str(archive), instance=live.path)
    restored = run("restore", str(archive), "--instance", str(tmp_path / "restored"))

    assert made.exit_code == 0, made.output
    assert "1 observation and 1 attachment file" in made.output
    assert restored.exit_code == 0, restored.output
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    app = serve(tmp_path / "restored")
    browser = app.test_client()
    page = browser.get("/login", base_url=BASE_URL)
    login = browser.post(
        "/login",
        data={"csrf_token": csrf_from(page), "codename": live.codename},
        base_url=BASE_URL,
    )
    assert login.status_code == 303  # the instance secrets came back: the codename works
    inbox = browser.get("/inbox", base_url=BASE_URL)
    assert WHAT.encode() in inbox.data
    assert b"roster.bin" in inbox.data  # the attachment's encrypted name opens
    db.engine(app).dispose()


def test_the_backup_is_audited_and_the_archive_is_not_overwritten(live, tmp_path):
    archive = tmp_path / "backup.tar"
    archive.write_bytes(b"an older backup")

    refused = run("backup", "-o", str(archive), instance=live.path)

    assert "exists already" in assert_one_line_error(refused)
    assert archive.read_bytes() == b"an older backup"
    archive.unlink()
    assert run("backup", "-o", str(archive), instance=live.path).exit_code == 0
    app = serve(live.path)
    with app.app_context():
        from sqlalchemy import select

        from dissent.models import AuditEntry

        actions = db.session.scalars(select(AuditEntry.action)).all()
    db.engine(app).dispose()
    assert actions[-1] == "backup"


def test_a_missing_attachment_file_stops_the_backup(live, tmp_path):
    blob = next((live.path / "blobs").iterdir())
    blob.unlink()

    with pytest.raises(BackupError, match="missing"):
        create_backup(_settings(live.path), tmp_path / "backup.tar")

    assert not (tmp_path / "backup.tar").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _settings(path):
    app = serve(path)
    with app.app_context():
        settings = current_context().settings
    db.engine(app).dispose()
    return settings


def test_a_postgresql_instance_is_refused_with_what_to_do_instead(live, tmp_path):
    settings = dataclasses.replace(
        _settings(live.path), database_url="postgresql+psycopg://db.internal/dissent"
    )

    with pytest.raises(BackupError, match="pg_dump"):
        create_backup(settings, tmp_path / "backup.tar")


def test_restore_refuses_a_folder_that_is_not_empty(live, tmp_path):
    archive = tmp_path / "backup.tar"
    create_backup(_settings(live.path), archive)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")

    result = run("restore", str(archive), "--instance", str(target))

    assert "not an empty folder" in assert_one_line_error(result)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def _rewrite(archive, out, change):
    """Copy ``archive`` to ``out``, passing each (name, bytes) through ``change``."""
    with tarfile.open(archive) as source, tarfile.open(out, "w") as target:
        for member in source:
            data = source.extractfile(member).read()
            for name, content in change(member.name, data):
                info = tarfile.TarInfo(name)
                info.size = len(content)
                target.addfile(info, io.BytesIO(content))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda name, data: [
                (name, data[:-1] + bytes([data[-1] ^ 1]) if name.startswith("blobs/") else data)
            ],
            "damaged",
        ),
        (
            lambda name, data: (
                [(name, data), ("../outside.txt", b"x")]
                if name == "dissent.json"
                else [(name, data)]
            ),
            "unexpected entry",
        ),
        (
            lambda name, data: [] if name.startswith("blobs/") else [(name, data)],
            "lacks 1 listed file",
        ),
        (
            lambda name, data: (
                [(name, json.dumps({"format": "other"}).encode())]
                if name == "backup.json"
                else [(name, data)]
            ),
            "not a backup this version can restore",
        ),
    ],
    ids=["flipped-bit", "path-outside", "file-missing", "foreign-format"],
)
def test_a_damaged_or_foreign_archive_is_refused_and_nothing_appears(
    live, tmp_path, change, message
):
    archive = tmp_path / "backup.tar"
    create_backup(_settings(live.path), archive)
    bad = tmp_path / "bad.tar"
    _rewrite(archive, bad, change)

    with pytest.raises(BackupError, match=message):
        restore_backup(bad, tmp_path / "restored")

    assert not (tmp_path / "restored").exists()
    assert not (tmp_path / "outside.txt").exists()
    assert not [p for p in tmp_path.iterdir() if ".restore-" in p.name]


def test_relative_paths_work_from_the_folder_the_operator_is_in(live, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    made = run("backup", "-o", "backup.tar", instance=live.path)
    restored = run("restore", "backup.tar", "--instance", "restored")

    assert made.exit_code == 0, made.output
    assert restored.exit_code == 0, restored.output
    assert (tmp_path / "restored" / "dissent.sqlite3").is_file()


def test_secrets_set_in_the_environment_are_refused_not_silently_left_out(live, tmp_path):
    """A restore of dissent.json with other secrets than those in use would lock every
    source out; the backup says so instead of writing such an archive."""
    import base64
    import os

    result = CliRunner().invoke(
        cli,
        ["backup", "-o", str(tmp_path / "backup.tar")],
        env={
            **CLEAN_ENV,
            "DISSENT_INSTANCE": str(live.path),
            "DISSENT_SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
        },
    )

    assert "not the ones in dissent.json" in assert_one_line_error(result)
    assert not (tmp_path / "backup.tar").exists()


def test_a_damaged_instance_file_in_the_archive_is_refused(live, tmp_path):
    archive, bad = tmp_path / "backup.tar", tmp_path / "bad.tar"
    create_backup(_settings(live.path), archive)

    _repack(archive, bad, lambda name, data: b"{not json" if name == "dissent.json" else data)

    _refused(bad, tmp_path, "instance file in the archive is damaged")


def _repack(archive, out, change=lambda name, data: data, manifest_change=lambda m: None):
    """Copy ``archive`` to ``out`` with members changed (None drops one) and backup.json
    rewritten to match them, as a careful forger (or a buggy tool) would."""
    with tarfile.open(archive) as source:
        files = {m.name: source.extractfile(m).read() for m in source}
    manifest = json.loads(files.pop("backup.json"))
    kept = {}
    for name, data in files.items():
        changed = change(name, data)
        if changed is not None:
            kept[name] = changed
    manifest["members"] = {n: hashlib.sha256(d).hexdigest() for n, d in kept.items()}
    manifest["sizes"] = {n: len(d) for n, d in kept.items()}
    manifest_change(manifest)
    with tarfile.open(out, "w") as target:
        for name, data in [("backup.json", json.dumps(manifest).encode()), *kept.items()]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            target.addfile(info, io.BytesIO(data))


def _refused(bad, tmp_path, message):
    with pytest.raises(BackupError, match=message):
        restore_backup(bad, tmp_path / "restored")
    assert not (tmp_path / "restored").exists()
    assert not [p for p in tmp_path.iterdir() if ".restore-" in p.name]


def test_an_archive_without_the_attachment_its_database_names_is_refused(live, tmp_path):
    archive, bad = tmp_path / "backup.tar", tmp_path / "bad.tar"
    create_backup(_settings(live.path), archive)

    _repack(archive, bad, lambda name, data: None if name.startswith("blobs/") else data)

    _refused(bad, tmp_path, "1 file\\(s\\) named but not in the archive")


def test_an_archive_whose_database_has_dangling_rows_is_refused(live, tmp_path):
    archive, bad = tmp_path / "backup.tar", tmp_path / "bad.tar"
    create_backup(_settings(live.path), archive)

    def drop_the_mission(name, data):
        if name != "dissent.sqlite3":
            return data
        path = tmp_path / "edit.sqlite3"
        path.write_bytes(data)
        connection = sqlite3.connect(path)
        connection.execute("PRAGMA foreign_keys=OFF")
        connection.execute("DELETE FROM mission")
        connection.commit()
        connection.close()
        return path.read_bytes()

    _repack(archive, bad, drop_the_mission)

    _refused(bad, tmp_path, "refer to rows it does not hold")


def test_a_member_larger_than_backup_json_says_is_refused_before_it_is_written(live, tmp_path):
    archive, bad = tmp_path / "backup.tar", tmp_path / "bad.tar"
    create_backup(_settings(live.path), archive)

    def understate(manifest):
        for name in manifest["sizes"]:
            if name.startswith("blobs/"):
                manifest["sizes"][name] = 10

    _repack(archive, bad, manifest_change=understate)

    _refused(bad, tmp_path, "not the size backup.json says")


def test_a_restore_that_would_not_fit_says_so_and_writes_nothing(live, tmp_path, monkeypatch):
    archive = tmp_path / "backup.tar"
    create_backup(_settings(live.path), archive)
    monkeypatch.setattr(
        "dissent.services.backup.shutil.disk_usage",
        lambda _path: SimpleNamespace(total=4096, used=0, free=4096),
    )

    _refused(archive, tmp_path, "needs .* MiB and .* has 0 MiB free")


def test_an_archive_without_sizes_still_restores(live, tmp_path):
    """Archives written before sizes were recorded stay usable."""
    archive, older = tmp_path / "backup.tar", tmp_path / "older.tar"
    create_backup(_settings(live.path), archive)
    _repack(archive, older, manifest_change=lambda manifest: manifest.pop("sizes"))

    summary = restore_backup(older, tmp_path / "restored")

    assert summary.attachments == 1
    assert (tmp_path / "restored" / "dissent.sqlite3").is_file()


def test_an_attachment_file_replaced_during_the_backup_still_restores(live, tmp_path, monkeypatch):
    """An access grant renames a new attachment file over the old one while the server
    runs; a backup taken at that moment must still describe exactly what it archived."""
    from dissent.services import backup

    blob = next((live.path / "blobs").iterdir())
    real_read = backup._Hashing.read
    replaced = []

    def read_then_replace(self, size=-1):
        data = real_read(self, size)
        if not replaced and self._handle.name == str(blob):
            replacement = blob.with_name(".replacement")
            replacement.write_bytes(blob.read_bytes() + b"a longer header")
            os.replace(replacement, blob)
            replaced.append(blob)
        return data

    monkeypatch.setattr(backup._Hashing, "read", read_then_replace)
    archive = tmp_path / "backup.tar"
    create_backup(_settings(live.path), archive)

    assert replaced
    summary = restore_backup(archive, tmp_path / "restored")
    assert summary.attachments == 1
