"""Benchmark attachments over HTTP: the server's memory while a 200 MiB file goes in and out.

Run with ``.venv/bin/python benchmarks/attachments.py [--size-mib N] [--markdown]
[--database-url URL]``; the "Attachments" figures in docs/performance.md come from it. The
issue's target: uploading and downloading a 200 MiB file keeps the server's peak memory
under 100 MiB.

A fresh instance (hybrid keys) in a temporary folder is served by gunicorn as
``dissent serve`` serves it (gthread, no access log), with one worker so that the process
handling the transfers is known. A source files an observation and, from this process,
uploads a file of random bytes (a type that is encrypted as it arrives, not held in
memory to be cleaned) with ``http.client``, the multipart body produced by a generator in
1 MiB pieces, and downloads it again reading 1 MiB at a time; the SHA-256 of what came
back must equal what was sent. Codename derivation uses the test parameters: its 128 MiB
of Argon2 would otherwise set every figure (``benchmarks/codename_kdf.py`` measures it).

The instance's database is SQLite in its folder (blobs are files there), or, with
``--database-url`` naming a PostgreSQL server, a database of its own created there for the
run and dropped after it (blobs are rows of ``blob_chunk``). The PostgreSQL server's own
processes are not measured: the figures are the app's.

Memory, from ``/proc`` of the gunicorn master and its worker:

* **peak RSS** (``VmHWM``) of each process, reset (``clear_refs``) before each transfer,
  so each figure is the peak of that transfer alone. RSS counts the pages the worker
  shares with the master (the imported code) in full.
* **PSS** (``smaps_rollup``), sampled every 20 ms during each transfer and summed over
  master and worker: shared pages split between the processes that share them, so this
  is what the server as a whole holds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import http.client
import io
import os
import platform
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

MIB = 1024 * 1024
DEFAULT_SIZE_MIB = 200
TARGET_MIB = 100
PIECE = MIB
SAMPLE_SECONDS = 0.02
PASSWORD = "benchmark horse battery staple 7"
SOURCE_COOKIE = "__Host-dissent-source"


# --- the server ------------------------------------------------------------------------


def serve_main(port: int, instance: Path) -> None:
    """Serve the instance with gunicorn, one worker (run in a child process)."""
    from dissent.app import create_app
    from dissent.cli.instance import run_server
    from dissent.crypto.codename import TEST_KDF_PARAMS

    app = create_app({"INSTANCE_PATH": str(instance), "KDF_PARAMS": TEST_KDF_PARAMS})
    run_server(app, host="127.0.0.1", port=port, workers=1)


@contextlib.contextmanager
def database(admin_url: str | None) -> Iterator[tuple[str | None, str]]:
    """Yield the instance's database URL (None: SQLite in its folder) and its description.

    Given a PostgreSQL URL, a database of the run's own is created on that server (through
    an AUTOCOMMIT connection to the database the URL names) and dropped afterwards.
    """
    if not admin_url:
        yield None, "SQLite (a file in the instance folder; blobs are files)"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"dissent_bench_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name)
    try:
        yield (
            url.render_as_string(hide_password=False),
            f"PostgreSQL {_server_version(admin)} (blobs are rows of blob_chunk)",
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _server_version(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.exec_driver_sql("SHOW server_version").scalar()).split()[0]


def create_instance(instance: Path, database_url: str | None) -> None:
    """Initialise an instance with a mission and an enrolled adviser (so it takes reports)."""
    from dissent.app import create_app
    from dissent.crypto import KeyKind
    from dissent.crypto.codename import TEST_KDF_PARAMS
    from dissent.extensions import current_context, db
    from dissent.models import Role
    from dissent.services import accounts
    from dissent.services.instance import initialise_instance

    initialise_instance(
        instance,
        kind=KeyKind.HYBRID,
        threshold=2,
        custodians=3,
        database_url=database_url,
        public_url="http://127.0.0.1:5000",  # needed to serve; no link is followed
    )
    app = create_app({"INSTANCE_PATH": str(instance), "KDF_PARAMS": TEST_KDF_PARAMS})
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="bench", name="Benchmark mission")
        user, _ = accounts.create_account(
            db.session, username="adviser", role=Role.ADVISER, mission_slugs=["bench"]
        )
        accounts.enrol_directly(
            db.session,
            current_context(),
            user=user,
            password=PASSWORD,
            totp_secret=accounts.new_totp_secret(),
        )
    db.engine(app).dispose()


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def _pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError(f"no Pss for {pid}")


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat", encoding="ascii") as f:
                if int(f.read().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry))
    return found


class Server:
    """gunicorn in a child process: its master and its one worker."""

    def __init__(self, instance: Path, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port: int = s.getsockname()[1]
        self.log = log
        command = [sys.executable, __file__, "--serve", str(self.port), "--instance", str(instance)]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            workers = _children(self.process.pid)
            if workers:
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    self.worker = workers[0]
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not start:\n{log.read_text()}")

    @property
    def pids(self) -> dict[str, int]:
        """Return the master's and the worker's pid."""
        return {"master": self.process.pid, "worker": self.worker}

    def reset_peaks(self) -> bool:
        """Reset each process's VmHWM to its current RSS; return whether the kernel let us."""
        try:
            for pid in self.pids.values():
                with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as f:
                    f.write("5")
        except OSError:
            return False
        return True

    def rss_kib(self) -> dict[str, int]:
        """Return each process's resident memory now."""
        return {name: _status_kib(pid, "VmRSS") for name, pid in self.pids.items()}

    def peak_kib(self) -> dict[str, int]:
        """Return each process's peak resident memory (since the last reset)."""
        return {name: _status_kib(pid, "VmHWM") for name, pid in self.pids.items()}

    def pss_kib(self) -> int:
        """Return the proportional memory of master and worker together."""
        return sum(_pss_kib(pid) for pid in self.pids.values())

    def stop(self) -> None:
        """Stop gunicorn as an operator would (SIGTERM to the master)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class PssSampler:
    """Samples the server's summed PSS in a thread while a block runs; keeps the peak."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._stop = threading.Event()
        self.peak_kib = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.peak_kib = max(self.peak_kib, self._server.pss_kib())
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> PssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- the client ------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """What a download gave: bytes read, their SHA-256, and the Content-Length announced."""

    length: int
    sha256: str
    content_length: int | None


