"""`dissent doctor`: one line per problem with its fix, exit 1 while one is left, `--fix`."""

from __future__ import annotations

import pytest

from dissent.extensions import db
from tests.helpers.health import (
    HOUR,
    blob_files,
    downgrade,
    instance_file_of,
    orphan_blob,
    part_file,
)
from tests.helpers.instances import run_in


@pytest.fixture
def instance(config, app):
    """The test instance with its instance file written as `dissent init` writes it."""
    return instance_file_of(config)


def test_a_healthy_instance(app, instance, mission):
    result = run_in(app, "doctor")

    assert result.exit_code == 0, result.output
    assert result.output == "no problems found\n"


def test_an_orphan_blob_and_a_stale_part_are_listed_then_removed(app, settings, instance):
    orphan = orphan_blob(settings)
    stale = part_file(settings, age_seconds=2 * HOUR)
    fresh = part_file(settings, age_seconds=0)  # an upload arriving right now

    listed = run_in(app, "doctor")

    assert listed.exit_code == 1
    assert listed.output.splitlines() == [
        f"blobs: {orphan} has no record (left by a crash or an interrupted deletion); "
        "fix: dissent doctor --fix",
        f"blobs: {stale} is left from an upload that did not finish; fix: dissent doctor --fix",
    ]
    assert blob_files(settings) == {orphan.name, stale.name, fresh.name}  # only listed

    fixed = run_in(app, "doctor", "--fix")

    assert fixed.exit_code == 0, fixed.output
    assert f"removed {orphan}" in fixed.output.splitlines()
    assert f"removed {stale}" in fixed.output.splitlines()
    assert fixed.output.endswith("no problems left\n")
    assert blob_files(settings) == {fresh.name}
    assert run_in(app, "doctor").exit_code == 0


def test_a_secrets_file_others_can_read_is_named_with_the_chmod_line(app, instance):
    instance.chmod(0o644)

    result = run_in(app, "doctor", "--fix")  # --fix leaves a mode to the operator

    assert result.exit_code == 1
    assert result.output == (
        f"secrets: {instance} has mode 0644, not 0600: users other than its owner may read or "
        f"change the instance secrets; fix: chmod 600 {instance}\n"
    )


def test_a_schema_behind_is_named_with_the_upgrade_command(app, instance):
    downgrade(db.engine(app), "-1")

    result = run_in(app, "doctor")

    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith("schema: the database schema is at revision ")
    assert line.endswith("; fix: dissent db upgrade")


def test_the_secrets_are_not_printed_when_their_file_is_named(app, config, instance, settings):
    instance.chmod(0o640)
    orphan_blob(settings)

    result = run_in(app, "doctor")

    assert result.exit_code == 1
    for secret in (config["SECRET_KEY"], config["SOURCE_SALT"]):
        assert secret not in result.output
