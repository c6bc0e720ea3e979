"""The test app served on a loopback port, and a browser without JavaScript that talks
to it over real HTTP.

:class:`HttpClient` answers the same calls as Flask's test client (``get``, ``post``
with form data, redirects not followed, ``status_code``/``data``/``headers``), so
the page helpers work unchanged against a real server: requests then run in the
server's own threads, each with its own database connection, as in production.
"""

from __future__ import annotations

import http.cookiejar
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from typing import Any

from flask import Flask
from werkzeug.serving import make_server


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free loopback port, one thread per request; yield its URL."""
    # Port 0: the kernel picks a free port, so there is no race with other processes.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class HttpReply:
    """One response, shaped like the test client's."""

    status_code: int
    data: bytes
    headers: Message

    def get_data(self, as_text: bool = False) -> bytes | str:
        return self.data.decode() if as_text else self.data


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # hand the 303 back to the caller, as the test client does


class HttpClient:
    """One browser (its own cookie jar) talking to a served app."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self._opener = urllib.request.build_opener(
            # The app's cookies are Secure; a browser sends them to a loopback address
            # over plain HTTP (a trustworthy origin), and so does this one.
            urllib.request.HTTPCookieProcessor(
                http.cookiejar.CookieJar(
                    http.cookiejar.DefaultCookiePolicy(secure_protocols=("https", "http"))
                )
            ),
            _KeepRedirects,
        )

    def get(self, path: str, **_: Any) -> HttpReply:
        return self._open(urllib.request.Request(self.base_url + path))

    def post(self, path: str, data: dict[str, Any] | None = None, **_: Any) -> HttpReply:
        body = urllib.parse.urlencode(data or {}, doseq=True).encode()
        return self._open(urllib.request.Request(self.base_url + path, data=body))

    def _open(self, request: urllib.request.Request) -> HttpReply:
        try:
            with self._opener.open(request, timeout=30) as response:
                return HttpReply(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as error:  # 3xx (not followed), 4xx, 5xx
            with error:
                return HttpReply(error.code, error.read(), error.headers)
