"""The pieces of the web server: paced reads, a log without addresses, no Server header.

The real server is exercised in tests/security/test_slow_clients.py and
tests/security/test_server_quiet.py; here each piece on its own.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from dissent.cli import server
from dissent.cli.server import PacedSocket, QuietLogger, QuietResponse, ReadPace, SlowClient

# Short paces, so that a test waits a fraction of a second.
FIRST_S = 0.3


@pytest.fixture
def pair():
    """A paced socket and the client's end of its connection."""
    ours, theirs = socket.socketpair()
    paced = PacedSocket.adopt(ours)
    yield paced, theirs
    paced.close()
    theirs.close()


def test_a_client_that_sends_in_time_is_read(pair):
    paced, client = pair
    paced.pace(ReadPace(first_s=FIRST_S, min_rate=500))
    client.sendall(b"GET / HTTP/1.1\r\n")

    assert paced.recv(100) == b"GET / HTTP/1.1\r\n"


def test_a_client_that_sends_nothing_is_cut_off_after_its_first_seconds(pair):
    paced, _client = pair
    started = time.monotonic()
    paced.pace(ReadPace(first_s=FIRST_S, min_rate=500))

    with pytest.raises(SlowClient):
        paced.recv(100)

    assert FIRST_S <= time.monotonic() - started < FIRST_S + 2


def test_a_trickle_below_the_rate_is_cut_off(pair):
    paced, client = pair
    paced.pace(ReadPace(first_s=FIRST_S, min_rate=500))
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(FIRST_S / 3):
            client.sendall(b"a")

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    started = time.monotonic()
    try:
        with pytest.raises(SlowClient):
            while True:
                paced.recv(100)
    finally:
        stop.set()
        sender.join()

    # Each byte buys 1/500 s: the trickle runs out of time soon after its first seconds.
    assert time.monotonic() - started < FIRST_S + 2


def test_a_fast_start_does_not_pay_for_a_stall_later(pair):
    paced, client = pair
    paced.pace(ReadPace(first_s=FIRST_S, min_rate=500))
    client.sendall(b"a" * 100_000)  # would buy 200 s if credit could be banked
    received = 0
    while received < 100_000:
        received += len(paced.recv(100_000))

    with pytest.raises(SlowClient):
        paced.recv(100)


def test_a_part_takes_at_most_its_longest_time_even_at_pace(pair):
    paced, client = pair
    # Each byte buys a second (up to one banked): the sender below keeps well ahead.
    started = time.monotonic()
    paced.pace(ReadPace(first_s=1, min_rate=1, most_s=1.5))
    stop = threading.Event()

    def keep_pace() -> None:
        while not stop.wait(0.05):
            client.sendall(b"a")

    sender = threading.Thread(target=keep_pace, daemon=True)
    sender.start()
    try:
        with pytest.raises(SlowClient):
            while True:
                paced.recv(100)
    finally:
        stop.set()
        sender.join()

    assert 1.5 <= time.monotonic() - started < 1.5 + 2


def test_an_unpaced_socket_waits_as_before_and_keeps_its_timeout(pair):
    paced, client = pair
    paced.settimeout(5)
    paced.pace(None)
    client.sendall(b"late")

    assert paced.recv(100) == b"late"
    assert paced.gettimeout() == 5


def test_a_timeout_of_the_sockets_own_is_kept_and_still_applies(pair):
    paced, _client = pair
    paced.settimeout(FIRST_S / 3)
    paced.pace(ReadPace(first_s=10, min_rate=500))

    with pytest.raises(TimeoutError) as raised:
        paced.recv(100)

    assert not isinstance(raised.value, SlowClient)
    assert paced.gettimeout() == pytest.approx(FIRST_S / 3)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Invalid request from ip=127.0.0.1: bad", "Invalid request from ip=[address]: bad"),
        ("from 10.1.2.3:5000 and ::1", "from [address]:5000 and [address]"),
        ("peer 2001:db8::7 said", "peer [address] said"),
        ("fe80::1%eth0 linked", "[address] linked"),
        ("at 12:30:45 worker 27.0.1 booted", "at 12:30:45 worker 27.0.1 booted"),
        ("999.1.1.1 is no address", "999.1.1.1 is no address"),
    ],
)
def test_addresses_are_taken_out_of_log_lines(line, expected):
    assert server.without_addresses(line) == expected


@pytest.fixture
def quiet_log(caplog):
    cfg = Config()
    cfg.set("errorlog", "-")
    cfg.set("loglevel", "warning")
    logger = QuietLogger(cfg)
    logging.getLogger("gunicorn.error").propagate = True
    caplog.set_level(logging.WARNING, logger="gunicorn.error")
    yield logger
    logging.getLogger("gunicorn.error").propagate = False


def test_a_refused_request_is_logged_by_its_kind_only(quiet_log, caplog):
    try:
        raise ValueError("Invalid HTTP method: 'G\\x01T' from 192.0.2.7")
    except ValueError:
        quiet_log.warning("Invalid request from ip=192.0.2.7: Invalid HTTP method")

    assert [r.getMessage() for r in caplog.records] == ["Invalid request refused (ValueError)"]


def test_an_error_is_one_line_without_the_request_line(quiet_log, caplog):
    try:
        raise RuntimeError("boom 192.0.2.7")
    except RuntimeError:
        quiet_log.exception("Error handling request %s %s", "GET", "/staff/enrol/secret-token")

    [record] = caplog.records
    assert record.getMessage() == "Error handling request (RuntimeError)"
    assert record.exc_info is None


def test_a_slow_client_is_a_warning_not_a_traceback(quiet_log, caplog):
    try:
        raise SlowClient
    except TimeoutError:
        quiet_log.exception("Socket error processing request.")

    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "too slowly" in record.getMessage()
    assert record.exc_info is None


def test_any_address_in_a_line_is_replaced(quiet_log, caplog):
    quiet_log.warning("Listening at: http://10.0.0.5:8000 (%s)", 42)

    assert [r.getMessage() for r in caplog.records] == ["Listening at: http://[address]:8000 (42)"]


def test_no_request_is_logged(quiet_log, caplog):
    quiet_log.access(None, None, {"REMOTE_ADDR": "192.0.2.7"}, None)

    assert caplog.records == []


def test_responses_carry_no_server_header():
    request = SimpleNamespace(version=(1, 1), should_close=lambda: True)
    response = QuietResponse(request, None, Config())
    response.status = "200 OK"

    lines = response.default_headers()

    assert lines[0] == "HTTP/1.1 200 OK\r\n"
    assert not [line for line in lines if line.lower().startswith("server:")]
    assert any(line.startswith("Date:") for line in lines)


def test_the_options_bound_every_request(monkeypatch):
    options = server.gunicorn_options(host="127.0.0.1", port=8000, workers=2)

    assert options["worker_class"] is server.PacedWorker
    assert options["logger_class"] is server.QuietLogger
    assert options["accesslog"] is None
    assert options["forwarded_allow_ips"] == ""
    assert options["limit_request_fields"] < 100  # fewer than gunicorn's default