class Browser:
    """One connection with the source's cookie (plain HTTP; the server cannot tell)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def _connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Host": "localhost", **(extra or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _keep_cookies(self, response: http.client.HTTPResponse) -> None:
        for cookie in response.headers.get_all("Set-Cookie") or []:
            pair, _, attributes = cookie.partition(";")
            name, _, value = pair.strip().partition("=")
            if "max-age=0" in attributes.lower().replace(" ", "") or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> bytes:
        """Send a small request; return the body, raising unless it is a 200 or 303."""
        connection = self._connection()
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        extra = {"Content-Type": "application/x-www-form-urlencoded"} if form else None
        connection.request(method, path, body=body, headers=self._headers(extra))
        response = connection.getresponse()
        data = response.read()
        self._keep_cookies(response)
        connection.close()
        if response.status not in (200, 303):
            raise RuntimeError(f"{method} {path}: HTTP {response.status}\n{data[:1000]!r}")
        return data

    def upload(self, path: str, csrf_token: str, pieces: Iterator[bytes], size: int) -> int:
        """Stream a multipart upload of ``size`` bytes from ``pieces``; return the status."""
        boundary = "----dissent-bench-" + secrets.token_hex(8)
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{csrf_token}\r\n--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="bench.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def body() -> Iterator[bytes]:
            yield head
            yield from pieces
            yield tail

        headers = self._headers(
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + size + len(tail)),
            }
        )
        connection = self._connection()
        connection.request("POST", path, body=body(), headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        if response.status != 303:
            raise RuntimeError(f"upload: HTTP {response.status}\n{data[:2000]!r}")
        return response.status

    def download(self, path: str) -> Received:
        """Read a download 1 MiB at a time; return its length, SHA-256 and announced length.

        ``http.client`` ends a body that stops short of its Content-Length quietly (a read
        returns ``b""``), so the length read is returned next to the announced one.
        """
        connection = self._connection()
        connection.request("GET", path, headers=self._headers())
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"download: HTTP {response.status}\n{response.read()[:1000]!r}")
        announced = response.getheader("Content-Length")
        digest, length = hashlib.sha256(), 0
        while block := response.read(PIECE):
            digest.update(block)
            length += len(block)
        connection.close()
        return Received(
            length=length,
            sha256=digest.hexdigest(),
            content_length=int(announced) if announced is not None else None,
        )


def random_pieces(size: int, seed: bytes) -> tuple[Iterator[bytes], hashlib._Hash]:
    """Return a generator of ``size`` pseudo-random bytes in 1 MiB pieces and its digest.

    The digest is complete once the generator is exhausted; no more than a piece is ever
    held, on either side of the connection.
    """
    digest = hashlib.sha256()

    def generate() -> Iterator[bytes]:
        left, counter = size, 0
        while left:
            # SHAKE-256 of a counter: fast, reproducible, incompressible.
            piece = hashlib.shake_256(seed + counter.to_bytes(8, "big")).digest(min(PIECE, left))
            digest.update(piece)
            left -= len(piece)
            counter += 1
            yield piece

    return generate(), digest


def phone_photo() -> bytes:
    """Return a 12-megapixel JPEG (4032 x 3024) of noise, as a phone takes, with EXIF."""
    from PIL import ExifTags, Image

    size = (4032, 3024)
    bands = [Image.effect_noise(size, 60 + 20 * i) for i in range(3)]
    image = Image.merge("RGB", bands)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Benchmark"
    exif[ExifTags.Base.Orientation] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def _find(pattern: bytes, page: bytes, what: str) -> str:
    match = re.search(pattern, page)
    if match is None:
        raise RuntimeError(f"no {what} in the page:\n{page[:2000].decode(errors='replace')}")
    return match.group(1).decode()


def file_observation(browser: Browser) -> tuple[str, str]:
    """File an observation as a new source; return its reference and a CSRF token."""
    page = browser.request("GET", "/submit")
    form = {
        "csrf_token": _find(rb'name="csrf_token" type="hidden" value="([^"]+)"', page, "token"),
        "submit_token": _find(rb'name="submit_token" type="hidden" value="([^"]+)"', page, "t"),
        "mission": _find(rb'name="mission" value="(\d+)"', page, "mission"),
        "category": "reporting_accuracy",
        "what": "The attendance sheets for the course were filled in afterwards.",
        "when": "last_month",
        "where": "",
        "contradicts": "yes",
        "official_report": "",
        "consent": "ask_first",
    }
    browser.request("POST", "/submit", form)
    page = browser.request("GET", "/submit/codename")
    token = _find(rb'name="csrf_token" type="hidden" value="([^"]+)"', page, "token")
    browser.request("POST", "/submit/codename", {"csrf_token": token, "saved": "y"})
    inbox = browser.request("GET", "/inbox")
    ref = _find(rb'action="/inbox/([A-Z0-9-]+)/reply"', inbox, "reply form")
    token = _find(rb'name="csrf_token" type="hidden" value="([^"]+)"', inbox, "token")
    return ref, token


class Records:
    """Reads the instance's database from this process (ids and sizes, never content)."""

    def __init__(self, instance: Path, database_url: str | None) -> None:
        from sqlalchemy import create_engine

        self.instance = instance
        self.engine = create_engine(database_url or f"sqlite:///{instance / 'dissent.sqlite3'}")

    def _one(self, sql: str, **params: object) -> str:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return str(conn.execute(text(sql), params).scalar_one())

    def attachment_ids(self) -> set[int]:
        """Return the ids of all attachments."""
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return set(conn.execute(text("SELECT id FROM attachment")).scalars())

    def new_attachment_id(self, before: set[int]) -> int:
        """Return the id of the one attachment not among ``before``.

        Attachment ids are random (invariant 2), so the newest is not the largest: taking
        ``max(id)`` fetched the warm-up's 1 MiB file for about one run in two.
        """
        (new,) = self.attachment_ids() - before
        return new

    def stored_size(self, attachment_id: int) -> int:
        """Return the size of an attachment's ciphertext."""
        return int(self._one("SELECT stored_size FROM attachment WHERE id = :i", i=attachment_id))

    def where_stored(self, attachment_id: int) -> str:
        """Say where the attachment's ciphertext is: chunk rows, or a file (and no spool)."""
        name = self._one("SELECT blob_name FROM attachment WHERE id = :i", i=attachment_id)
        chunks = int(self._one("SELECT count(*) FROM blob_chunk WHERE blob_name = :n", n=name))
        blobs = self.instance / "blobs"
        parts = [entry.name for entry in blobs.iterdir() if entry.name.endswith(".part")]
        file = "a file" if (blobs / name).exists() else "no file"
        return f"{chunks} chunk rows, {file}, {len(parts)} part files left"

    def close(self) -> None:
        self.engine.dispose()


