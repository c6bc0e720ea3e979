"""The instance checks behind `dissent doctor` (dissent.services.doctor)."""

from __future__ import annotations

import dataclasses
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from dissent.database import make_engine
from dissent.extensions import db
from dissent.models import AuditEntry
from dissent.services import doctor
from dissent.services.doctor import SchemaStatus
from tests.helpers.blobs import delete_blob, stored_blobs
from tests.helpers.files import random_bytes, source_upload
from tests.helpers.health import (
    HOUR,
    blob_files,
    downgrade,
    instance_file_of,
    orphan_blob,
    part_file,
)
from tests.helpers.source import file_observation

REDIS_URL = os.environ.get("DISSENT_TEST_REDIS_URL", "")


@pytest.fixture
def instance(config, app):
    """The test instance with its instance file written as `dissent init` writes it."""
    return instance_file_of(config)


def examine(app, **kwargs) -> list[doctor.Finding]:
    with app.app_context():
        return doctor.examine(
            db.session, db.engine(app), app.extensions["dissent.settings"], **kwargs
        )


def lines(findings: list[doctor.Finding]) -> str:
    return "\n".join(finding.line for finding in findings)


@pytest.fixture
def uploaded(app, new_client, adviser, mission) -> str:
    """The name of a blob a source uploaded, its record committed."""
    browser = new_client()
    file_observation(browser, what="The fuel ledger does not add up.")
    with app.app_context():
        from dissent.models import Observation

        browser.ref = db.session.scalar(select(Observation.ref))
    before = stored_blobs(app)
    assert source_upload(browser, random_bytes(2000), "annex.bin").status_code == 303
    [name] = stored_blobs(app) - before
    return name


# --- a healthy instance ----------------------------------------------------------------------


def test_a_healthy_instance_has_no_findings(app, instance, uploaded):
    assert examine(app) == []


# --- the blob folder -------------------------------------------------------------------------


def test_orphan_blobs_and_stale_parts_are_found_and_removed_and_nothing_else(
    app, settings, uploaded
):
    orphan = orphan_blob(settings)
    stale = part_file(settings, age_seconds=2 * HOUR)
    fresh = part_file(settings, age_seconds=0)  # an upload arriving right now

    findings = examine(app)

    assert {f.leftover for f in findings} == {orphan, stale}
    assert all(f.check == "blobs" and f.fix == "dissent doctor --fix" for f in findings)
    assert str(orphan) in lines(findings) and str(stale) in lines(findings)

    removed = doctor.remove_leftovers(settings, findings)

    assert removed == findings
    assert blob_files(settings) | stored_blobs(app) == {uploaded, fresh.name}
    assert examine(app) == []


def test_a_blob_published_today_is_not_an_orphan_before_the_day_is_over(app, settings):
    """Published blobs are dated to midnight: one whose record is about to be committed
    must not look an hour old late in the day."""
    blob_path = orphan_blob(settings, days_ago=0)
    midnight = datetime.fromtimestamp(blob_path.stat().st_mtime, UTC)

    assert examine(app, now=midnight + timedelta(hours=23)) == []
    [finding] = examine(app, now=midnight + timedelta(days=1, hours=2))
    assert finding.leftover == blob_path


def test_a_record_whose_file_is_gone_is_named_and_not_fixed_by_removing(app, settings, uploaded):
    delete_blob(app, uploaded)

    [finding] = examine(app)

    assert finding.check == "blobs"
    assert "missing" in finding.problem
    assert "backup" in finding.fix
    assert finding.leftover is None
    assert doctor.remove_leftovers(settings, [finding]) == []


def test_a_file_that_is_not_dissents_is_named_and_left_alone(app, settings):
    stray = settings.instance_path / "blobs" / "notes.txt"
    stray.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    stray.write_text("an operator's notes")
    two_hours_ago = time.time() - 2 * HOUR
    os.utime(stray, (two_hours_ago, two_hours_ago))

    [finding] = examine(app)

    assert str(stray) in finding.problem
    assert finding.fix == f"move it out of {stray.parent}"
    assert doctor.remove_leftovers(settings, [finding]) == []
    assert stray.exists()


# --- the instance file -----------------------------------------------------------------------


def test_a_secrets_file_open_to_others_is_named_with_the_chmod_that_fixes_it(
    app, settings, instance
):
    instance.chmod(0o644)

    [finding] = doctor.check_secrets_file(settings)

    assert finding.check == "secrets"
    assert "0644" in finding.problem
    assert finding.fix == f"chmod 600 {instance}"
    instance.chmod(0o600)
    assert doctor.check_secrets_file(settings) == []


