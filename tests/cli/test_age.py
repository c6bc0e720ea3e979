"""``dissent age``: keygen, encrypt and decrypt as a person at a terminal uses them."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dissent.cli import cli
from dissent.crypto import parse_identity_file
from tests.helpers.testkit import Vector, load_vectors

CHUNK = 64 * 1024
PASSPHRASE = "correct horse battery staple"
AGE_HEADER = b"age-encryption.org/v1\n"
ARMOR_HEADER = b"-----BEGIN AGE ENCRYPTED FILE-----"
DISSENT = Path(sys.executable).parent / "dissent"
VECTORS = load_vectors()


def age(*args: str | Path, input: bytes | None = None, passphrase: str | None = None) -> Result:
    """Run ``dissent age ARGS`` in-process, with ``DISSENT_PASSPHRASE`` set only if given."""
    return CliRunner().invoke(
        cli,
        ["age", *(str(a) for a in args)],
        input=input,
        env={"DISSENT_PASSPHRASE": passphrase},
    )


def assert_succeeded(result: Result) -> None:
    assert result.exit_code == 0, (result.stderr, result.exception)


def assert_one_line_error(result: Result) -> str:
    """Check the command failed the way a person should see it fail; return the message."""
    assert result.exit_code != 0
    # Anything but SystemExit means an exception escaped: a traceback in a real terminal.
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def keygen(path: Path, *flags: str) -> str:
    """Write a new identity file to ``path`` and return its public key."""
    assert_succeeded(age("keygen", *flags, "-o", path))
    return parse_identity_file(path.read_text())[0].recipient.encode()


@pytest.fixture
def key(tmp_path) -> tuple[Path, str]:
    path = tmp_path / "key.txt"
    return path, keygen(path)


# --- keygen ------------------------------------------------------------------------------------


def test_keygen_writes_an_owner_only_identity_file_and_shows_its_public_key(tmp_path):
    path = tmp_path / "key.txt"

    result = age("keygen", "-o", path)

    assert_succeeded(result)
    created, public, secret = path.read_text().splitlines()
    assert re.fullmatch(r"# created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created)
    assert re.fullmatch(r"# public key: age1[02-9ac-hj-np-z]{58}", public)
    assert re.fullmatch(r"AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}", secret)
    recipient = public.removeprefix("# public key: ")
    assert parse_identity_file(secret)[0].recipient.encode() == recipient
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert recipient in result.stderr
    assert result.stdout == ""


def test_keygen_without_output_prints_a_fresh_identity_each_time():
    first, second = age("keygen"), age("keygen")

    assert_succeeded(first)
    assert_succeeded(second)
    assert len(first.stdout.splitlines()) == 3
    assert first.stdout.splitlines()[2].startswith("AGE-SECRET-KEY-1")
    assert first.stdout != second.stdout


def test_keygen_pq_writes_a_post_quantum_identity(tmp_path):
    path = tmp_path / "pq.txt"

    recipient = keygen(path, "--pq")

    created, public, secret = path.read_text().splitlines()
    assert created.startswith("# created: ")
    assert public == f"# public key: {recipient}"
    assert recipient.startswith("age1pq1")
    assert secret.startswith("AGE-SECRET-KEY-PQ-1")


def test_keygen_refuses_to_overwrite_an_existing_file(tmp_path):
    path = tmp_path / "key.txt"
    path.write_text("an identity someone needs\n")

    message = assert_one_line_error(age("keygen", "-o", path))

    assert "already exists" in message
    assert path.read_text() == "an identity someone needs\n"


# --- round trips -----------------------------------------------------------------------------


def test_encrypt_and_decrypt_files(tmp_path, key):
    path, recipient = key
    data = os.urandom(2 * CHUNK + 10)
    (tmp_path / "report.txt").write_bytes(data)

    assert_succeeded(
        age("encrypt", "-r", recipient, "-o", tmp_path / "r.age", tmp_path / "report.txt")
    )
    sealed = (tmp_path / "r.age").read_bytes()
    assert sealed.startswith(AGE_HEADER)
    assert data[:64] not in sealed
    assert_succeeded(age("decrypt", "-i", path, "-o", tmp_path / "out.txt", tmp_path / "r.age"))

    assert (tmp_path / "out.txt").read_bytes() == data


def test_dissent_decrypt_is_the_contract_name_of_age_decrypt(tmp_path, key):
    """The command-line contract (docs/architecture.md) names `dissent decrypt`
    (offline, with an identity file)."""
    path, recipient = key
    sealed = age("encrypt", "-r", recipient, input=b"the original table")

    opened = CliRunner().invoke(cli, ["decrypt", "-i", str(path)], input=sealed.stdout_bytes)

    assert_succeeded(opened)
    assert opened.stdout_bytes == b"the original table"


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_encrypt_and_decrypt_through_stdin_and_stdout(key, armor):
    path, recipient = key
    data = os.urandom(CHUNK + 3)

    sealed = age("encrypt", "-r", recipient, *(["-a"] if armor else []), input=data)
    assert_succeeded(sealed)
    assert sealed.stdout_bytes.startswith(ARMOR_HEADER if armor else AGE_HEADER)
    opened = age("decrypt", "-i", path, input=sealed.stdout_bytes)

    assert_succeeded(opened)
    assert opened.stdout_bytes == data


def test_every_recipient_can_decrypt(tmp_path):
    keys = [tmp_path / f"key{n}.txt" for n in range(3)]
    recipients = [keygen(k) for k in keys]
    flags = [arg for r in recipients for arg in ("-r", r)]

    sealed = age("encrypt", *flags, input=b"to all three advisers")
    assert_succeeded(sealed)

    for k in keys:
        opened = age("decrypt", "-i", k, input=sealed.stdout_bytes)
        assert_succeeded(opened)
        assert opened.stdout_bytes == b"to all three advisers"


@pytest.fixture(scope="module")
def passphrase_file() -> bytes:
    """A file encrypted with ``-p`` (one scrypt run, shared: it takes about a second)."""
    result = age("encrypt", "-p", "-a", input=b"for your eyes only", passphrase=PASSPHRASE)
    assert_succeeded(result)
    return result.stdout_bytes


def test_passphrase_round_trip(passphrase_file):
    opened = age("decrypt", input=passphrase_file, passphrase=PASSPHRASE)

    assert_succeeded(opened)
    assert opened.stdout_bytes == b"for your eyes only"


def test_wrong_passphrase_is_an_error(passphrase_file):
    result = age("decrypt", input=passphrase_file, passphrase="incorrect horse")

    assert_one_line_error(result)
    assert result.stdout_bytes == b""


def test_identity_on_a_passphrase_file_is_an_error(passphrase_file, key):
    path, _ = key

    assert_one_line_error(age("decrypt", "-i", path, input=passphrase_file))


# --- failures: one line, non-zero, no plaintext ----------------------------------------------


def test_wrong_identity_is_a_one_line_error(tmp_path, key):
    _, recipient = key
    other = tmp_path / "other.txt"
    keygen(other)
    sealed = age("encrypt", "-r", recipient, input=b"not for other")

    result = age("decrypt", "-i", other, input=sealed.stdout_bytes)

    assert_one_line_error(result)
    assert result.stdout_bytes == b""


def test_wrong_identity_in_a_real_process_prints_no_traceback(tmp_path, key):
    _, recipient = key
    other = tmp_path / "other.txt"
    keygen(other)
    sealed = tmp_path / "f.age"
    assert_succeeded(age("encrypt", "-r", recipient, "-o", sealed, input=b"not for other"))

    result = subprocess.run(
        [str(DISSENT), "age", "decrypt", "-i", str(other), str(sealed)],
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert result.stdout == b""
    assert b"Traceback" not in result.stderr
    assert result.stderr.decode().splitlines()[0].startswith("error: ")
    assert len(result.stderr.splitlines()) == 1


def test_tampered_file_leaves_no_plaintext_behind(tmp_path, key):
    path, recipient = key
    sealed = age("encrypt", "-r", recipient, input=os.urandom(2 * CHUNK + 500))
    assert_succeeded(sealed)
    tampered = bytearray(sealed.stdout_bytes)
    tampered[-100] ^= 0x01  # inside the third and last chunk
    (tmp_path / "in.age").write_bytes(tampered)
    out = tmp_path / "out.txt"

    result = age("decrypt", "-i", path, "-o", out, tmp_path / "in.age")

    assert_one_line_error(result)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.age", "key.txt"]


def test_tampered_file_leaves_an_existing_output_untouched(tmp_path, key):
    path, recipient = key
    sealed = age("encrypt", "-r", recipient, input=os.urandom(2 * CHUNK + 500))
    tampered = bytearray(sealed.stdout_bytes)
    tampered[-100] ^= 0x01
    (tmp_path / "in.age").write_bytes(tampered)
    out = tmp_path / "out.txt"
    out.write_bytes(b"yesterday's report")

    assert_one_line_error(age("decrypt", "-i", path, "-o", out, tmp_path / "in.age"))

    assert out.read_bytes() == b"yesterday's report"


@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
def test_missing_input_file_is_an_error(tmp_path, key, command):
    path, recipient = key
    flags = ["-r", recipient] if command == "encrypt" else ["-i", path]

    message = assert_one_line_error(age(command, *flags, tmp_path / "nope.txt"))

    assert "nope.txt" in message


def test_recipient_with_a_typo_is_an_error(key):
    _, recipient = key
    typo = recipient[:-5] + ("q" if recipient[-5] != "q" else "p") + recipient[-4:]

    result = age("encrypt", "-r", typo, input=b"x")

    assert "not a valid age recipient" in assert_one_line_error(result)
    assert result.stdout_bytes == b""


def test_mixing_post_quantum_and_x25519_recipients_is_refused(tmp_path, key):
    _, recipient = key
    pq_recipient = keygen(tmp_path / "pq.txt", "--pq")
    (tmp_path / "in.txt").write_bytes(b"x")
    out = tmp_path / "out.age"

    result = age("encrypt", "-r", recipient, "-r", pq_recipient, "-o", out, tmp_path / "in.txt")

    assert "mix" in assert_one_line_error(result)
    assert not out.exists()


def test_failed_encrypt_leaves_an_existing_output_untouched(tmp_path, key):
    _, recipient = key
    pq_recipient = keygen(tmp_path / "pq.txt", "--pq")
    (tmp_path / "in.txt").write_bytes(b"x")
    out = tmp_path / "report.age"
    out.write_bytes(b"last week's ciphertext")

    assert_one_line_error(
        age("encrypt", "-r", recipient, "-r", pq_recipient, "-o", out, tmp_path / "in.txt")
    )

    assert out.exists(), "the failed command deleted the existing OUT"
    assert out.read_bytes() == b"last week's ciphertext"


def test_secret_key_given_as_recipient_is_not_echoed(key):
    path, _ = key
    secret = path.read_text().splitlines()[2]

    message = assert_one_line_error(age("encrypt", "-r", secret, input=b"x"))

    assert secret.removeprefix("AGE-SECRET-KEY-1")[:4] not in message


@pytest.mark.parametrize(
    ("flags", "passphrase"),
    [([], PASSPHRASE), (["-p", "-r", "RECIPIENT"], PASSPHRASE)],
    ids=["neither", "both"],
)
def test_encrypt_needs_exactly_one_of_passphrase_or_recipients(key, flags, passphrase):
    _, recipient = key
    flags = [recipient if f == "RECIPIENT" else f for f in flags]

    result = age("encrypt", *flags, input=b"x", passphrase=passphrase)

    assert_one_line_error(result)
    assert result.stdout_bytes == b""


@pytest.mark.parametrize(
    "content",
    [b"hello, I am not a key\n", b"", b"\xff\xfe\x00binary", b"# public key: age1only\n"],
    ids=["text", "empty", "binary", "comments-only"],
)
def test_non_identity_file_is_an_error(tmp_path, key, content):
    _, recipient = key
    sealed = age("encrypt", "-r", recipient, input=b"x")
    (tmp_path / "not-a-key").write_bytes(content)

    result = age("decrypt", "-i", tmp_path / "not-a-key", input=sealed.stdout_bytes)

    assert "not-a-key" in assert_one_line_error(result)


def test_missing_identity_file_is_an_error(tmp_path):
    assert "nope.txt" in assert_one_line_error(
        age("decrypt", "-i", tmp_path / "nope.txt", input=b"")
    )


def test_empty_passphrase_variable_is_an_error_for_encrypt():
    result = age("encrypt", "-p", input=b"x", passphrase="")

    assert "DISSENT_PASSPHRASE" in assert_one_line_error(result)
    assert result.stdout_bytes == b""


def test_empty_passphrase_variable_is_an_error_for_decrypt(passphrase_file):
    result = age("decrypt", input=passphrase_file, passphrase="")

    assert "DISSENT_PASSPHRASE" in assert_one_line_error(result)


# --- the official test vectors, through the command line ------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_official_vector(tmp_path, vector: Vector):
    flags: list[str | Path] = []
    if vector.identities:
        identities = tmp_path / "identities.txt"
        identities.write_text("".join(f"{i}\n" for i in vector.identities))
        flags = ["-i", identities]
    # Vectors without identities are passphrase files (or fail before any key is needed);
    # setting the variable keeps the command from ever prompting on a terminal.
    passphrase = vector.passphrases[0] if vector.passphrases else "unused"

    result = age("decrypt", *flags, input=vector.body, passphrase=passphrase)

    if vector.expect == "success":
        assert_succeeded(result)
        assert hashlib.sha256(result.stdout_bytes).hexdigest() == vector.payload_sha256
    else:
        assert_one_line_error(result)