# --- the run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """One transfer: how long it took and the server's memory during it (KiB)."""

    name: str
    seconds: float
    peak_kib: dict[str, int]
    pss_peak_kib: int
    peaks_reset: bool  # False: the kernel refused clear_refs, peaks are since process start


@dataclass(frozen=True)
class Report:
    """Everything the run measured."""

    size: int
    idle_rss_kib: dict[str, int]
    idle_pss_kib: int
    phases: list[Phase]
    stored_size: int
    where_stored: str
    database: str
    sha256: str  # of the file sent, and (checked) of the file received
    load: float
    started: datetime.datetime


def measure(server: Server, name: str, action: Callable[[], object]) -> Phase:
    """Run ``action`` (a transfer) and return its time and the server's peak memory."""
    reset = server.reset_peaks()
    began = time.perf_counter()
    with PssSampler(server) as sampler:
        action()
    seconds = time.perf_counter() - began
    return Phase(name, seconds, server.peak_kib(), sampler.peak_kib, reset)


def _check(received: Received, size: int, sent: str, log: Path) -> None:
    """Raise, saying how, unless the download is the file that was uploaded."""
    if received == Received(length=size, sha256=sent, content_length=size):
        return
    tail = log.read_text(errors="replace")[-3000:]
    raise RuntimeError(
        "the downloaded file differs from the uploaded one: "
        f"sent {size} bytes with SHA-256 {sent}; received {received.length} bytes with "
        f"SHA-256 {received.sha256}, announced Content-Length {received.content_length}\n"
        f"server log (end):\n{tail}"
    )


