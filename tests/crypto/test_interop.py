"""The reference ``age`` binary and dissent open each other's files, keys and passphrases."""

from __future__ import annotations

import fcntl
import os
import random
import select
import shutil
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from dissent.crypto import (
    KeyKind,
    KeyPairIdentity,
    add_recipients,
    decrypt,
    encrypt,
    format_identity_file,
    generate_identity,
    padded_size,
)

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(
        shutil.which("age") is None or shutil.which("age-keygen") is None,
        reason="Debian's age binary is not installed (make system-deps installs it)",
    ),
]

CHUNK = 64 * 1024
# Around every chunk boundary of the STREAM payload, plus an empty and a five-chunk file.
SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5, 5 * CHUNK + 123]
ARMOR_HEADER = b"-----BEGIN AGE ENCRYPTED FILE-----"
PASSPHRASE = "correct horse battery staple"
DISSENT = Path(sys.executable).parent / "dissent"
TIMEOUT = 60


def plaintext(size: int) -> bytes:
    """Return ``size`` reproducible pseudo-random bytes."""
    return random.Random(size).randbytes(size)


def run_age(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the age binary without a terminal."""
    return run_program("age", *args, cwd=cwd)


def run_age_keygen(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    """Run ``age-keygen`` without a terminal."""
    return run_program("age-keygen", *args)


def run_program(
    program: str, *args: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``program`` with no standard input, capturing its output."""
    return subprocess.run(
        [program, *(str(a) for a in args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
        cwd=cwd,
    )


def run_dissent(
    *args: str | Path, passphrase: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed ``dissent`` command line, with ``DISSENT_PASSPHRASE`` if given."""
    env = {k: v for k, v in os.environ.items() if k != "DISSENT_PASSPHRASE"}
    if passphrase is not None:
        env["DISSENT_PASSPHRASE"] = passphrase
    return subprocess.run(
        [str(DISSENT), *(str(a) for a in args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
        env=env,
    )


def run_age_on_terminal(*args: str | Path, passphrase: str) -> subprocess.CompletedProcess[bytes]:
    """Run age with a pseudo-terminal as its controlling terminal, typing ``passphrase``.

    age reads passphrases from /dev/tty only, so the child gets a new session whose
    controlling terminal is the pty; every prompt that mentions a passphrase is answered.
    Give age ``-o``: its standard output is only read once it has exited.
    """
    master, slave = os.openpty()

    def take_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    try:
        proc = subprocess.Popen(
            ["age", *(str(a) for a in args)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=take_terminal,  # noqa: PLW1509 (single-threaded; no other way to a tty)
            pass_fds=(slave,),
        )
    finally:
        os.close(slave)
    screen = b""
    answered = 0
    deadline = time.monotonic() + TIMEOUT
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"age did not finish; terminal showed {screen!r}")
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                screen += os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            while screen.lower().count(b"passphrase") > answered:
                os.write(master, passphrase.encode() + b"\n")
                answered += 1
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(master)
    assert answered, f"age never asked for a passphrase; terminal showed {screen!r}"
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def write_identity(path: Path, identity: KeyPairIdentity) -> Path:
    """Write ``identity`` as an age identity file and return its path."""
    path.write_text(format_identity_file(identity), encoding="ascii")
    return path


def public_key_comment(identity_file: Path) -> str:
    """Return the recipient named by the ``# public key:`` comment of an identity file."""
    for line in identity_file.read_text(encoding="ascii").splitlines():
        if line.startswith("# public key: "):
            return line.removeprefix("# public key: ")
    raise AssertionError(f"{identity_file} has no public key comment")


@pytest.fixture
def identity() -> KeyPairIdentity:
    return generate_identity(KeyKind.X25519)


# --- files of every size, binary and armored -----------------------------------------------


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_age_opens_dissent_files(tmp_path, identity, size, armor):
    data = plaintext(size)
    sealed = encrypt(data, recipients=[identity.recipient], armor=armor)
    assert sealed.startswith(ARMOR_HEADER) is armor
    (tmp_path / "file.age").write_bytes(sealed)
    key = write_identity(tmp_path / "key.txt", identity)

    result = run_age("-d", "-i", key, tmp_path / "file.age")

    assert result.returncode == 0, result.stderr
    assert result.stdout == data


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", SIZES)
def test_dissent_opens_age_files(tmp_path, identity, size, armor):
    data = plaintext(size)
    (tmp_path / "plain").write_bytes(data)
    flags = ["-a"] if armor else []
    out = tmp_path / "file.age"

    made = run_age("-e", *flags, "-r", identity.recipient.encode(), "-o", out, tmp_path / "plain")

    assert made.returncode == 0, made.stderr
    sealed = out.read_bytes()
    assert sealed.startswith(ARMOR_HEADER) is armor
    assert decrypt(sealed, identities=[identity]) == data


# --- several recipients -----------------------------------------------------------------------


def test_age_opens_a_dissent_file_with_each_of_three_identities(tmp_path):
    identities = [generate_identity(KeyKind.X25519) for _ in range(3)]
    data = plaintext(CHUNK + 7)
    (tmp_path / "file.age").write_bytes(encrypt(data, recipients=[i.recipient for i in identities]))

    for n, holder in enumerate(identities):
        key = write_identity(tmp_path / f"key{n}.txt", holder)
        result = run_age("-d", "-i", key, tmp_path / "file.age")
        assert result.returncode == 0, result.stderr
        assert result.stdout == data

    outsider = write_identity(tmp_path / "outsider.txt", generate_identity(KeyKind.X25519))
    refused = run_age("-d", "-i", outsider, tmp_path / "file.age")
    assert refused.returncode != 0
    assert refused.stdout == b""


def test_age_opens_a_file_after_dissent_added_a_recipient(tmp_path):
    """Granting access (an added stanza, a new MAC) leaves a file age still accepts."""
    first, newcomer = generate_identity(KeyKind.X25519), generate_identity(KeyKind.X25519)
    data = plaintext(CHUNK + 7)
    blob = encrypt(data, recipients=[first.recipient])
    (tmp_path / "file.age").write_bytes(
        add_recipients(blob, identities=[first], recipients=[newcomer.recipient])
    )

    for n, holder in enumerate((first, newcomer)):
        key = write_identity(tmp_path / f"key{n}.txt", holder)
        result = run_age("-d", "-i", key, tmp_path / "file.age")
        assert result.returncode == 0, result.stderr
        assert result.stdout == data


def test_dissent_opens_an_age_file_with_each_of_three_identities(tmp_path):
    identities = [generate_identity(KeyKind.X25519) for _ in range(3)]
    data = plaintext(CHUNK + 7)
    (tmp_path / "plain").write_bytes(data)
    flags = [arg for i in identities for arg in ("-r", i.recipient.encode())]

    made = run_age("-e", *flags, "-o", tmp_path / "file.age", tmp_path / "plain")

    assert made.returncode == 0, made.stderr
    sealed = (tmp_path / "file.age").read_bytes()
    for holder in identities:
        assert decrypt(sealed, identities=[holder]) == data


# --- identity files ----------------------------------------------------------------------------


def test_age_keygen_identity_file_works_with_the_dissent_cli(tmp_path):
    key = tmp_path / "age-key.txt"
    assert run_age_keygen("-o", key).returncode == 0
    recipient = run_age_keygen("-y", key).stdout.decode().strip()
    data = plaintext(2 * CHUNK + 3)
    (tmp_path / "plain").write_bytes(data)

    by_age = tmp_path / "by-age.age"
    assert run_age("-e", "-r", recipient, "-o", by_age, tmp_path / "plain").returncode == 0
    opened = run_dissent("age", "decrypt", "-i", key, by_age)
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == data

    by_dissent = tmp_path / "by-dissent.age"
    made = run_dissent("age", "encrypt", "-r", recipient, "-o", by_dissent, tmp_path / "plain")
    assert made.returncode == 0, made.stderr
    result = run_age("-d", "-i", key, by_dissent)
    assert result.returncode == 0, result.stderr
    assert result.stdout == data


def test_dissent_keygen_identity_file_works_with_age(tmp_path):
    key = tmp_path / "dissent-key.txt"
    assert run_dissent("age", "keygen", "-o", key).returncode == 0
    recipient = public_key_comment(key)
    data = plaintext(2 * CHUNK + 3)
    (tmp_path / "plain").write_bytes(data)

    by_dissent = tmp_path / "by-dissent.age"
    made = run_dissent(
        "age", "encrypt", "-a", "-r", recipient, "-o", by_dissent, tmp_path / "plain"
    )
    assert made.returncode == 0, made.stderr
    result = run_age("-d", "-i", key, by_dissent)
    assert result.returncode == 0, result.stderr
    assert result.stdout == data

    by_age = tmp_path / "by-age.age"
    assert run_age("-e", "-r", recipient, "-o", by_age, tmp_path / "plain").returncode == 0
    opened = run_dissent("age", "decrypt", "-i", key, by_age)
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == data


def test_age_keygen_derives_the_public_key_in_the_dissent_keygen_comment(tmp_path):
    key = tmp_path / "dissent-key.txt"
    assert run_dissent("age", "keygen", "-o", key).returncode == 0

    derived = run_age_keygen("-y", key)

    assert derived.returncode == 0, derived.stderr
    assert derived.stdout.decode().strip() == public_key_comment(key)


# --- passphrases ---------------------------------------------------------------------------------


def test_age_opens_a_dissent_passphrase_file(tmp_path):
    data = plaintext(CHUNK + 1)
    (tmp_path / "plain").write_bytes(data)
    sealed = tmp_path / "file.age"
    made = run_dissent(
        "age", "encrypt", "-p", "-o", sealed, tmp_path / "plain", passphrase=PASSPHRASE
    )
    assert made.returncode == 0, made.stderr

    result = run_age_on_terminal("-d", "-o", tmp_path / "out", sealed, passphrase=PASSPHRASE)

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out").read_bytes() == data


def test_dissent_opens_an_age_passphrase_file(tmp_path):
    data = plaintext(CHUNK + 1)
    (tmp_path / "plain").write_bytes(data)
    sealed = tmp_path / "file.age"
    made = run_age_on_terminal("-e", "-p", "-o", sealed, tmp_path / "plain", passphrase=PASSPHRASE)
    assert made.returncode == 0, made.stderr

    opened = run_dissent("age", "decrypt", sealed, passphrase=PASSPHRASE)

    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == data


# --- padding and the post-quantum limitation -------------------------------------------------


@pytest.mark.parametrize("size", [12, CHUNK + 100])
def test_age_opens_a_padded_dissent_file_and_sees_the_padding(tmp_path, identity, size):
    content = plaintext(size)
    (tmp_path / "file.age").write_bytes(encrypt(content, recipients=[identity.recipient], pad=True))
    key = write_identity(tmp_path / "key.txt", identity)

    result = run_age("-d", "-i", key, tmp_path / "file.age")

    assert result.returncode == 0, result.stderr
    opened = result.stdout
    assert len(opened) == padded_size(size) > size
    assert opened[:size] == content
    assert opened[size:] == b"\x80" + bytes(len(opened) - size - 1)


def test_hybrid_identity_opens_with_dissent_but_age_1_1_refuses_it_cleanly(tmp_path):
    key = tmp_path / "pq-key.txt"
    assert run_dissent("age", "keygen", "--pq", "-o", key).returncode == 0
    recipient = public_key_comment(key)
    assert recipient.startswith("age1pq1")
    data = plaintext(CHUNK + 1)
    (tmp_path / "plain").write_bytes(data)
    sealed = tmp_path / "file.age"
    made = run_dissent("age", "encrypt", "-r", recipient, "-o", sealed, tmp_path / "plain")
    assert made.returncode == 0, made.stderr
    opened = run_dissent("age", "decrypt", "-i", key, sealed)
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == data

    # Debian's age 1.1.1 predates the mlkem768x25519 type: it must fail with its own error
    # message, not crash. If this starts passing, age gained support: test interop instead.
    version = run_age("--version").stdout.decode().strip()
    refused_key = run_age("-d", "-i", key, sealed, cwd=tmp_path)
    refused_recipient = run_age("-e", "-r", recipient, tmp_path / "plain", cwd=tmp_path)
    for refused in (refused_key, refused_recipient):
        assert refused.returncode != 0, f"age {version} accepted a hybrid key"
        assert refused.stdout == b""
        assert b"age: error:" in refused.stderr
        assert b"panic" not in refused.stderr
