"""`dissent recovery combine`: custodians' shares give back the recovery identity, or a clear no."""

from __future__ import annotations

import io
import stat
import sys

import pytest
from click.testing import CliRunner

from dissent.cli import cli
from dissent.cli.recovery import combine
from dissent.crypto import KeyKind, parse_identity_file
from dissent.services.instance import create_recovery_key
from tests.helpers.cli import assert_one_line_error


@pytest.fixture(scope="module")
def ceremony():
    """A 2-of-3 recovery key, as `dissent init` prints it."""
    return create_recovery_key(kind=KeyKind.HYBRID, threshold=2, custodians=3)


def combine_with(typed: str, output, *options: str):
    return CliRunner().invoke(
        cli, ["recovery", "combine", "-o", str(output), *options], input=typed
    )


def recipient_in(path) -> str:
    [identity] = parse_identity_file(path.read_text())
    return identity.recipient.encode()


class Keyboard(io.StringIO):
    """Standard input as a custodian at a terminal types it."""

    def isatty(self) -> bool:
        return True


def test_enough_shares_write_the_recovery_identity_owner_only(ceremony, tmp_path):
    output = tmp_path / "recovery.txt"
    expected = ceremony.recipient.encode()

    result = combine_with(
        f"{ceremony.shares[2]}\n{ceremony.shares[0]}\n", output, "--expect", expected
    )

    assert result.exit_code == 0, result.output
    assert recipient_in(output) == expected
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert f"written to {output}" in result.stderr
    assert result.stdout == ""  # nothing secret on standard output


def test_blank_lines_and_lower_case_shares_are_accepted(ceremony, tmp_path):
    output = tmp_path / "recovery.txt"

    result = combine_with(f"\n\n{ceremony.shares[1].lower()}\n  \n{ceremony.shares[0]}\n", output)

    assert result.exit_code == 0, result.output
    assert recipient_in(output) == ceremony.recipient.encode()


def test_shares_of_another_key_do_not_pass_the_expected_recipient(ceremony, tmp_path):
    other = create_recovery_key(kind=KeyKind.HYBRID, threshold=2, custodians=2)
    output = tmp_path / "recovery.txt"

    result = combine_with(
        "\n".join(other.shares) + "\n", output, "--expect", ceremony.recipient.encode()
    )

    assert "do not give the expected recovery recipient" in assert_one_line_error(result)
    assert not output.exists()


def test_an_x25519_key_is_rebuilt_with_its_kind(tmp_path):
    x25519 = create_recovery_key(kind=KeyKind.X25519, threshold=2, custodians=2)
    output = tmp_path / "recovery.txt"

    result = combine_with("\n".join(x25519.shares) + "\n", output, "--key-kind", "x25519")

    assert result.exit_code == 0, result.output
    assert recipient_in(output) == x25519.recipient.encode()


def test_an_existing_output_file_is_left_alone(ceremony, tmp_path):
    output = tmp_path / "recovery.txt"
    output.write_text("an earlier identity")

    result = combine_with("\n".join(ceremony.shares) + "\n", output)

    assert "already exists" in assert_one_line_error(result)
    assert output.read_text() == "an earlier identity"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (lambda shares: shares[0] + "\n", "error: only 1 shares given; 2 needed"),
        (lambda shares: "", "error: only 0 shares given; more needed"),
        (lambda shares: "DISSENT-SHARE1 NOT A SHARE\n", "typo"),
        (lambda shares: f"{shares[0]}\n{shares[0]}\n", "more than once"),
    ],
    ids=["too-few", "none", "mistyped", "same-twice"],
)
def test_what_cannot_give_the_key_is_one_error_line_and_no_file(
    ceremony, tmp_path, typed, expected
):
    output = tmp_path / "recovery.txt"

    result = combine_with(typed(ceremony.shares), output)

    assert expected in assert_one_line_error(result)
    assert not output.exists()


def test_shares_of_two_different_keys_are_refused(ceremony, tmp_path):
    other = create_recovery_key(kind=KeyKind.HYBRID, threshold=2, custodians=2)
    output = tmp_path / "recovery.txt"

    result = combine_with(f"{ceremony.shares[0]}\n{other.shares[1]}\n", output)

    assert "different splits" in assert_one_line_error(result)
    assert not output.exists()


def test_at_a_terminal_a_mistyped_share_is_asked_for_again(ceremony, tmp_path, monkeypatch, capsys):
    output = tmp_path / "recovery.txt"
    mistyped = ceremony.shares[1][:-1] + ("A" if ceremony.shares[1][-1] != "A" else "C")
    monkeypatch.setattr(
        sys, "stdin", Keyboard(f"{ceremony.shares[0]}\n{mistyped}\n{ceremony.shares[1]}\n")
    )

    combine.callback(key_kind=KeyKind.HYBRID.value, expected=None, output=output)

    prompts = capsys.readouterr().err
    assert prompts.count("Share 1: ") == 1
    assert prompts.count("Share 2: ") == 2  # asked again after the typo
    assert "type it again" in prompts
    assert recipient_in(output) == ceremony.recipient.encode()
