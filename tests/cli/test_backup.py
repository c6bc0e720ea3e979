"""``dissent backup`` / ``dissent restore``: a restored instance is the same instance."""

from __future__ import annotations

import base64
import os
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dissent.cli import cli
from dissent.extensions import db
from dissent.models import AuditEntry
from dissent.services.backup import create_backup
from tests.helpers.backups import WHAT, copy_live, make_live, serve, settings_of
from tests.helpers.cli import CLEAN_ENV, assert_one_line_error, run
from tests.helpers.pages import BASE_URL, csrf_from

# Backups copy SQLite files; a PostgreSQL instance is refused (tested by settings).
pytestmark = pytest.mark.sqlite_only


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """The live instance, made once; each test gets its own copy."""
    return make_live(tmp_path_factory.mktemp("pristine") / "live")


@pytest.fixture
def live(pristine, tmp_path):
    """An instance with one observation and one attachment; ``.codename`` reaches it."""
    return copy_live(pristine, tmp_path / "live")


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
        actions = db.session.scalars(select(AuditEntry.action)).all()
    db.engine(app).dispose()
    assert actions[-1] == "backup"


def test_restore_refuses_a_folder_that_is_not_empty(live, tmp_path):
    archive = tmp_path / "backup.tar"
    create_backup(settings_of(live.path), archive)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")

    result = run("restore", str(archive), "--instance", str(target))

    assert "not an empty folder" in assert_one_line_error(result)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


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


def test_restoring_what_is_not_an_archive_is_one_line_and_nothing_appears(tmp_path):
    archive = tmp_path / "notes.txt"
    archive.write_text("not a tar archive at all")

    result = run("restore", str(archive), "--instance", str(tmp_path / "restored"))

    assert "is not a dissent backup" in assert_one_line_error(result)
    assert not (tmp_path / "restored").exists()