def run(size: int, admin_url: str | None = None) -> Report:
    """Serve a fresh instance, upload and download a ``size``-byte file, measure."""
    started = datetime.datetime.now(datetime.UTC)
    load = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="dissent-bench-") as folder,
        database(admin_url) as (database_url, database_text),
    ):
        instance = Path(folder) / "instance"
        log = Path(folder) / "server.log"
        create_instance(instance, database_url)
        records = Records(instance, database_url)
        server = Server(instance, log)
        try:
            browser = Browser(server.port)
            ref, token = file_observation(browser)
            url = f"/inbox/{ref}/attachments"
            # Warm-up: every code path of a transfer once, with a small file.
            small, warm = random_pieces(MIB, b"warm-up")
            browser.upload(url, token, small, MIB)
            warm_id = records.new_attachment_id(set())
            _check(browser.download(f"/inbox/attachments/{warm_id}"), MIB, warm.hexdigest(), log)
            time.sleep(0.5)
            idle_rss, idle_pss = server.rss_kib(), server.pss_kib()

            pieces, sent = random_pieces(size, secrets.token_bytes(16))
            upload = measure(server, "upload", lambda: browser.upload(url, token, pieces, size))
            attachment_id = records.new_attachment_id({warm_id})
            stored = records.stored_size(attachment_id)
            where_stored = records.where_stored(attachment_id)
            received: list[Received] = []
            download_phase = measure(
                server,
                "download",
                lambda: received.append(browser.download(f"/inbox/attachments/{attachment_id}")),
            )
            _check(received[0], size, sent.hexdigest(), log)
            photo = phone_photo()
            photo_phase = measure(
                server,
                f"12 MP photo ({len(photo) / MIB:.1f} MiB), cleaned",
                lambda: browser.upload(url, token, iter([photo]), len(photo)),
            )
        finally:
            server.stop()
            records.close()
    return Report(
        size=size,
        idle_rss_kib=idle_rss,
        idle_pss_kib=idle_pss,
        phases=[upload, download_phase, photo_phase],
        stored_size=stored,
        where_stored=where_stored,
        database=database_text,
        sha256=sent.hexdigest(),
        load=load,
        started=started,
    )


# --- output ----------------------------------------------------------------------------


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def verdict(phase: Phase) -> str:
    if phase.name not in ("upload", "download"):
        return "(no target)"
    return "met" if phase.peak_kib["worker"] < TARGET_MIB * 1024 else "missed"


