"""Slow clients cannot take the service down (issue 15, finding 10).

A client that declares a large body and sends it a byte at a time (or its headers so)
held one of gunicorn's threads for as long as it liked; a few of them left ``/healthz``
unanswered. `dissent serve` now reads every request at a pace and cuts off a client that
falls behind. (Many clients that each keep up just above the pace still fill
the threads: docs/threat-model.md, "Slow clients"; every deployment has a buffering proxy
in front for that, docs/operations.md.)
"""

from __future__ import annotations

import socket
import sys
import threading
import time

import pytest
from gunicorn.app.base import BaseApplication

from dissent.cli import server
from tests.helpers.cli import run
from tests.helpers.health import instance_file_of
from tests.helpers.served import exchange, free_port, serving_in_child

# The served test instance, with paces short enough for a test: a client has one second
# to start each part of its request and must then send 500 bytes a second.
CHILD = """
import sys
from dissent.app import create_app
from dissent.cli.server import ReadPace, serve_forever

quick = ReadPace(first_s=1, min_rate=500, most_s=3)
serve_forever(create_app(), host="127.0.0.1", port=int(sys.argv[1]), workers=1, threads=2,
              read_paces=(quick, ReadPace(first_s=1, min_rate=500)))
"""
# Two threads, and more slow clients than that: before, each held a thread for good.
SLOW_BODIES = 4
SLOW_HEADERS = 2
# How long /healthz may take while they trickle: their pace cuts them off within about a
# second each, two at a time.
ANSWER_WITHIN_S = 10
TRICKLE_EVERY_S = 0.2


class Trickler:
    """A client that sends ``head`` at once, then one byte every TRICKLE_EVERY_S."""

    def __init__(self, port: int, head: bytes) -> None:
        self.conn = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.conn.sendall(head)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stop.wait(TRICKLE_EVERY_S):
            try:
                self.conn.sendall(b"a")
            except OSError:  # cut off by the server
                return

    def answer(self) -> bytes | None:
        """Stop sending; return what the server answered before it closed the
        connection (b"" if it only hung up), or None if it is still reading."""
        self.stop.set()
        self.thread.join()
        self.conn.settimeout(5)
        try:
            return self.conn.recv(65536)
        except TimeoutError:
            return None
        except OSError:  # reset: the server closed with the trickle unread
            return b""
        finally:
            self.conn.close()


def body_trickler(port: int) -> Trickler:
    return Trickler(
        port,
        b"POST /staff/login HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200000\r\n\r\n",
    )


def header_trickler(port: int) -> Trickler:
    return Trickler(port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")


# The server, not the database, is under test: the PostgreSQL run would only repeat it.
@pytest.mark.sqlite_only
@pytest.mark.slow
def test_health_answers_while_slow_clients_trickle(config, tmp_path):
    instance = instance_file_of(config).parent
    port = free_port()
    command = [sys.executable, "-c", CHILD, str(port)]

    with serving_in_child(command, instance=instance, log=tmp_path / "log", port=port) as served:
        slow = [body_trickler(port) for _ in range(SLOW_BODIES)]
        slow += [header_trickler(port) for _ in range(SLOW_HEADERS)]
        started = time.monotonic()
        health = exchange(
            port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", timeout=ANSWER_WITHIN_S
        )
        took = time.monotonic() - started
        answers = [client.answer() for client in slow]

    assert health.startswith(b"HTTP/1.1 200"), health[:200]
    assert took < ANSWER_WITHIN_S
    # Every one was cut off: a slow body is refused (as from a client gone), if the
    # refusal still reaches it; a slow header is hung up on.
    assert None not in answers
    assert {a[:12] for a in answers[:SLOW_BODIES]} <= {b"HTTP/1.1 400", b""}
    assert set(answers[SLOW_BODIES:]) == {b""}
    log = served.log_text()
    assert "too slowly" in log
    assert "Traceback" not in log


@pytest.fixture
def served(monkeypatch):
    """Stand in for gunicorn's arbiter; collect the servers it would have run."""
    started = []

    def run_instead(gunicorn: BaseApplication) -> None:
        started.append(gunicorn)

    monkeypatch.setattr(BaseApplication, "run", run_instead)
    return started


def test_serve_runs_gunicorn_with_paced_reads_and_bounded_requests(config, served):
    instance = instance_file_of(config).parent

    result = run("serve", "--port", "8125", instance=instance)

    assert result.exit_code == 0, (result.stderr, result.exception)
    [gunicorn] = served
    cfg = gunicorn.cfg
    assert cfg.worker_class is server.PacedWorker
    assert cfg.logger_class is server.QuietLogger
    assert gunicorn.read_paces == (server.HEADER_PACE, server.BODY_PACE)
    assert server.HEADER_PACE.most_s is not None
    assert cfg.threads == server.THREADS
    assert (cfg.timeout, cfg.graceful_timeout, cfg.keepalive) == (30, 30, 5)
    assert (cfg.limit_request_line, cfg.limit_request_fields) == (4094, 50)
    assert cfg.limit_request_field_size == 8190
    assert cfg.accesslog is None
