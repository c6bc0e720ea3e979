"""The web server of ``dissent serve`` and ``dissent demo``: gunicorn, paced and quiet.

gunicorn's threaded worker gives a connection one of its threads while it reads the
request, and reads without a time limit: a client that sends its headers or its body a
byte at a time holds that thread as long as it likes, and a handful of such clients
leave every other visitor (and ``/healthz``) unanswered (issue 15, finding 10). Here
each part of a request is read at a :class:`ReadPace`, as Apache's ``mod_reqtimeout``
does: a client that falls behind is cut off and its thread is free again.
That bounds how *slowly* a client may send, not how many clients may send slowly at
once: only a buffering proxy in front removes that (docs/operations.md, "Serve").

It also logs no client address and no request line, and sends no ``Server`` header
(finding 17).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.http import wsgi
from gunicorn.workers.gthread import ThreadWorker


@dataclass(frozen=True)
class ReadPace:
    """How slowly a client may send one part of a request (its headers, or its body).

    It has ``first_s`` seconds to start; every ``min_rate`` bytes it sends buy one more
    second, banked for at most ``first_s`` seconds ahead (a fast start does not pay for
    a trickle later); and the whole part takes at most ``most_s`` seconds (``None``: no
    overall limit, for a large upload on a slow line).
    """

    first_s: float
    min_rate: int
    most_s: float | None = None


# A browser sends its headers at once: they must start within 10 s and be done within
# 30 s. A body must keep up 500 bytes a second (Apache's default) and may take as long
# as that needs, so a large upload on a slow line still arrives.
HEADER_PACE = ReadPace(first_s=10, min_rate=500, most_s=30)
BODY_PACE = ReadPace(first_s=20, min_rate=500)
# Threads per worker: each request being read or answered holds one.
THREADS = 8
# A worker whose main loop stops answering is replaced after this long. Threads serving
# slow uploads keep it answering; a request waiting on a frozen database is ended sooner
# by database.py's deadlines.
WORKER_TIMEOUT_S = 30
# How long an idle kept-alive connection stays open (it holds no thread meanwhile).
KEEPALIVE_S = 5
# The request line, the number of headers and the size of one: gunicorn's defaults for
# the line and a header, and fewer headers than its 100 (a browser sends about 20).
LIMIT_REQUEST_LINE = 4094
LIMIT_REQUEST_FIELDS = 50
LIMIT_REQUEST_FIELD_SIZE = 8190


class SlowClient(TimeoutError):
    """The client sent its request more slowly than its pace allows.

    A socket timeout: gunicorn, reading the headers, hangs up; the application, reading
    the body, answers as to a client that went away (Werkzeug's 400).
    """


class PacedSocket(socket.socket):
    """A client connection whose reads keep to a :class:`ReadPace`."""

    _pace: ReadPace | None = None
    _deadline = 0.0
    _end: float | None = None

    @classmethod
    def adopt(cls, sock: socket.socket) -> PacedSocket:
        """Return ``sock`` as a paced socket (``sock`` itself is detached)."""
        timeout = sock.gettimeout()
        paced = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        paced.settimeout(timeout)
        return paced

    def pace(self, pace: ReadPace | None) -> None:
        """Read what follows at ``pace`` (``None``: as slowly as the client likes)."""
        now = time.monotonic()
        self._pace = pace
        if pace is not None:
            self._deadline = now + pace.first_s
            self._end = None if pace.most_s is None else now + pace.most_s

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Return what the client sent next, or raise :class:`SlowClient` once it fell
        behind its pace (a timeout of the socket's own still applies, as it did)."""
        pace, prior = self._pace, self.gettimeout()
        if pace is None or prior == 0.0:  # not paced, or a non-blocking peek
            return super().recv(bufsize, flags)
        limit = self._deadline if self._end is None else min(self._deadline, self._end)
        remaining = limit - time.monotonic()
        if remaining <= 0:
            raise SlowClient
        ours = prior is None or remaining <= prior
        self.settimeout(remaining if ours else prior)
        try:
            data = super().recv(bufsize, flags)
        except TimeoutError as exc:
            if ours:
                raise SlowClient from exc
            raise
        finally:
            self.settimeout(prior)
        now = time.monotonic()
        self._deadline = min(self._deadline + len(data) / pace.min_rate, now + pace.first_s)
        return data


class PacedWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, reading headers and bodies at their paces."""

    def init_process(self) -> None:
        """Start the worker, its responses without a Server header."""
        wsgi.Response = QuietResponse
        super().init_process()

    def _paces(self) -> tuple[ReadPace, ReadPace]:
        paces: tuple[ReadPace, ReadPace] = getattr(self.app, "read_paces", (HEADER_PACE, BODY_PACE))
        return paces

    def handle(self, conn: Any) -> Any:
        """Read the next request on ``conn``, its headers at their pace."""
        if not self.cfg.is_ssl and not isinstance(conn.sock, PacedSocket):
            # Before anything reads from it: the parser keeps the socket it is made with.
            conn.sock = PacedSocket.adopt(conn.sock)
        if isinstance(conn.sock, PacedSocket):
            conn.sock.pace(self._paces()[0])
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        """Answer ``req``; the application reads its body at the body's pace."""
        if isinstance(conn.sock, PacedSocket):
            conn.sock.pace(self._paces()[1])
        return super().handle_request(req, conn)


class QuietResponse(wsgi.Response):  # type: ignore[misc]
    """gunicorn's response without its ``Server`` header: a name and version to look
    up vulnerabilities by, and one more trait that tells this site from others."""

    def default_headers(self) -> list[str]:
        """Return gunicorn's own header lines, less ``Server``."""
        lines: list[str] = super().default_headers()
        return [line for line in lines if not line.lower().startswith("server:")]


# --- the log: no addresses, no request lines ----------------------------------------------

_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?(?![\w:])")
_PLACEHOLDER = re.compile(r"\s*%[sdr]")


def _unless_address(match: re.Match[str]) -> str:
    try:
        ipaddress.ip_address(match.group(0))
    except ValueError:
        return match.group(0)  # "12:30:45", a version number, ...
    return "[address]"


def without_addresses(text: str) -> str:
    """Return ``text`` with every IPv4 and IPv6 address in it replaced."""
    return _IPV6.sub(_unless_address, _IPV4.sub(_unless_address, text))


class _NoAddresses(logging.Filter):
    """Take any address out of a log record before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without addresses; keep the record."""
        message = record.getMessage()
        scrubbed = without_addresses(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


class QuietLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger without client addresses and request lines.

    gunicorn logs a malformed request with the client's address ("Invalid request from
    ip=...") and an error while answering with the request line, which may hold an
    enrolment token. Here such a line names the kind of error only, any address left
    in any line is replaced, and requests are never logged.
    """

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's handlers up, then filter every line of its error log."""
        super().setup(cfg)
        if not any(isinstance(f, _NoAddresses) for f in self.error_log.filters):
            self.error_log.addFilter(_NoAddresses())

    def access(self, *args: Any, **kwargs: Any) -> None:
        """Log no request: an access log line holds the client's address."""

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Log a warning; a refused request by the kind of error only."""
        if isinstance(msg, str) and msg.startswith("Invalid request from"):
            msg, args = "Invalid request refused (%s)", (_current_error(),)
        super().warning(msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        """Log an error as one line with its type: no arguments (a request line), no
        message and no traceback (either may hold what a client sent)."""
        if isinstance(sys.exc_info()[1], TimeoutError):
            self.warning("A client sent its request too slowly; its connection was closed.")
            return
        self.error("%s (%s)", _PLACEHOLDER.sub("", str(msg)), _current_error())


def _current_error() -> str:
    error = sys.exc_info()[1]
    return "no error" if error is None else type(error).__name__


# --- running it ---------------------------------------------------------------------------


def gunicorn_options(
    *, host: str, port: int, workers: int, threads: int = THREADS
) -> dict[str, Any]:
    """Return the gunicorn settings of ``dissent serve``."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": PacedWorker,
        "logger_class": QuietLogger,
        # No access log: it would hold addresses.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "timeout": WORKER_TIMEOUT_S,
        "graceful_timeout": WORKER_TIMEOUT_S,
        "keepalive": KEEPALIVE_S,
        "limit_request_line": LIMIT_REQUEST_LINE,
        "limit_request_fields": LIMIT_REQUEST_FIELDS,
        "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
        # Trust no forwarded header: nothing may learn an address from one either.
        "forwarded_allow_ips": "",
        "proxy_allow_ips": "",
        # No control socket: nothing needs it, and gunicorn would otherwise create one
        # in its user's home, which a hardened service cannot write (deploy/systemd).
        "control_socket_disable": True,
    }


class DissentServer(BaseApplication):  # type: ignore[misc]
    """gunicorn, serving one application with :func:`gunicorn_options`."""

    def __init__(
        self, app: Flask, options: dict[str, Any], read_paces: tuple[ReadPace, ReadPace]
    ) -> None:
        self._app, self._options, self.read_paces = app, options, read_paces
        super().__init__()

    def load_config(self) -> None:
        """Apply the options."""
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """Return the application."""
        return self._app


def serve_forever(
    app: Flask,
    *,
    host: str,
    port: int,
    workers: int,
    threads: int = THREADS,
    read_paces: tuple[ReadPace, ReadPace] = (HEADER_PACE, BODY_PACE),
) -> None:
    """Serve ``app`` until gunicorn is stopped."""
    options = gunicorn_options(host=host, port=port, workers=workers, threads=threads)
    DissentServer(app, options, read_paces).run()
