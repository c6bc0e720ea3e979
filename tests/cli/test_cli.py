"""The `dissent` entry point: commands listed before `init`, and every failure in one line."""

from __future__ import annotations

import re
import sys

import click
import pytest

from dissent.cli import cli, main
from dissent.cli.age import age
from tests.helpers.cli import CLEAN_ENV, assert_one_line_error, run
from tests.helpers.instances import init_instance

# These commands make their own SQLite instances whatever the test database is, so the
# PostgreSQL run would only repeat them.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def instance(tmp_path):
    """An initialised instance folder with one mission."""
    return init_instance(tmp_path / "inst")


def run_main(monkeypatch, capsys, *args: str, instance=None) -> tuple[int | str | None, str]:
    """Run the installed entry point with ``args``; return its exit code and stderr."""
    for name, value in CLEAN_ENV.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
    if instance is not None:
        monkeypatch.setenv("DISSENT_INSTANCE", str(instance))
    monkeypatch.setattr(sys, "argv", ["dissent", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return exit_.value.code, capsys.readouterr().err


# --- before anything is set up ----------------------------------------------------------------


def test_help_on_a_fresh_machine_lists_the_commands_without_a_traceback(tmp_path):
    """`dissent --help` is the first thing an operator types, before `dissent init`."""
    result = run("--help", instance=tmp_path / "nothing-here")

    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "Error" not in result.stderr
    for command in ("init", "demo", "serve", "mission", "user", "audit", "report"):
        assert re.search(rf"^  {command}\b", result.stdout, re.M), command


def test_an_unknown_command_on_a_fresh_machine_is_a_usage_error(tmp_path):
    result = run("frobnicate", instance=tmp_path / "nothing-here")

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "No such command 'frobnicate'" in result.output


def test_a_command_that_needs_the_instance_says_to_run_init(tmp_path):
    result = run("mission", "add", "eupol", "EUPOL", instance=tmp_path / "nothing-here")

    assert "dissent init" in assert_one_line_error(result)


def test_a_damaged_instance_file_is_named_in_one_line(tmp_path):
    folder = tmp_path / "inst"
    folder.mkdir()
    (folder / "dissent.json").write_text("{not json")

    message = assert_one_line_error(run("mission", "add", "eupol", "EUPOL", instance=folder))

    assert "dissent.json" in message
    assert "Traceback" not in message


def test_decrypt_is_the_age_decrypt_command_under_its_documented_name():
    context = click.Context(cli)

    assert cli.get_command(context, "decrypt") is age.get_command(context, "decrypt")


# --- the installed entry point ----------------------------------------------------------------


def test_user_add_bad_role_is_a_one_line_error(instance, monkeypatch, capsys):
    """Through the installed entry point, which turns usage errors into one line too."""
    code, stderr = run_main(
        monkeypatch,
        capsys,
        "user",
        "add",
        "anna",
        "--role",
        "king",
        "--mission",
        "eupol",
        instance=instance,
    )

    assert code not in (0, None)
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    assert "'king' is not one of 'adviser', 'leadership', 'admin'" in lines[0]


def test_an_unknown_command_through_the_entry_point_exits_2_in_one_line(
    tmp_path, monkeypatch, capsys
):
    code, stderr = run_main(monkeypatch, capsys, "frobnicate", instance=tmp_path / "nothing")

    assert code == 2
    assert stderr == "error: No such command 'frobnicate'.\n"


def test_an_aborted_command_is_one_error_line_and_exit_1(monkeypatch, capsys):
    def aborted(**_kwargs):
        raise click.exceptions.Abort

    monkeypatch.setattr(cli, "main", aborted)

    code, stderr = run_main(monkeypatch, capsys, "purge")

    assert code == 1
    assert stderr == "error: aborted\n"


def test_a_missing_instance_through_the_entry_point_is_one_line_naming_init(
    tmp_path, monkeypatch, capsys
):
    code, stderr = run_main(
        monkeypatch,
        capsys,
        "report",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-31",
        instance=tmp_path / "nothing-here",
    )

    assert code == 1
    assert len(stderr.splitlines()) == 1
    assert stderr.startswith("error: ") and "dissent init" in stderr
