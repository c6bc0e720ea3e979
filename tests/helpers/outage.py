"""Session store outages on demand: a Redis stand-in that fails like redis-py does when
Redis is gone, and a relay to a real Redis that can be cut and restored.

Both sit behind dissent's own :class:`RedisSessionStore`, so what is tested is the code
that runs in production, from the redis-py exception up to the page.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import suppress
from urllib.parse import urlsplit, urlunsplit

import redis

from dissent.security.session_store import RedisSessionStore

REDIS_URL = os.environ.get("DISSENT_TEST_REDIS_URL", "")
# A loopback port nothing listens on: connecting is refused at once.
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"


class FlakyRedis:
    """The Redis commands the session store uses, kept in memory.

    While ``down`` every command raises ``redis.ConnectionError`` (Redis stopped); while
    ``refusing_writes`` only writes do (Redis dying between reading a session and
    saving it).
    """

    def __init__(self) -> None:
        self.records: dict[str, tuple[bytes, float]] = {}
        self.down = False
        self.refusing_writes = False

    def _check(self, *, write: bool) -> None:
        if self.down or (write and self.refusing_writes):
            raise redis.ConnectionError(
                "Error 111 connecting to 127.0.0.1:6379. Connection refused."
            )

    def _live(self, key: str) -> tuple[bytes, float] | None:
        record = self.records.get(key)
        if record is not None and record[1] <= time.time():
            del self.records[key]
            return None
        return record

    def pipeline(self) -> _Pipeline:
        return _Pipeline(self)

    def set(self, key: str, value: bytes, *, exat: int, nx: bool, xx: bool) -> bool | None:
        self._check(write=True)
        exists = self._live(key) is not None
        if (nx and exists) or (xx and not exists):
            return None
        self.records[key] = (value, float(exat))
        return True

    def delete(self, key: str) -> int:
        self._check(write=True)
        return 1 if self.records.pop(key, None) is not None else 0


class _Pipeline:
    def __init__(self, client: FlakyRedis) -> None:
        self._client = client
        self._keys: list[tuple[str, str]] = []

    def get(self, key: str) -> None:
        self._keys.append(("get", key))

    def pttl(self, key: str) -> None:
        self._keys.append(("pttl", key))

    def execute(self) -> list[object]:
        self._client._check(write=False)
        results: list[object] = []
        for command, key in self._keys:
            record = self._client._live(key)
            if command == "get":
                results.append(None if record is None else record[0])
            else:
                results.append(-2 if record is None else int((record[1] - time.time()) * 1000))
        return results


def flaky_store(app) -> FlakyRedis:
    """Give ``app`` a Redis session store over a :class:`FlakyRedis`; return the latter."""
    store = RedisSessionStore(CLOSED_PORT_URL)
    backend = FlakyRedis()
    store._redis = backend  # the store's one client: the stand-in takes its place
    app.session_interface.store = store
    return backend


class RedisRelay:
    """A TCP relay on a loopback port of its own to the Redis at ``url``: :meth:`cut`
    drops every connection and refuses new ones (Redis gone), :meth:`restore` accepts
    again on the same port (Redis back at the same address)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = 0
        self.restore()
        host = f"127.0.0.1:{self.port}"
        userinfo = parts.netloc.rpartition("@")[0]
        self.url = urlunsplit(parts._replace(netloc=f"{userinfo}@{host}" if userinfo else host))

    def restore(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            doomed = [self._listener, *self._sockets] if self._listener else [*self._sockets]
            self._listener = None
            self._sockets.clear()
        for sock in doomed:
            with suppress(OSError):  # a connection the other side closed already
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self._target)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass  # cut
    finally:
        for sock in (source, sink):  # one side ended: end the other (closed in cut)
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
