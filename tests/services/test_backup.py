"""The backup service: what an archive holds, and every archive a restore must refuse."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import tarfile
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, func, make_url, select, text

from dissent.crypto import KeyKind
from dissent.extensions import db
from dissent.models import Attachment, Observation
from dissent.services import backup
from dissent.services.backup import BackupError, create_backup, restore_backup
from dissent.services.instance import initialise_instance
from tests.helpers.backups import (
    NEEDS_POSTGRES,
    assert_restore_refused,
    copy_live,
    ledger_of,
    make_live,
    repack,
    rewrite,
    serve,
    settings_of,
    tables_in,
)
from tests.helpers.blobs import read_blob
from tests.helpers.stores import postgres_database

# The tests of SQLite instances copy SQLite files (the PostgreSQL run leaves them out);
# those of PostgreSQL instances need the server and its client programs.


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


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
def test_a_missing_attachment_file_stops_the_backup(live, tmp_path):
    blob = next((live.path / "blobs").iterdir())
    blob.unlink()

    with pytest.raises(BackupError, match="missing"):
        create_backup(settings_of(live.path), tmp_path / "backup.tar")

    assert not (tmp_path / "backup.tar").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.sqlite_only
def test_a_postgresql_instance_without_pg_dump_says_what_to_install(live, tmp_path, monkeypatch):
    settings = dataclasses.replace(
        settings_of(live.path), database_url="postgresql+psycopg://db.internal/dissent"
    )
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump anywhere on it

    with pytest.raises(BackupError, match=r"pg_dump is not installed: install postgresql-client"):
        create_backup(settings, tmp_path / "backup.tar")

    assert not (tmp_path / "backup.tar").exists()


@pytest.mark.sqlite_only
def test_a_database_that_is_neither_sqlite_nor_postgresql_is_refused(live, tmp_path):
    settings = dataclasses.replace(
        settings_of(live.path), database_url="mysql://db.internal/dissent"
    )

    with pytest.raises(BackupError, match="cannot back up or restore a mysql database"):
        create_backup(settings, tmp_path / "backup.tar")


@pytest.mark.sqlite_only
def test_an_attachment_name_that_is_not_a_blob_name_stops_the_backup(live, tmp_path):
    settings = settings_of(live.path)
    edit_database(
        live.path / "dissent.sqlite3", "UPDATE attachment SET blob_name = '../dissent.json'"
    )

    with pytest.raises(BackupError, match=r"'\.\./dissent\.json' that is not a blob name"):
        create_backup(settings, tmp_path / "backup.tar")

    assert not (tmp_path / "backup.tar").exists()


@pytest.mark.sqlite_only
def test_a_backup_without_the_instance_file_is_refused(live, tmp_path):
    settings = settings_of(live.path)
    (live.path / "dissent.json").rename(tmp_path / "moved.json")

    with pytest.raises(BackupError, match=r"dissent\.json is missing"):
        create_backup(settings, tmp_path / "backup.tar")

    assert not (tmp_path / "backup.tar").exists()


@pytest.mark.sqlite_only
def test_a_backup_into_a_folder_that_does_not_exist_is_refused(live, tmp_path):
    with pytest.raises(BackupError, match="is not a folder"):
        create_backup(settings_of(live.path), tmp_path / "no-such-folder" / "backup.tar")


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
def test_a_restore_into_an_empty_folder_gives_back_every_file(live, archive, tmp_path):
    target = tmp_path / "restored"
    target.mkdir()

    summary = restore_backup(archive, target)

    assert (summary.path, summary.observations, summary.attachments) == (target, 1, 1)
    assert (target / "dissent.json").read_bytes() == (live.path / "dissent.json").read_bytes()
    blob = next((live.path / "blobs").iterdir())
    assert (target / "blobs" / blob.name).read_bytes() == blob.read_bytes()
    assert {stat.S_IMODE(p.stat().st_mode) for p in target.rglob("*") if p.is_file()} == {0o600}


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
def test_a_restore_into_a_missing_parent_folder_is_refused(archive, tmp_path):
    with pytest.raises(BackupError, match="is not a folder"):
        restore_backup(archive, tmp_path / "nowhere" / "restored")


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
def test_a_damaged_instance_file_in_the_archive_is_refused(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    repack(archive, bad, lambda name, data: b"{not json" if name == "dissent.json" else data)

    assert_restore_refused(bad, tmp_path, "instance file in the archive is damaged")


@pytest.mark.sqlite_only
def test_an_archive_without_the_attachment_its_database_names_is_refused(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    repack(archive, bad, lambda name, data: None if name.startswith("blobs/") else data)

    assert_restore_refused(bad, tmp_path, "1 file\\(s\\) named but not in the archive")


@pytest.mark.sqlite_only
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


@pytest.mark.sqlite_only
def test_an_archive_whose_database_is_at_another_revision_is_refused(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    repack(archive, bad, manifest_change=lambda manifest: manifest.update(revision="0000"))

    assert_restore_refused(bad, tmp_path, "not at the revision backup.json names")


@pytest.mark.sqlite_only
def test_an_archive_naming_a_file_outside_the_instance_layout_is_refused(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    def add_a_stranger(manifest):
        manifest["members"]["notes/readme.txt"] = "0" * 64
        manifest["sizes"]["notes/readme.txt"] = 1

    repack(archive, bad, manifest_change=add_a_stranger)

    assert_restore_refused(bad, tmp_path, "unexpected file: 'notes/readme.txt'")


@pytest.mark.sqlite_only
def test_a_member_larger_than_backup_json_says_is_refused_before_it_is_written(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    def understate(manifest):
        for name in manifest["sizes"]:
            if name.startswith("blobs/"):
                manifest["sizes"][name] = 10

    repack(archive, bad, manifest_change=understate)

    assert_restore_refused(bad, tmp_path, "not the size backup.json says")


@pytest.mark.sqlite_only
def test_a_restore_that_would_not_fit_says_so_and_writes_nothing(archive, tmp_path, monkeypatch):
    monkeypatch.setattr(
        "dissent.services.backup.shutil.disk_usage",
        lambda _path: SimpleNamespace(total=4096, used=0, free=4096),
    )

    assert_restore_refused(archive, tmp_path, "needs .* MiB and .* has 0 MiB free")


@pytest.mark.sqlite_only
def test_an_archive_without_sizes_still_restores(archive, tmp_path):
    """Archives written before sizes were recorded stay usable."""
    older = tmp_path / "older.tar"
    repack(archive, older, manifest_change=lambda manifest: manifest.pop("sizes"))

    summary = restore_backup(older, tmp_path / "restored")

    assert summary.attachments == 1
    assert (tmp_path / "restored" / "dissent.sqlite3").is_file()


@pytest.mark.sqlite_only
def test_a_restore_is_recorded_in_the_restored_ledger_which_still_verifies(live, archive, tmp_path):
    before, _ = ledger_of(live.path)

    restore_backup(archive, tmp_path / "restored")

    actions, verdict = ledger_of(tmp_path / "restored")
    assert actions == [*before, "restore"]
    assert verdict.ok
    assert ledger_of(live.path)[0] == before  # the instance backed up is left alone


@pytest.mark.sqlite_only
def test_an_archive_whose_audit_ledger_was_altered_is_refused(archive, tmp_path):
    bad = tmp_path / "bad.tar"

    def rewrite_history(name, data):
        if name != "dissent.sqlite3":
            return data
        path = tmp_path / "edit.sqlite3"
        path.write_bytes(data)
        edit_database(path, "UPDATE audit_entry SET actor = 'nobody' WHERE seq = 1")
        return path.read_bytes()

    repack(archive, bad, rewrite_history)

    assert_restore_refused(bad, tmp_path, r"audit ledger in the archive does not verify")


@pytest.mark.sqlite_only
def test_an_sqlite_archive_is_not_restored_into_a_postgresql_database(archive, tmp_path):
    with pytest.raises(BackupError, match=r"holds an SQLite database.*leave out --database-url"):
        restore_backup(
            archive,
            tmp_path / "restored",
            database_url="postgresql+psycopg://db.internal/new",
        )

    assert not (tmp_path / "restored").exists()


@pytest.mark.sqlite_only
def test_a_database_url_that_is_not_postgresql_is_refused(archive, tmp_path):
    with pytest.raises(BackupError, match="names the new PostgreSQL database"):
        restore_backup(archive, tmp_path / "restored", database_url="sqlite:///elsewhere.db")


@pytest.mark.sqlite_only
def test_a_postgresql_archive_without_a_database_to_restore_into_says_how_to_name_one(
    archive, tmp_path
):
    postgres = tmp_path / "postgres.tar"
    repack(archive, postgres, rename={"dissent.sqlite3": "dissent.pgdump"})

    assert_restore_refused(postgres, tmp_path, r"PostgreSQL database: .* --database-url")


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_live(tmp_path_factory):
    """An instance in a PostgreSQL database of its own, with one observation and attachment."""
    with postgres_database() as url:
        live = make_live(tmp_path_factory.mktemp("pg") / "live", database_url=url)
        yield live


@pytest.fixture
def pg_archive(pg_live, tmp_path):
    """A backup of ``pg_live``."""
    path = tmp_path / "backup.tar"
    create_backup(settings_of(pg_live.path), path)
    return path


@pytest.fixture
def new_database():
    """The URL of a new, empty PostgreSQL database."""
    with postgres_database() as url:
        yield url


def fake_tool(folder, name: str, script: str) -> None:
    """Put a program ``name`` that runs ``script`` (sh) first on PATH."""
    program = folder / name
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(0o700)


@NEEDS_POSTGRES
def test_a_postgresql_instance_is_backed_up_with_pg_dump_and_every_file_hashed(pg_live, tmp_path):
    path = tmp_path / "backup.tar"

    summary = create_backup(settings_of(pg_live.path), path)

    assert (summary.path, summary.observations, summary.attachments) == (path, 1, 1)
    with tarfile.open(path) as tar:
        modes = {m.mode for m in tar}
        contents = {m.name: tar.extractfile(m).read() for m in tar}
    manifest = json.loads(contents.pop("backup.json"))
    # The attachment's ciphertext is in the database, so in the dump: no blob files.
    assert set(contents) == {"dissent.json", "dissent.pgdump"}
    assert modes == {0o600}
    assert contents["dissent.pgdump"].startswith(b"PGDMP")  # pg_dump's custom format
    assert contents["dissent.json"] == (pg_live.path / "dissent.json").read_bytes()
    assert manifest["members"] == {n: hashlib.sha256(d).hexdigest() for n, d in contents.items()}
    assert manifest["sizes"] == {n: len(d) for n, d in contents.items()}
    assert (manifest["revision"], manifest["observations"]) == (summary.revision, 1)


@NEEDS_POSTGRES
def test_a_postgresql_archive_restores_into_a_new_database_with_everything(
    pg_live, pg_archive, new_database, tmp_path
):
    target = tmp_path / "restored"
    before, _ = ledger_of(pg_live.path)

    summary = restore_backup(pg_archive, target, database_url=new_database)

    assert (summary.path, summary.observations, summary.attachments) == (target, 1, 1)
    values = json.loads((target / "dissent.json").read_text())
    live_values = json.loads((pg_live.path / "dissent.json").read_text())
    assert values["database_url"] == new_database != live_values["database_url"]
    assert {**values, "database_url": None} == {**live_values, "database_url": None}
    assert {stat.S_IMODE(p.stat().st_mode) for p in target.rglob("*") if p.is_file()} == {0o600}
    live = serve(pg_live.path)
    with live.app_context():
        [name] = db.session.scalars(select(Attachment.blob_name)).all()
    original = read_blob(live, name)
    db.engine(live).dispose()
    app = serve(target)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Observation)) == 1
        assert db.session.scalars(select(Attachment.blob_name)).all() == [name]
    assert read_blob(app, name) == original  # the attachment came back with the dump
    db.engine(app).dispose()
    actions, verdict = ledger_of(target)
    assert actions == [*before, "restore"]
    assert verdict.ok
    assert "restore" not in ledger_of(pg_live.path)[0]


@NEEDS_POSTGRES
def test_a_restore_into_a_database_that_is_not_empty_is_refused_and_leaves_it_alone(
    pg_archive, new_database, tmp_path
):
    engine = create_engine(new_database)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE keep (id integer)"))
    engine.dispose()

    with pytest.raises(BackupError, match=r"is not empty \(1 tables, sequences or other objects\)"):
        restore_backup(pg_archive, tmp_path / "restored", database_url=new_database)

    assert tables_in(new_database) == ["keep"]
    assert not (tmp_path / "restored").exists()
    assert not [p for p in tmp_path.iterdir() if ".restore-" in p.name]


@NEEDS_POSTGRES
def test_a_postgresql_archive_refused_after_loading_leaves_the_database_empty_again(
    pg_archive, new_database, tmp_path
):
    bad = tmp_path / "bad.tar"
    repack(pg_archive, bad, manifest_change=lambda manifest: manifest.update(revision="0000"))

    with pytest.raises(BackupError, match=r"not at the revision backup\.json names"):
        restore_backup(bad, tmp_path / "restored", database_url=new_database)

    assert tables_in(new_database) == []
    assert not (tmp_path / "restored").exists()
    summary = restore_backup(pg_archive, tmp_path / "restored", database_url=new_database)
    assert summary.observations == 1  # the same database takes the good archive


@NEEDS_POSTGRES
def test_a_postgresql_archive_is_refused_without_a_database_to_restore_into(pg_archive, tmp_path):
    assert_restore_refused(pg_archive, tmp_path, r"--database-url postgresql\+psycopg://")


@NEEDS_POSTGRES
def test_a_failing_pg_dump_is_named_with_its_exit_code_and_not_its_output(
    pg_live, tmp_path, monkeypatch
):
    tools = tmp_path / "bin"
    tools.mkdir()
    fake_tool(tools, "pg_dump", 'echo "COPY public.observation: row-4242" >&2\nexit 3\n')
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")

    with pytest.raises(BackupError, match="pg_dump failed with exit code 3") as refused:
        create_backup(settings_of(pg_live.path), tmp_path / "backup.tar")

    assert "row-4242" not in str(refused.value)
    assert not (tmp_path / "backup.tar").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@NEEDS_POSTGRES
def test_a_failing_pg_restore_is_named_and_leaves_the_database_empty(
    pg_archive, new_database, tmp_path, monkeypatch
):
    tools = tmp_path / "bin"
    tools.mkdir()
    fake_tool(tools, "pg_restore", "exit 2\n")
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")

    with pytest.raises(BackupError, match="pg_restore failed with exit code 2"):
        restore_backup(pg_archive, tmp_path / "restored", database_url=new_database)

    assert tables_in(new_database) == []
    assert not (tmp_path / "restored").exists()


@NEEDS_POSTGRES
def test_the_database_password_reaches_pg_dump_by_its_environment_not_its_command_line(
    pg_live, tmp_path, monkeypatch
):
    """Every local user can read a command line (ps); the password goes in PGPASSWORD."""
    tools = tmp_path / "bin"
    tools.mkdir()
    seen = tmp_path / "seen"
    fake_tool(
        tools, "pg_dump", f'echo "$@" > {seen}.args\necho "$PGPASSWORD" > {seen}.env\nexit 1\n'
    )
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    settings = settings_of(pg_live.path)
    with_password = make_url(settings.database_url).set(password="pw-kept-off-the-command-line")
    settings = dataclasses.replace(
        settings, database_url=with_password.render_as_string(hide_password=False)
    )

    with pytest.raises(BackupError, match="pg_dump failed") as refused:
        create_backup(settings, tmp_path / "backup.tar")

    arguments = (tmp_path / "seen.args").read_text()
    assert "pw-kept-off-the-command-line" not in arguments
    assert "pw-kept-off-the-command-line" not in str(refused.value)
    assert f"--dbname=postgresql://{with_password.username}@" in arguments  # libpq's scheme
    assert (tmp_path / "seen.env").read_text().strip() == "pw-kept-off-the-command-line"


@NEEDS_POSTGRES
def test_a_dump_that_outlasts_the_idle_transaction_timeout_still_completes(
    pg_live, tmp_path, monkeypatch
):
    """The snapshot's transaction idles while pg_dump runs; a server that ends idle
    transactions after a while (dissent's own connections ask for that) must not end it."""

    def with_short_idle_timeout(url):
        return create_engine(
            url, connect_args={"options": "-c idle_in_transaction_session_timeout=200"}
        )

    monkeypatch.setattr(backup, "make_engine", with_short_idle_timeout)
    tools = tmp_path / "bin"
    tools.mkdir()
    # The idling is the condition under test: five times the server's timeout.
    fake_tool(tools, "pg_dump", f'sleep 1\nexec {shutil.which("pg_dump")} "$@"\n')
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")

    summary = create_backup(settings_of(pg_live.path), tmp_path / "backup.tar")

    assert summary.observations == 1