def test_secrets_from_the_environment_need_no_file(settings):
    assert not (settings.instance_path / "dissent.json").exists()

    assert doctor.check_secrets_file(settings) == []


# --- the database ----------------------------------------------------------------------------


def test_a_schema_behind_is_named_with_the_upgrade_command(app):
    downgrade(db.engine(app), "-1")

    schema = doctor.schema_of(db.engine(app))
    findings = examine(app)

    assert schema.status is SchemaStatus.BEHIND
    assert [f.check for f in findings] == ["schema"]
    assert findings[0].fix == "dissent db upgrade"
    assert ", ".join(schema.current) in findings[0].problem


def test_a_database_without_schema_is_named_with_the_upgrade_command(app, settings):
    downgrade(db.engine(app), "base")
    stale = part_file(settings, age_seconds=2 * HOUR)

    findings = examine(app)

    assert doctor.schema_of(db.engine(app)).status is SchemaStatus.EMPTY
    assert [f.check for f in findings] == ["schema", "blobs"]
    assert findings[0].problem == "the database has no schema yet"
    assert findings[0].fix == "dissent db upgrade"
    # What needs no database is still found.
    assert findings[1].leftover == stale


def test_a_schema_from_a_newer_release_is_named(app):
    with db.engine(app).begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    [finding] = examine(app)

    assert doctor.schema_of(db.engine(app)).status is SchemaStatus.UNKNOWN
    assert "9999" in finding.problem
    assert finding.fix != "dissent db upgrade"  # it would not help


def test_an_unreachable_database_file_is_named(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite3'}")

    [finding] = doctor.check_database(engine)

    assert finding.check == "database"
    assert "cannot reach the database" in finding.problem
    assert "DATABASE_URL" in finding.fix


def test_an_unreachable_database_server_is_named_without_its_password():
    engine = make_engine("postgresql+psycopg://dissent:hunter2-secret@127.0.0.1:1/dissent")
    try:
        [finding] = doctor.check_database(engine)
        assert doctor.check_schema(engine)[0].check == "database"
    finally:
        engine.dispose()

    assert "127.0.0.1:1" in finding.problem
    assert "hunter2-secret" not in finding.line


def test_the_checks_after_the_database_wait_for_it(app, settings):
    unreachable = create_engine("sqlite:////nonexistent/folder/db.sqlite3")
    stale = part_file(settings, age_seconds=2 * HOUR)

    with app.app_context():
        findings = doctor.examine(db.session, unreachable, settings)

    assert [f.check for f in findings] == ["database", "blobs"]
    assert findings[1].leftover == stale


# --- Redis -----------------------------------------------------------------------------------


def test_unreachable_redis_is_named_without_its_password(settings):
    configured = dataclasses.replace(settings, redis_url="redis://:hunter2-secret@127.0.0.1:1/0")

    [finding] = doctor.check_redis(configured)

    assert finding.check == "redis"
    assert "127.0.0.1:1" in finding.problem
    assert "REDIS_URL" in finding.fix
    assert "hunter2-secret" not in finding.line


def test_redis_is_not_checked_when_not_configured(settings):
    assert settings.redis_url is None
    assert doctor.check_redis(settings) == []


@pytest.mark.skipif(not REDIS_URL, reason="DISSENT_TEST_REDIS_URL is not set (CI sets it)")
def test_reachable_redis_is_fine(settings):
    assert doctor.check_redis(dataclasses.replace(settings, redis_url=REDIS_URL)) == []


# --- disk and clock --------------------------------------------------------------------------


def test_too_little_free_disk_space_is_named(settings):
    [finding] = doctor.check_disk(settings, min_free_bytes=1024**6)  # an exbibyte

    assert finding.check == "disk"
    assert "GiB free on the disk of" in finding.problem
    assert doctor.check_disk(settings, min_free_bytes=1) == []


def test_a_clock_behind_the_newest_audit_entry_is_named(app, mission):
    with app.app_context():
        newest = db.session.scalar(select(func.max(AuditEntry.at)))
    assert newest is not None  # creating the mission was audited

    behind = examine(app, now=newest - timedelta(hours=3))
    within_tolerance = examine(app, now=newest - timedelta(minutes=1))

    assert [f.check for f in behind] == ["clock"]
    assert "3 h 0 min behind" in behind[0].problem
    assert "timedatectl" in behind[0].fix
    assert within_tolerance == []
    assert examine(app) == []  # the real clock is where it should be