def _label(report: Report, phase: Phase) -> str:
    if phase.name in ("upload", "download"):
        return f"{phase.name} {report.size / MIB:.0f} MiB"
    return phase.name


def _throughput(report: Report, phase: Phase) -> str:
    if phase.name not in ("upload", "download"):
        return ""
    return f"{report.size / MIB / phase.seconds:.0f} MiB/s"


def _growth(report: Report, phase: Phase) -> str:
    return f"{(phase.peak_kib['worker'] - report.idle_rss_kib['worker']) / 1024:+.1f} MiB"


def render_text(report: Report) -> str:
    """Return the figures as plain text."""
    lines = [
        f"database: {report.database}",
        f"{report.size / MIB:.0f} MiB file, stored as {report.stored_size / MIB:.1f} MiB "
        f"(padded, encrypted; {report.where_stored}); load average {report.load:.1f} at the "
        "start",
        f"SHA-256 sent and received (equal): {report.sha256}",
        f"idle after warm-up: worker RSS {mib(report.idle_rss_kib['worker'])}, "
        f"master RSS {mib(report.idle_rss_kib['master'])}, "
        f"master+worker PSS {mib(report.idle_pss_kib)}",
    ]
    if not all(phase.peaks_reset for phase in report.phases):
        lines.append("(the kernel refused clear_refs: peaks are since each process started)")
    for phase in report.phases:
        lines.append(
            f"{_label(report, phase)}: {phase.seconds:.1f} s {_throughput(report, phase)}; "
            f"peak RSS worker {mib(phase.peak_kib['worker'])} "
            f"({_growth(report, phase)} over idle), master {mib(phase.peak_kib['master'])}; "
            f"peak PSS master+worker {mib(phase.pss_peak_kib)}; "
            f"worker under {TARGET_MIB} MiB: {verdict(phase)}"
        )
    return "\n".join(lines)


def render_markdown(report: Report) -> str:
    """Return the figures as the table in docs/performance.md."""
    rows = [
        "| transfer | time | throughput | worker peak RSS | over idle | master peak RSS "
        "| master + worker peak PSS | worker < 100 MiB |",
        "|---|--:|--:|--:|--:|--:|--:|---|",
        f"| idle, after warm-up | | | {mib(report.idle_rss_kib['worker'])} | "
        f"| {mib(report.idle_rss_kib['master'])} | {mib(report.idle_pss_kib)} | |",
    ]
    for phase in report.phases:
        rows.append(
            f"| {_label(report, phase)} | {phase.seconds:.1f} s "
            f"| {_throughput(report, phase)} | {mib(phase.peak_kib['worker'])} "
            f"| {_growth(report, phase)} | {mib(phase.peak_kib['master'])} "
            f"| {mib(phase.pss_peak_kib)} | {verdict(phase)} |"
        )
    rows.append("")
    rows.append(
        f"Measured {report.started:%Y-%m-%d} on {report.database}, load average "
        f"{report.load:.1f} at the start; the {report.size / MIB:.0f} MiB file was stored as "
        f"{report.stored_size / MIB:.1f} MiB (padded and encrypted; {report.where_stored}) "
        f"and came back with the SHA-256 it was sent with ({report.sha256[:16]}…); "
        f"Python {platform.python_version()}."
    )
    if not all(phase.peaks_reset for phase in report.phases):
        rows.append("(The kernel refused clear_refs: peaks are since each process started.)")
    return "\n".join(rows)


def main() -> None:
    """Parse arguments; serve (as the child) or run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=DEFAULT_SIZE_MIB, help="file size")
    parser.add_argument("--markdown", action="store_true", help="print the table for the docs")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (SQLAlchemy URL) to create the run's own database on; "
        "default: SQLite in the instance folder",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--instance", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main(args.serve, args.instance)
        return
    if args.size_mib < 1:
        parser.error("--size-mib must be at least 1")
    if args.database_url and not args.database_url.startswith("postgresql"):
        parser.error("--database-url must name a PostgreSQL server (postgresql+psycopg://…)")
    report = run(args.size_mib * MIB, args.database_url)
    print(render_markdown(report) if args.markdown else render_text(report))


if __name__ == "__main__":
    main()
