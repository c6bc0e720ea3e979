"""dissent export: the command's own errors, in one line."""

from __future__ import annotations

import pytest

from tests.helpers.cli import assert_one_line_error, run


@pytest.mark.sqlite_only
def test_the_command_names_an_unknown_reference_in_one_line(tmp_path):
    instance = tmp_path / "inst"
    assert run("init", "--instance", str(instance)).exit_code == 0

    result = run("export", "NOPE-NOPE", "-o", str(tmp_path / "out"), instance=instance)

    assert "no observation 'NOPE-NOPE'" in assert_one_line_error(result)
    assert not (tmp_path / "out").exists()
