"""``dissent backup`` / ``dissent restore``: a restored instance is the same instance."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from dissent.cli import cli
from dissent.services.backup import create_backup
from tests.helpers.backups import (
    NEEDS_POSTGRES,
    WHAT,
    copy_live,
    inbox_of,
    ledger_of,
    make_live,
    settings_of,
    tables_in,
)
from tests.helpers.cli import CLEAN_ENV, assert_one_line_error, run
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


@pytest.mark.sqlite_only
def test_a_restored_instance_lets_the_source_back_in_with_everything(live, tmp_path):
    archive = tmp_path / "backup.tar"

    made = run("backup", "-o", str(archive), instance=live.path)
    restored = run("restore", str(archive), "--instance", str(tmp_path / "restored"))

    assert made.exit_code == 0, made.output
    assert "1 observation and 1 attachment file" in made.output
    assert restored.exit_code == 0, restored.output
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    inbox = inbox_of(tmp_path / "restored", live.codename)
    assert WHAT.encode() in inbox
    assert b"roster.bin" in inbox  # the attachment's encrypted name opens


@pytest.mark.sqlite_only
def test_the_backup_is_audited_and_the_archive_is_not_overwritten(live, tmp_path):
    archive = tmp_path / "backup.tar"
    archive.write_bytes(b"an older backup")

    refused = run("backup", "-o", str(archive), instance=live.path)

    assert "exists already" in assert_one_line_error(refused)
    assert archive.read_bytes() == b"an older backup"
    archive.unlink()
    assert run("backup", "-o", str(archive), instance=live.path).exit_code == 0
    actions, _ = ledger_of(live.path)
    assert actions[-1] == "backup"


@pytest.mark.sqlite_only
def test_restore_refuses_a_folder_that_is_not_empty(live, tmp_path):
    archive = tmp_path / "backup.tar"
    create_backup(settings_of(live.path), archive)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")

    result = run("restore", str(archive), "--instance", str(target))

    assert "not an empty folder" in assert_one_line_error(result)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


@pytest.mark.sqlite_only
def test_relative_paths_work_from_the_folder_the_operator_is_in(live, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    made = run("backup", "-o", "backup.tar", instance=live.path)
    restored = run("restore", "backup.tar", "--instance", "restored")

    assert made.exit_code == 0, made.output
    assert restored.exit_code == 0, restored.output
    assert (tmp_path / "restored" / "dissent.sqlite3").is_file()


@pytest.mark.sqlite_only
def test_secrets_set_in_the_environment_are_refused_not_silently_left_out(live, tmp_path):
    """A restore of dissent.json with other secrets than those in use would lock every
    source out; the backup says so instead of writing such an archive."""
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


@pytest.mark.sqlite_only
def test_an_empty_instance_backs_up_and_restore_says_what_to_run_next(tmp_path):
    assert run("init", "--instance", str(tmp_path / "inst")).exit_code == 0
    archive, restored = tmp_path / "backup.tar", tmp_path / "restored"

    made = run("backup", "-o", str(archive), instance=tmp_path / "inst")
    back = run("restore", str(archive), "--instance", str(restored))

    assert made.exit_code == 0, made.output
    assert made.stdout.startswith(f"Backed up 0 observations and 0 attachment files to {archive}")
    assert back.exit_code == 0, back.output
    assert back.stdout.startswith(f"Restored 0 observations and 0 attachment files into {restored}")
    assert f"DISSENT_INSTANCE={restored} dissent db upgrade" in back.stdout


@pytest.mark.sqlite_only
def test_restoring_what_is_not_an_archive_is_one_line_and_nothing_appears(tmp_path):
    archive = tmp_path / "notes.txt"
    archive.write_text("not a tar archive at all")

    result = run("restore", str(archive), "--instance", str(tmp_path / "restored"))

    assert "is not a dissent backup" in assert_one_line_error(result)
    assert not (tmp_path / "restored").exists()


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_live(tmp_path_factory):
    """An instance in a PostgreSQL database of its own, with one observation and attachment."""
    with postgres_database() as url:
        yield make_live(tmp_path_factory.mktemp("pg") / "live", database_url=url)


@pytest.fixture
def new_database():
    """The URL of a new, empty PostgreSQL database."""
    with postgres_database() as url:
        yield url


@NEEDS_POSTGRES
def test_a_postgresql_instance_restored_into_a_new_database_is_the_same_instance(
    pg_live, new_database, tmp_path
):
    archive, restored = tmp_path / "backup.tar", tmp_path / "restored"
    before, _ = ledger_of(pg_live.path)

    made = run("backup", "-o", str(archive), instance=pg_live.path)
    back = run("restore", str(archive), "--instance", str(restored), "--database-url", new_database)

    assert made.exit_code == 0, made.output
    assert "Backed up 1 observation and 1 attachment file" in made.output
    assert ledger_of(pg_live.path)[0] == [*before, "backup"]
    assert back.exit_code == 0, back.output
    assert "Restored 1 observation and 1 attachment file" in back.stdout
    assert json.loads((restored / "dissent.json").read_text())["database_url"] == new_database
    inbox = inbox_of(restored, pg_live.codename)
    assert WHAT.encode() in inbox
    assert b"roster.bin" in inbox  # the attachment's file came back and opens
    verified = run("audit", "verify", instance=restored)
    assert verified.exit_code == 0, verified.output
    # The ledger as it was dumped (the backup's own entry follows the dump), then this.
    assert ledger_of(restored)[0] == [*before, "restore"]


@NEEDS_POSTGRES
def test_restoring_a_postgresql_backup_needs_a_database_url(pg_live, tmp_path):
    archive = tmp_path / "backup.tar"
    create_backup(settings_of(pg_live.path), archive)

    result = run("restore", str(archive), "--instance", str(tmp_path / "restored"))

    assert "--database-url postgresql+psycopg://" in assert_one_line_error(result)
    assert not (tmp_path / "restored").exists()


@NEEDS_POSTGRES
def test_restoring_into_a_database_in_use_is_refused(pg_live, new_database, tmp_path):
    archive = tmp_path / "backup.tar"
    create_backup(settings_of(pg_live.path), archive)
    engine = create_engine(new_database)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE keep (id integer)"))
    engine.dispose()

    result = run(
        "restore",
        str(archive),
        "--instance",
        str(tmp_path / "restored"),
        "--database-url",
        new_database,
    )

    assert "is not empty" in assert_one_line_error(result)
    assert tables_in(new_database) == ["keep"]
    assert not (tmp_path / "restored").exists()
