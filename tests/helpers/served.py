"""A real gunicorn serving a test instance in a child process, and raw HTTP to talk to it.

For what only the real server shows: its headers, its log, how it reads slow clients.
The child's standard error (gunicorn's log) goes to a file the test reads afterwards.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DISSENT = str(Path(sys.executable).parent / "dissent")
STARTUP_S = 30


def free_port() -> int:
    """Return a loopback port nothing listens on (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Served:
    """A running server: where it listens, and the file its log goes to."""

    port: int
    log: Path

    def log_text(self) -> str:
        """Return what the server logged so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")


def exchange(port: int, raw: bytes, *, timeout: float = 10) -> bytes:
    """Send ``raw`` on a new connection and return all the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _answers(port: int) -> bool:
    try:
        reply = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout=2)
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.1 200")


@contextmanager
def serving_in_child(
    command: Sequence[str], *, instance: Path, log: Path, port: int
) -> Iterator[Served]:
    """Run ``command`` (a server on ``port``) with the instance in ``instance``; yield
    once ``/healthz`` answers; stop it with SIGTERM (as systemd does) at the end."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DISSENT_INSTANCE": str(instance),
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as sink:
        child = subprocess.Popen(list(command), env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_S
        while not _answers(port):
            assert child.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield Served(port=port, log=log)
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=STARTUP_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
