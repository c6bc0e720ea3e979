"""The backup service: what an archive holds, and every archive a restore must refuse."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
import stat
import tarfile
from types import SimpleNamespace

import pytest

from dissent.crypto import KeyKind
from dissent.services import backup
from dissent.services.backup import BackupError, create_backup, restore_backup
from dissent.services.instance import initialise_instance
from tests.helpers.backups import (
    assert_restore_refused,
    copy_live,
    make_live,
    repack,
    rewrite,
    settings_of,
)

# Backups copy SQLite files; a PostgreSQL instance is refused (tested below by settings).
pytestmark = pytest.mark.sqlite_only


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """The live instance, made once; each test gets its own copy."""
    return make_live(tmp_path_factory.mktemp("pristine") / "live")


@pytest.fixture
def live(pristine, tmp_path):
    """An instance with one observation and one attachment; ``.codename`` reaches it."""
    return copy_live(pristine, tmp_path / "live")


@pytest.fixture
def archive(live, tmp_path):
    """A backup of ``live``."""
    path = tmp_path / "backup.tar"
    create_backup(settings_of(live.path), path)
    return path


def edit_database(path, *statements: str) -> None:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA foreign_keys=OFF")
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


# --- backup -----------------------------------------------------------------------------------


def test_the_archive_holds_the_instance_its_database_and_files_each_with_its_hash(live, tmp_path):
    path = tmp_path / "backup.tar"

    summary = create_backup(settings_of(live.path), path)

    assert (summary.path, summary.observations, summary.attachments) == (path, 1, 1)
    blob = next((live.path / "blobs").iterdir())
    with tarfile.open(path) as tar:
        members = {m.name: m for m in tar}
        manifest = json.loads(tar.extractfile("backup.json").read())
        contents = {name: tar.extractfile(name).read() for name in members}
    assert set(members) == {"backup.json", "dissent.json", "dissent.sqlite3", f"blobs/{blob.name}"}
    assert {(m.mode, m.mtime) for m in members.values()} == {(0o600, 0)}
    assert contents["dissent.json"] == (live.path / "dissent.json").read_bytes()
    assert contents[f"blobs/{blob.name}"] == blob.read_bytes()
    assert manifest["members"] == {
        name: hashlib.sha256(data).hexdigest()
        for name, data in contents.items()
        if name != "backup.json"
    }
    assert manifest["sizes"] == {
        name: len(data) for name, data in contents.items() if name != "backup.json"
    }
    assert (manifest["revision"], manifest["observations"]) == (summary.revision, 1)


def test_a_missing_attachment_file_stops_the_backup(live, tmp_path):
    blob = next((live.path / "blobs").iterdir())
    blob.unlink()

    with pytest.raises(BackupError, match="missing"):
        create_backup(settings_of(live.path), tmp_path / "backup.tar")

    assert not (tmp_path / "backup.tar").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_postgresql_instance_is_refused_with_what_to_do_instead(live, tmp_path):
    settings = dataclasses.replace(
        settings_of(live.path), database_url="postgresql+psycopg://db.internal/dissent"
    )

    with pytest.raises(BackupError, match="pg_dump"):
        create_backup(settings, tmp_path / "backup.tar")


def test_an_attachment_name_that_is_not_a_blob_name_stops_the_backup(live, tmp_path):
    settings = settings_of(live.path)
    edit_database(
        live.path / "dissent.sqlite3", "UPDATE attachment SET blob_name = '../dissent.json'"
    )

    with pytest.raises(BackupError, match=r"'\.\./dissent\.json' that is not a blob name"):
        create_backup(settings, tmp_path / "backup.tar")

    assert not (tmp_path / "backup.tar").exists()


def test_a_backup_without_the_instance_file_is_refused(live, tmp_path):
    settings = settings_of(live.path)
    (live.path / "dissent.json").rename(tmp_path / "moved.json")

    with pytest.raises(BackupError, match=r"dissent\.json is missing"):
        create_backup(settings, tmp_path / "backup.tar")

    assert not (tmp_path / "backup.tar").exists()


def test_a_backup_into_a_folder_that_does_not_exist_is_refused(live, tmp_path):
    with pytest.raises(BackupError, match="is not a folder"):
        create_backup(settings_of(live.path), tmp_path / "no-such-folder" / "backup.tar")


def test_an_attachment_file_replaced_during_the_backup_still_restores(live, tmp_path, monkeypatch):
    """An access grant renames a new attachment file over the old one while the server
    runs; a backup taken at that moment must still describe exactly what it archived."""
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
    create_backup(settings_of(live.path), archive)

    assert replaced
    summary = restore_backup(archive, tmp_path / "restored")
    assert summary.attachments == 1


# --- restore ----------------------------------------------------------------------------------


def test_a_restore_into_an_empty_folder_gives_back_every_file(live, archive, tmp_path):
    target = tmp_path / "restored"
    target.mkdir()

    summary = restore_backup(archive, target)

    assert (summary.path, summary.observations, summary.attachments) == (target, 1, 1)
    assert (target / "dissent.json").read_bytes() == (live.path / "dissent.json").read_bytes()
    blob = next((live.path / "blobs").iterdir())
    assert (target / "blobs" / blob.name).read_bytes() == blob.read_bytes()
    assert {stat.S_IMODE(p.stat().st_mode) for p in target.rglob("*") if p.is_file()} == {0o600}


def test_a_restored_instance_uses_its_own_database_not_the_one_it_was_backed_up_from(tmp_path):
    """An instance that named its SQLite file elsewhere gets its copy in the new folder."""
    elsewhere = tmp_path / "elsewhere.sqlite3"
    initialise_instance(
        tmp_path / "inst",
        kind=KeyKind.X25519,
        threshold=2,
        custodians=2,
        database_url=f"sqlite:///{elsewhere}",
    )
    create_backup(settings_of(tmp_path / "inst"), tmp_path / "backup.tar")

    restore_backup(tmp_path / "backup.tar", tmp_path / "restored")

    values = json.loads((tmp_path / "restored" / "dissent.json").read_text())
    assert "database_url" not in values
    assert settings_of(tmp_path / "restored").database_url.endswith("restored/dissent.sqlite3")


def test_a_restore_into_a_missing_parent_folder_is_refused(archive, tmp_path):
    with pytest.raises(BackupError, match="is not a folder"):
        restore_backup(archive, tmp_path / "nowhere" / "restored")


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
        (
            lambda name, data: [] if name == "backup.json" else [(name, data)],
            "has no backup.json",
        ),
        (
            lambda name, data: [(name, b"{" * 10 if name == "backup.json" else data)],
            "backup.json in the archive is damaged",
        ),
    ],
    ids=[
        "flipped-bit",
        "path-outside",
        "file-missing",
        "foreign-format",
        "no-manifest",
        "broken-manifest",
    ],
)
def test_a_damaged_or_foreign_archive_is_refused_and_nothing_appears(
    archive, tmp_path, change, message
):
    bad = tmp_path / "bad.tar"
    rewrite(archive, bad, change)

    with pytest.raises(BackupError, match=message):
        restore_backup(bad, tmp_path / "restored")

    assert not (tmp_path / "restored").exists()
    assert not (tmp_path / "outside.txt").exists()
    assert not [p for p in tmp_path.iterdir() if ".restore-" in p.name]


def test_a_damaged_instance_file_in_the_archive_is_refused(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    repack(archive, bad, lambda name, data: b"{not json" if name == "dissent.json" else data)

    assert_restore_refused(bad, tmp_path, "instance file in the archive is damaged")


def test_an_archive_without_the_attachment_its_database_names_is_refused(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    repack(archive, bad, lambda name, data: None if name.startswith("blobs/") else data)

    assert_restore_refused(bad, tmp_path, "1 file\\(s\\) named but not in the archive")


def test_an_archive_whose_database_has_dangling_rows_is_refused(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    def drop_the_mission(name, data):
        if name != "dissent.sqlite3":
            return data
        path = tmp_path / "edit.sqlite3"
        path.write_bytes(data)
        edit_database(path, "DELETE FROM mission")
        return path.read_bytes()

    repack(archive, bad, drop_the_mission)

    assert_restore_refused(bad, tmp_path, "refer to rows it does not hold")


def test_an_archive_whose_database_is_at_another_revision_is_refused(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    repack(archive, bad, manifest_change=lambda manifest: manifest.update(revision="0000"))

    assert_restore_refused(bad, tmp_path, "not at the revision backup.json names")


def test_an_archive_naming_a_file_outside_the_instance_layout_is_refused(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    def add_a_stranger(manifest):
        manifest["members"]["notes/readme.txt"] = "0" * 64
        manifest["sizes"]["notes/readme.txt"] = 1

    repack(archive, bad, manifest_change=add_a_stranger)

    assert_restore_refused(bad, tmp_path, "unexpected file: 'notes/readme.txt'")


def test_a_member_larger_than_backup_json_says_is_refused_before_it_is_written(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    def understate(manifest):
        for name in manifest["sizes"]:
            if name.startswith("blobs/"):
                manifest["sizes"][name] = 10

    repack(archive, bad, manifest_change=understate)

    assert_restore_refused(bad, tmp_path, "not the size backup.json says")


def test_a_restore_that_would_not_fit_says_so_and_writes_nothing(archive, tmp_path, monkeypatch):
    monkeypatch.setattr(
        "dissent.services.backup.shutil.disk_usage",
        lambda _path: SimpleNamespace(total=4096, used=0, free=4096),
    )

    assert_restore_refused(archive, tmp_path, "needs .* MiB and .* has 0 MiB free")


def test_an_archive_without_sizes_still_restores(archive, tmp_path):
    """Archives written before sizes were recorded stay usable."""
    older = tmp_path / "older.tar"
    repack(archive, older, manifest_change=lambda manifest: manifest.pop("sizes"))

    summary = restore_backup(older, tmp_path / "restored")

    assert summary.attachments == 1
    assert (tmp_path / "restored" / "dissent.sqlite3").is_file()
