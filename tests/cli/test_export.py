"""`dissent export`: what the command prints and writes, and its errors in one line."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dissent.extensions import db
from dissent.models import AuditEntry, Role
from tests.helpers.casework import observation_ref
from tests.helpers.cli import assert_one_line_error, run
from tests.helpers.instances import run_in
from tests.helpers.source import file_observation


@pytest.mark.sqlite_only
def test_the_command_names_an_unknown_reference_in_one_line(tmp_path):
    instance = tmp_path / "inst"
    assert run("init", "--instance", str(instance)).exit_code == 0

    result = run("export", "NOPE-NOPE", "-o", str(tmp_path / "out"), instance=instance)

    assert "no observation 'NOPE-NOPE'" in assert_one_line_error(result)
    assert not (tmp_path / "out").exists()


@pytest.fixture
def ref(app, new_client, mission, make_staff):
    """The reference of one observation a source filed (to a mission with an adviser)."""
    make_staff(Role.ADVISER)
    file_observation(new_client(), what="The fuel ledger was balanced after the audit.")
    return observation_ref(app, mission_id=mission.id)


def test_a_reference_typed_in_lower_case_is_exported_and_counted(app, ref, tmp_path):
    folder = tmp_path / "out"

    result = run_in(app, "export", f"  {ref.lower()} ", "-o", str(folder))

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"Exported {ref}: 1 files and a manifest in {folder}.\n"
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.txt",
        "manifest.json",
        "observation.age",
    ]


def test_an_existing_folder_is_one_error_line_and_left_alone(app, ref, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")

    message = assert_one_line_error(run_in(app, "export", ref, "-o", str(folder)))

    assert "exists already" in message
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]


def test_an_unknown_reference_in_the_test_instance_writes_nothing_and_records_nothing(
    app, ref, tmp_path
):
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEntry))

    result = run_in(app, "export", "ZZZZ-ZZZZ", "-o", str(tmp_path / "out"))

    assert assert_one_line_error(result) == "error: no observation 'ZZZZ-ZZZZ'"
    assert not (tmp_path / "out").exists()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before
