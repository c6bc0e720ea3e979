"""`dissent serve` names no client address in its log and no server in its responses
(issue 15, finding 17).

gunicorn logs a malformed request as "Invalid request from ip=<address>", and puts
``Server: gunicorn`` in every response. Checked over a real `dissent serve`.
"""

from __future__ import annotations

import pytest

from tests.helpers.health import instance_file_of
from tests.helpers.served import DISSENT, exchange, free_port, serving_in_child

MALFORMED = [
    b"G\x01T / HTTP/1.1\r\nHost: localhost\r\n\r\n",  # no such method
    b"GET / HTTP/9.9\r\nHost: localhost\r\n\r\n",  # no such version
    b"GET / HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n",  # a space in a name
    b"GET /staff/enrol/a-secret-token\x00 HTTP/1.1\r\nHost: localhost\r\n\r\n",
]


# The server, not the database, is under test: the PostgreSQL run would only repeat it.
@pytest.mark.sqlite_only
def test_serve_logs_no_address_and_sends_no_server_header(config, tmp_path):
    instance = instance_file_of(config).parent
    port = free_port()
    command = [DISSENT, "serve", "--port", str(port), "--workers", "1"]

    with serving_in_child(command, instance=instance, log=tmp_path / "log", port=port) as served:
        page = exchange(
            port, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        refusals = [exchange(port, raw) for raw in MALFORMED]
    log = served.log_text()

    head = page.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 200")
    assert b"\r\nserver:" not in head
    for refusal in refusals:
        assert refusal.startswith(b"HTTP/1.1 4"), refusal[:100]
        assert b"\r\nserver:" not in refusal.split(b"\r\n\r\n", 1)[0].lower()
    # The refusals were logged (so the lines below were looked for where they would be).
    assert log.count("Invalid request") == len(MALFORMED), log
    assert "127.0.0.1" not in log
    assert "ip=" not in log
    assert "a-secret-token" not in log
