"""Benchmark the core loop over HTTP: a source's follow-up message and a new observation.

Run with ``.venv/bin/python benchmarks/submit.py [--duration S] [--concurrency N] [--markdown]``;
the "Core loop" figures in docs/performance.md come from it. In one run, on this machine:

* (a) logged-in sources POST the reply form (``/inbox/<ref>/reply``) to dissent served by
  gunicorn exactly as ``dissent serve`` serves it, interleaved with the same requests to a
  bare Flask app (one POST view, no database, no crypto) served with the same settings:
  requests/s, latency percentiles, server CPU per request, and the dissent / bare ratio.
  A third server, "required work only", is bare Flask plus nothing but what the design
  requires of the message (open the sealed session, compare the CSRF token, the two
  queries, sealing to every reader, the INSERT and its durable commit), with dissent's
  own functions for each: the ceiling any implementation of this design reaches here;
* (b) new observations, each with its codename derivation under the production Argon2id
  parameters: one at a time, next to the bare derivation timed in this process, and in
  bursts of concurrent new sources with ``max_concurrent_kdf`` at its default and at 1,
  with the peak memory of the server processes; a request unanswered for REQUEST_TIMEOUT
  seconds is reported as hung.

The database is a fresh SQLite file in a temporary instance, or, with
``DISSENT_BENCH_DATABASE_URL`` set to a PostgreSQL server, a database created there for the
run and dropped afterwards. The load generator is this script: one process per client, each
with one keep-alive ``http.client`` connection and its own cookies.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import math
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from flask import Flask, redirect, request
from flask.typing import ResponseReturnValue

MIB = 1024 * 1024
DEFAULT_DURATION = 20.0
DEFAULT_CONCURRENCY = 8
# What `dissent serve` starts (its --workers default); run_server adds 4 gthread threads each.
WORKERS = 2
THREADS_PER_WORKER = 4
# The target: dissent at no less than a quarter of bare Flask's throughput.
THROUGHPUT_TARGET = 0.25
# Reply and bare phases alternate in this many slices, so that a busy spell of the shared
# machine hits both sides alike.
ROUNDS = 4
WARM_UP_SECONDS = 1.0
WARM_UP_SUBMISSIONS = 2 * WORKERS
RSS_SAMPLE_SECONDS = 0.02
# A request still unanswered after this long is counted as hung (a normal submission in
# a burst waits a few seconds at most), and a server not gone this long after SIGTERM
# is killed.
REQUEST_TIMEOUT = 15.0
STOP_SECONDS = 5.0
# The load generator runs on one core and the servers of part (a) on the other (see
# docs/performance.md for why); part (b) runs unpinned, as Argon2id uses both cores.
SERVER_CPUS = frozenset({0})
CLIENT_CPUS = frozenset({1})


def can_pin() -> bool:
    """Return whether this process may run on both the server's and the client's CPUs."""
    return (SERVER_CPUS | CLIENT_CPUS).issubset(os.sched_getaffinity(0))


PASSWORD = "benchmark horse battery staple"
MESSAGE = (
    "The figures in the annex were changed after the field visit; the original table "
    "is on the shared drive, version of the 14th. Ask me if you need the exact cells."
)
OBSERVATION = {
    "category": "reporting_accuracy",
    "what": "Literacy figures in the quarterly report were rounded up from the survey.",
    "when": "last_month",
    "where": "",
    "contradicts": "yes",
    "official_report": "Q3 progress report",
    "consent": "ask_first",
}
SOURCE_COOKIE = "__Host-dissent-source"
FORM_TYPE = "application/x-www-form-urlencoded"


# --- the bare baseline ----------------------------------------------------------------


def bare_app() -> Flask:
    """Return the baseline: the reply route reading its form field, no database, no crypto."""
    app = Flask("bare")

    @app.post("/inbox/<ref>/reply")
    def reply(ref: str) -> ResponseReturnValue:
        if not request.form.get("text"):
            return "a message is needed", 400
        return redirect(f"/inbox#thread-{ref}", code=303)

    return app


def required_app(instance: Path) -> Flask:
    """Return the floor of the design's cost: bare Flask plus only the required work.

    The view does what a follow-up message cannot do without: open the sealed session
    record, compare the CSRF token, read the observation and the readers' keys, seal
    the text to each reader and INSERT it with a commit that waits for the disk; with
    dissent's own code for each part. It leaves out everything else dissent does on
    every request (forms, access rules, NUL check, security headers, translations), so
    its throughput is the ceiling of the design on this machine, not a product.
    """
    from dissent.app import create_app
    from dissent.extensions import db
    from dissent.services import conversation
    from dissent.services.context import ServiceContext
    from dissent.web.forms import CSRF_PURPOSE

    product = create_app({"INSTANCE_PATH": str(instance)})
    interface = product.session_interface
    engine = db.engine(product)
    context: ServiceContext = product.extensions["dissent.context"]
    app = Flask("required")

    @app.post("/inbox/<ref>/reply")
    def reply(ref: str) -> ResponseReturnValue:
        session = interface.open_session(product, request)
        source_id = session.get("source_id")
        token = request.form.get("csrf_token", "")
        if source_id is None or not session.check_token(CSRF_PURPOSE, token):
            return "refused", 403
        with engine.begin() as connection:
            conversation.post_source_message(
                connection, context, source_id=source_id, ref=ref, text=request.form["text"]
            )
        return redirect(f"/inbox#thread-{ref}", code=303)

    return app


def serve_main(kind: str, port: int, instance: Path | None, cpus: str, kdf_slots: int) -> None:
    """Serve dissent or the bare app on ``port`` with the settings of ``dissent serve``."""
    from dissent.cli.instance import run_server

    if cpus:
        os.sched_setaffinity(0, {int(cpu) for cpu in cpus.split(",")})
    if kind == "dissent":
        from dissent.app import create_app

        config: dict[str, object] = {"INSTANCE_PATH": str(instance)}
        if kdf_slots:
            config["MAX_CONCURRENT_KDF"] = kdf_slots
        app = create_app(config)
    elif kind == "required":
        assert instance is not None
        app = required_app(instance)
    else:
        app = bare_app()
    run_server(app, host="127.0.0.1", port=port, workers=WORKERS)


# --- the servers, seen from outside ---------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry}/stat", encoding="ascii") as f:
            # The fields after the command name (which may hold spaces): state, ppid, ...
            if int(f.read().rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry))
    return found


def _cpu_seconds(pid: int) -> float:
    """Return utime + stime of ``pid`` (all its threads) in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, name: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """A gunicorn server in a child process: its master and worker pids, CPU and memory."""

    def __init__(
        self, kind: str, workdir: Path, *, instance: Path | None, pinned: bool, kdf_slots: int
    ) -> None:
        self.kind = kind
        self.port = _free_port()
        self.log = workdir / f"{kind}-{self.port}.log"
        command = [sys.executable, __file__, "--serve", kind, "--port", str(self.port)]
        if instance is not None:
            command += ["--instance", str(instance)]
        if kdf_slots:
            command += ["--kdf-slots", str(kdf_slots)]
        if pinned:
            command += ["--cpus", ",".join(str(cpu) for cpu in sorted(SERVER_CPUS))]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self.workers = self._wait_until_up()

    def _wait_until_up(self, timeout: float = 60.0) -> list[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            workers = _children(self.process.pid)
            if len(workers) == WORKERS:
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return workers
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the {self.kind} server did not start:\n{self.log.read_text()}")

    def log_tail(self, lines: int = 20) -> str:
        """Return the end of the server's output (gunicorn's error log)."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    @property
    def pids(self) -> list[int]:
        """Return the master's pid and its workers'."""
        return [self.process.pid, *self.workers]

    def cpu_seconds(self) -> float:
        """Return the CPU time of the master and workers so far."""
        if sorted(_children(self.process.pid)) != sorted(self.workers):
            raise RuntimeError(f"a {self.kind} worker was restarted:\n{self.log.read_text()}")
        return sum(_cpu_seconds(pid) for pid in self.pids)

    def rss_kib(self) -> int:
        """Return the resident memory of the master and workers now."""
        return sum(_status_kib(pid, "VmRSS") for pid in self.pids)

    def peak_rss_kib(self) -> dict[int, int]:
        """Return each process's high-water mark of resident memory (VmHWM)."""
        return {pid: _status_kib(pid, "VmHWM") for pid in self.pids}

    def stop(self) -> None:
        """Stop gunicorn (SIGTERM to the master); kill a master or worker that hangs."""
        if self.process.poll() is not None:
            return
        workers = _children(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            # A worker whose threads are stuck never finishes its graceful exit.
            for pid in [*workers, self.process.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait()


@contextlib.contextmanager
def serving(
    kind: str,
    workdir: Path,
    *,
    instance: Path | None = None,
    pinned: bool = False,
    kdf_slots: int = 0,
) -> Iterator[Server]:
    """Run a server for the duration of the block (``kdf_slots``: max_concurrent_kdf)."""
    server = Server(kind, workdir, instance=instance, pinned=pinned, kdf_slots=kdf_slots)
    try:
        yield server
    finally:
        server.stop()


class RssMonitor:
    """Samples the summed RSS of a server's processes in a thread; keeps the maximum."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._stop = threading.Event()
        self.peak_kib = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, self._server.rss_kib())
            self._stop.wait(RSS_SAMPLE_SECONDS)

    def __enter__(self) -> RssMonitor:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- a browser ------------------------------------------------------------------------


class Browser:
    """One keep-alive connection with its own cookies, as a source's browser would hold.

    The session cookies are ``__Host-`` Secure cookies; a browser only sends them over
    HTTPS, but the server cannot tell, so this plain-HTTP client keeps and returns them.
    """

    def __init__(self, port: int, timeout: float = REQUEST_TIMEOUT) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Send one request; return status, headers and body (redirects are not followed)."""
        headers = {"Host": "localhost"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = FORM_TYPE
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            pair, _, attributes = cookie.partition(";")
            name, _, value = pair.strip().partition("=")
            if "max-age=0" in attributes.lower().replace(" ", "") or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response.status, response.headers, data

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def _find(pattern: bytes, page: bytes, what: str) -> str:
    match = re.search(pattern, page)
    if match is None:
        raise RuntimeError(f"no {what} in the page:\n{page[:2000].decode(errors='replace')}")
    return match.group(1).decode()


def _csrf(page: bytes) -> str:
    return _find(rb'name="csrf_token" type="hidden" value="([^"]+)"', page, "CSRF token")


def _expect(status: int, want: int, what: str, body: bytes) -> None:
    if status != want:
        raise RuntimeError(f"{what}: HTTP {status}, expected {want}:\n{body[:2000]!r}")


def submission_form(browser: Browser) -> dict[str, str]:
    """Open the observation form in a fresh session; return the filled-in fields."""
    browser.cookies.clear()
    status, _, page = browser.request("GET", "/submit")
    _expect(status, 200, "GET /submit", page)
    return {
        "csrf_token": _csrf(page),
        "submit_token": _find(rb'name="submit_token" type="hidden" value="([^"]+)"', page, "token"),
        "mission": _find(rb'name="mission" value="(\d+)"', page, "mission"),
        **OBSERVATION,
    }


@dataclass(frozen=True)
class SourceLogin:
    """What a logged-in source's browser holds to post a follow-up message."""

    cookie: str
    csrf_token: str
    ref: str


def finish_submission(browser: Browser) -> SourceLogin:
    """Confirm the codename was written down, then read the ref and token from the inbox."""
    status, _, page = browser.request("GET", "/submit/codename")
    _expect(status, 200, "GET /submit/codename", page)
    status, _, page = browser.request(
        "POST", "/submit/codename", {"csrf_token": _csrf(page), "saved": "y"}
    )
    _expect(status, 303, "POST /submit/codename", page)
    status, _, page = browser.request("GET", "/inbox")
    _expect(status, 200, "GET /inbox", page)
    ref = _find(rb'action="/inbox/([A-Z0-9-]+)/reply"', page, "reply form")
    return SourceLogin(browser.cookies[SOURCE_COOKIE], _csrf(page), ref)


# --- load -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientRun:
    """What one client process did: latencies of the timed requests and its own CPU."""

    latencies: list[float]
    errors: int
    hung: int
    first_error: str
    finished: float
    cpu_seconds: float


def _reply_client(
    port: int, login: SourceLogin, start: float, end: float, pinned: bool
) -> ClientRun:
    """Post the reply form from ``start`` until ``end`` (wall clock); time each request."""
    if pinned:
        os.sched_setaffinity(0, CLIENT_CPUS)
    browser = Browser(port)
    browser.cookies[SOURCE_COOKIE] = login.cookie
    form = {"csrf_token": login.csrf_token, "text": MESSAGE}
    path = f"/inbox/{login.ref}/reply"
    latencies, errors, first_error = [], 0, ""
    time.sleep(max(0.0, start - time.time()))
    cpu_start = time.process_time()
    while time.time() < end:
        began = time.perf_counter()
        status, _, body = browser.request("POST", path, form)
        latencies.append(time.perf_counter() - began)
        if status != 303:
            errors += 1
            first_error = first_error or f"HTTP {status}: {body[:300]!r}"
    browser.close()
    return ClientRun(
        latencies, errors, 0, first_error, time.time(), time.process_time() - cpu_start
    )


def _submit_client(port: int, _login: None, start: float, end: float, _pin: bool) -> ClientRun:
    """File observations as new sources from ``start`` until ``end``; time each POST.

    A request with no answer within REQUEST_TIMEOUT is counted as hung, and the client
    stops: its connection is lost, and a server that hangs once tends to hang again.
    """
    browser = Browser(port)
    latencies, errors, hung, first_error = [], 0, 0, ""
    time.sleep(max(0.0, start - time.time()))
    cpu_start = time.process_time()
    while time.time() < end:
        try:
            form = submission_form(browser)
            began = time.perf_counter()
            status, _, body = browser.request("POST", "/submit", form)
        except TimeoutError:
            hung += 1
            break
        latencies.append(time.perf_counter() - began)
        if status != 200:  # the codename page is the answer to the form
            errors += 1
            first_error = first_error or f"HTTP {status}: {body[:300]!r}"
    browser.close()
    return ClientRun(
        latencies, errors, hung, first_error, time.time(), time.process_time() - cpu_start
    )


@dataclass
class LoadResult:
    """Requests, time, latencies and CPU of one kind of load, summed over its slices."""

    name: str
    requests: int = 0
    errors: int = 0
    hung: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)
    slice_rates: list[float] = field(default_factory=list)

    def add(self, other: LoadResult) -> None:
        """Fold another slice of the same load into this one."""
        self.requests += other.requests
        self.errors += other.errors
        self.hung += other.hung
        self.seconds += other.seconds
        self.server_cpu += other.server_cpu
        self.client_cpu += other.client_cpu
        self.latencies += other.latencies
        self.slice_rates += other.slice_rates

    @property
    def rate(self) -> float:
        """Return requests per second answered as expected."""
        return (self.requests - self.errors) / self.seconds

    def percentile_ms(self, p: float) -> float:
        """Return the ``p``-th percentile latency (nearest rank) in milliseconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000

    @property
    def server_ms_per_request(self) -> float:
        """Return the server's CPU time per request in milliseconds."""
        return self.server_cpu / self.requests * 1000 if self.requests else math.nan

    @property
    def client_ms_per_request(self) -> float:
        """Return the load generator's CPU time per request in milliseconds."""
        return self.client_cpu / self.requests * 1000 if self.requests else math.nan


Login = TypeVar("Login")


def run_load(
    name: str,
    server: Server,
    client: Callable[[int, Login, float, float, bool], ClientRun],
    logins: Sequence[Login],
    seconds: float,
    *,
    pinned: bool = False,
) -> LoadResult:
    """Run one client process per login against ``server`` for ``seconds``."""
    context = multiprocessing.get_context("fork")
    with context.Pool(len(logins)) as pool:
        # The clients connect and wait for a common start, so all of them load the
        # whole window and none of the set-up is counted.
        start = time.time() + 0.3
        end = start + seconds
        pending = [
            pool.apply_async(client, (server.port, login, start, end, pinned)) for login in logins
        ]
        time.sleep(max(0.0, start - time.time()))
        cpu_before = server.cpu_seconds()
        runs = [p.get() for p in pending]
        cpu_after = server.cpu_seconds()
    errors, hung = sum(r.errors for r in runs), sum(r.hung for r in runs)
    if errors or hung:
        first = next((r.first_error for r in runs if r.errors), "")
        print(
            f"warning: {name}: {errors} failed and {hung} hung requests. {first[:100]}\n"
            f"The server's log ends:\n{server.log_tail()}",
            file=sys.stderr,
        )
    requests = sum(len(r.latencies) for r in runs)
    elapsed = max(r.finished for r in runs) - start
    return LoadResult(
        name=name,
        requests=requests,
        errors=errors,
        hung=hung,
        seconds=elapsed,
        server_cpu=cpu_after - cpu_before,
        client_cpu=sum(r.cpu_seconds for r in runs),
        latencies=[t for r in runs for t in r.latencies],
        slice_rates=[(requests - errors) / elapsed],
    )


# --- set-up ---------------------------------------------------------------------------


@contextlib.contextmanager
def database(workdir: Path) -> Iterator[tuple[str | None, str]]:
    """Yield the database URL for the instance (None: SQLite there) and its description."""
    admin_url = os.environ.get("DISSENT_BENCH_DATABASE_URL", "")
    if not admin_url:
        yield None, "SQLite (a fresh file in a temporary instance folder, WAL, synchronous=FULL)"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"dissent_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False), f"PostgreSQL ({url.set(password=None)})"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def create_instance(
    instance: Path, database_url: str | None, keys: str = "hybrid", *, unbudgeted: bool = True
) -> None:
    """Initialise an instance with one mission and one enrolled adviser.

    ``unbudgeted``: hourly filing budgets far above what a run files, so that bursts of
    new sources measure filing, not its budget (benchmarks/filing_budget.py measures that).
    """
    from dissent.app import create_app
    from dissent.config import INSTANCE_FILE, MAX_FILING_BUDGET_MIB, MAX_FILING_BUDGET_OBSERVATIONS
    from dissent.crypto import KeyKind
    from dissent.extensions import current_context, db
    from dissent.models import Role
    from dissent.services import accounts
    from dissent.services.instance import initialise_instance

    initialise_instance(
        instance,
        kind=KeyKind.X25519 if keys == "x25519" else KeyKind.HYBRID,
        threshold=2,
        custodians=3,
        database_url=database_url,
        public_url="http://127.0.0.1:5000",  # `dissent serve` needs one; no link is followed
    )
    if unbudgeted:
        settings_file = instance / INSTANCE_FILE
        values = json.loads(settings_file.read_text())
        values.update(filing_budget_observations=MAX_FILING_BUDGET_OBSERVATIONS)
        values.update(filing_budget_mission_observations=MAX_FILING_BUDGET_OBSERVATIONS)
        values.update(filing_budget_mib=MAX_FILING_BUDGET_MIB)
        values.update(filing_budget_mission_mib=MAX_FILING_BUDGET_MIB)
        settings_file.write_text(json.dumps(values, indent=2) + "\n")
    app = create_app({"INSTANCE_PATH": str(instance)})
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="bench", name="Benchmark mission")
        user, _token = accounts.create_account(
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


# --- (b) submissions ------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Mean, min and max of a few wall-clock times, and the mean CPU time, in ms."""

    mean_ms: float
    min_ms: float
    max_ms: float
    cpu_ms: float

    @classmethod
    def of(cls, wall: list[float], cpu: list[float]) -> Timing:
        """Summarise seconds of wall-clock and CPU time."""
        ms = [t * 1000 for t in wall]
        return cls(statistics.mean(ms), min(ms), max(ms), statistics.mean(cpu) * 1000)


def file_observation(server: Server) -> tuple[SourceLogin, float, float]:
    """File one observation as a new source; return its login and the POST's wall and CPU."""
    browser = Browser(server.port)
    form = submission_form(browser)
    cpu_before = server.cpu_seconds()
    began = time.perf_counter()
    status, _, body = browser.request("POST", "/submit", form)
    wall = time.perf_counter() - began
    cpu = server.cpu_seconds() - cpu_before
    _expect(status, 200, "POST /submit", body)
    login = finish_submission(browser)
    browser.close()
    return login, wall, cpu


def measure_one_at_a_time(server: Server, count: int) -> tuple[list[SourceLogin], Timing, Timing]:
    """File ``count`` observations one at a time, each after one bare derivation here.

    Interleaved, so that a busy spell of the machine hits both alike. Returns the
    logins, the cost of ``POST /submit`` and that of ``derive_source_keys`` alone.
    """
    from dissent.crypto.codename import DEFAULT_KDF_PARAMS, derive_source_keys, generate_codename

    codename, salt = generate_codename(), os.urandom(32)
    derive_source_keys(codename, salt=salt, params=DEFAULT_KDF_PARAMS)  # warm-up
    logins, kdf_wall, kdf_cpu, post_wall, post_cpu = [], [], [], [], []
    for _ in range(count):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        derive_source_keys(codename, salt=salt, params=DEFAULT_KDF_PARAMS)
        kdf_wall.append(time.perf_counter() - wall_start)
        kdf_cpu.append(time.process_time() - cpu_start)
        login, wall, cpu = file_observation(server)
        logins.append(login)
        post_wall.append(wall)
        post_cpu.append(cpu)
    return logins, Timing.of(post_wall, post_cpu), Timing.of(kdf_wall, kdf_cpu)


@dataclass(frozen=True)
class Burst:
    """Concurrent submissions under one KDF limit: load figures and the server's memory."""

    kdf_slots: int
    load: LoadResult
    idle_rss_mib: float
    peak_rss_mib: float
    peak_hwm_mib: dict[str, float]

    @property
    def growth_mib(self) -> float:
        """Return how far the burst raised the servers' summed RSS above idle."""
        return self.peak_rss_mib - self.idle_rss_mib

    def allowance_mib(self, kdf_memory_mib: int) -> int:
        """Return the memory of every KDF slot of every worker in use at once."""
        return WORKERS * self.kdf_slots * kdf_memory_mib

    def bounded(self, kdf_memory_mib: int) -> bool:
        """Return whether the growth shows no more derivations at once than the slots."""
        return self.growth_mib < self.allowance_mib(kdf_memory_mib) + kdf_memory_mib


def measure_burst(server: Server, concurrency: int, seconds: float, kdf_slots: int) -> Burst:
    """File observations from ``concurrency`` new sources at once for ``seconds``."""
    idle = server.rss_kib()
    with RssMonitor(server) as monitor:
        load = run_load(
            f"submissions, max_concurrent_kdf {kdf_slots}",
            server,
            _submit_client,
            [None] * concurrency,
            seconds,
        )
    hwm = server.peak_rss_kib()
    names = ["master"] + [f"worker {n}" for n in range(1, len(server.workers) + 1)]
    return Burst(
        kdf_slots=kdf_slots,
        load=load,
        idle_rss_mib=idle / 1024,
        peak_rss_mib=monitor.peak_kib / 1024,
        peak_hwm_mib={name: hwm[pid] / 1024 for name, pid in zip(names, server.pids, strict=True)},
    )


# --- (a) replies ----------------------------------------------------------------------

REPLY_SERVERS = {
    "dissent": "dissent",
    "bare": "bare Flask",
    "required": "required work only",
}


def measure_replies(
    servers: Sequence[Server], logins: list[SourceLogin], seconds: float, *, pinned: bool
) -> list[LoadResult]:
    """Load the reply route of each server alike, in alternating slices."""
    results = [LoadResult(REPLY_SERVERS[server.kind]) for server in servers]
    for server in servers:
        run_load("warm-up", server, _reply_client, logins, WARM_UP_SECONDS, pinned=pinned)
    for _ in range(ROUNDS):
        for server, result in zip(servers, results, strict=True):
            slice_ = run_load(
                result.name, server, _reply_client, logins, seconds / ROUNDS, pinned=pinned
            )
            result.add(slice_)
    return results


# --- report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """Everything one run measured."""

    date: str
    load_average: str
    database: str
    keys: str
    concurrency: int
    duration: float
    dissent: LoadResult
    bare: LoadResult
    required: LoadResult
    sequential: Timing
    kdf: Timing
    bursts: list[Burst]
    kdf_memory_mib: int
    pinned: bool

    @property
    def ratio(self) -> float:
        """Return dissent's throughput as a share of bare Flask's."""
        return self.dissent.rate / self.bare.rate

    @property
    def ceiling(self) -> float:
        """Return the required work's throughput as a share of bare Flask's."""
        return self.required.rate / self.bare.rate

    @property
    def cpu_ratio(self) -> float:
        """Return bare Flask's server CPU per request as a share of dissent's."""
        return self.bare.server_ms_per_request / self.dissent.server_ms_per_request


def _placement(report: Report) -> str:
    if not report.pinned:
        return "servers and load generator unpinned (fewer than two CPUs to pin to)"
    return f"servers on CPU {sorted(SERVER_CPUS)}, load generator on CPU {sorted(CLIENT_CPUS)}"


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _settings(report: Report) -> str:
    return (
        f"gunicorn gthread, {WORKERS} workers x {THREADS_PER_WORKER} threads (run_server), "
        f"no access log; {report.concurrency} clients; {report.database}; "
        f"{report.keys} keys"
    )


LOAD_HEADER = (
    "server",
    "req/s",
    "req/s by slice",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "server CPU ms/req",
    "client CPU ms/req",
    "requests",
)


def _load_row(r: LoadResult) -> tuple[str, ...]:
    return (
        r.name,
        f"{r.rate:.0f}",
        f"{min(r.slice_rates):.0f}-{max(r.slice_rates):.0f}",
        f"{r.percentile_ms(50):.1f}",
        f"{r.percentile_ms(95):.1f}",
        f"{r.percentile_ms(99):.1f}",
        f"{r.server_ms_per_request:.2f}",
        f"{r.client_ms_per_request:.2f}",
        f"{r.requests}",
    )


BURST_HEADER = (
    "max_concurrent_kdf",
    "submissions/s",
    "p50",
    "p95",
    "p99",
    "server CPU per submission",
    "failed",
    "hung",
    "idle RSS",
    "peak RSS",
    "growth",
    "KDF slots x Argon2 memory",
    "bounded",
)


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f} ms"


def _burst_row(b: Burst, kdf_memory_mib: int) -> tuple[str, ...]:
    load = b.load
    return (
        f"{b.kdf_slots}",
        f"{load.rate:.2f}",
        _ms(load.percentile_ms(50)),
        _ms(load.percentile_ms(95)),
        _ms(load.percentile_ms(99)),
        _ms(load.server_ms_per_request),
        f"{load.errors} of {load.requests + load.hung}",
        f"{load.hung} of {load.requests + load.hung}",
        f"{b.idle_rss_mib:.0f} MiB",
        f"{b.peak_rss_mib:.0f} MiB",
        f"{b.growth_mib:+.0f} MiB",
        f"{WORKERS} x {b.kdf_slots} x {kdf_memory_mib} = {b.allowance_mib(kdf_memory_mib)} MiB",
        "yes" if b.bounded(kdf_memory_mib) else "NO",
    )


def _hwm(b: Burst) -> str:
    return ", ".join(f"{n} {v:.0f} MiB" for n, v in b.peak_hwm_mib.items())


def _bounded_note(report: Report) -> str:
    return (
        "bounded: the growth is less than one more derivation's memory beyond what the "
        f"slots allow (unbounded, {report.concurrency} clients could hold "
        f"{report.concurrency * report.kdf_memory_mib} MiB); RSS is summed over master and "
        "workers, so pages they share are counted in each"
    )


def _hung_note(report: Report) -> list[str]:
    return [
        f"max_concurrent_kdf {b.kdf_slots}: {b.load.hung} submission(s) got no answer within "
        f"{REQUEST_TIMEOUT:.0f} s; the server stopped answering submissions"
        for b in report.bursts
        if b.load.hung
    ]


def render_text(report: Report) -> str:
    """Return the report as plain text."""
    k, s = report.kdf, report.sequential
    lines = [
        f"dissent core-loop benchmark, {report.date}",
        f"  load average at start: {report.load_average}",
        f"  {_settings(report)}",
        "",
        f"(a) Follow-up message: POST /inbox/<ref>/reply, {report.duration:.0f} s each, "
        f"in {ROUNDS} alternating slices; {_placement(report)}",
        "  " + " | ".join(LOAD_HEADER),
        "  " + " | ".join(_load_row(report.dissent)),
        "  " + " | ".join(_load_row(report.bare)),
        "  " + " | ".join(_load_row(report.required)),
        f"  dissent / bare throughput: {report.ratio:.1%}  "
        f"{_verdict(report.ratio >= THROUGHPUT_TARGET)} (target >= {THROUGHPUT_TARGET:.0%}); "
        f"by server CPU per request: {report.cpu_ratio:.1%}",
        f"  required work only / bare: {report.ceiling:.1%} (the design's ceiling here); "
        f"dissent / required work only: {report.dissent.rate / report.required.rate:.1%}",
        "",
        f"(b) New observation with codename derivation (Argon2id, {report.kdf_memory_mib} MiB)",
        f"  one at a time, {report.concurrency} of each, interleaved:",
        f"    derive_source_keys in-process: mean {k.mean_ms:.0f} ms (min {k.min_ms:.0f}, "
        f"max {k.max_ms:.0f}), CPU {k.cpu_ms:.0f} ms",
        f"    POST /submit: mean {s.mean_ms:.0f} ms (min {s.min_ms:.0f}, max {s.max_ms:.0f}), "
        f"server CPU {s.cpu_ms:.0f} ms ({s.cpu_ms - k.cpu_ms:+.0f} ms beyond the derivation)",
        f"  bursts of {report.concurrency} concurrent new sources, {report.duration:.0f} s each "
        "(latency of the POST; CPU of GET form + POST):",
        "  " + " | ".join(BURST_HEADER),
    ]
    for b in report.bursts:
        lines.append("  " + " | ".join(_burst_row(b, report.kdf_memory_mib)))
        lines.append(f"    VmHWM (max_concurrent_kdf {b.kdf_slots}): {_hwm(b)}")
    lines.append(f"  {_bounded_note(report)}")
    lines += [f"  {note}" for note in _hung_note(report)]
    return "\n".join(lines)


def _md_row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_markdown(report: Report) -> str:
    """Return the report as a markdown section for docs/performance.md."""
    k, s = report.kdf, report.sequential
    out = [
        f"Measured {report.date} with `.venv/bin/python benchmarks/submit.py"
        f"{'' if report.keys == 'hybrid' else ' --keys ' + report.keys}` "
        f"({report.duration:.0f} s per load, load average {report.load_average} at the start).",
        "",
        f"Settings: {_settings(report)}.",
        "",
        "**Follow-up message** (`POST /inbox/<ref>/reply`, answered 303; target: dissent at "
        f"least {THROUGHPUT_TARGET:.0%} of bare Flask; {ROUNDS} alternating slices each; "
        f"{_placement(report)})",
        "",
        _md_row(LOAD_HEADER),
        "|---|" + "--:|" * (len(LOAD_HEADER) - 1),
        _md_row(_load_row(report.dissent)),
        _md_row(_load_row(report.bare)),
        _md_row(_load_row(report.required)),
        "",
        f"dissent / bare: **{report.ratio:.1%}** of the throughput "
        f"({_verdict(report.ratio >= THROUGHPUT_TARGET)}); {report.cpu_ratio:.1%} by server "
        f"CPU per request. Required work only / bare: **{report.ceiling:.1%}** (the "
        "design's ceiling on this machine); dissent reaches "
        f"{report.dissent.rate / report.required.rate:.1%} of it.",
        "",
        f"**New observation** (Argon2id, {report.kdf_memory_mib} MiB)",
        "",
        f"One at a time, {report.concurrency} of each, interleaved:",
        "",
        "| what | mean | min | max | CPU |",
        "|---|--:|--:|--:|--:|",
        f"| `derive_source_keys` in-process | {k.mean_ms:.0f} ms "
        f"| {k.min_ms:.0f} ms | {k.max_ms:.0f} ms | {k.cpu_ms:.0f} ms |",
        f"| `POST /submit` | {s.mean_ms:.0f} ms "
        f"| {s.min_ms:.0f} ms | {s.max_ms:.0f} ms | {s.cpu_ms:.0f} ms (server) |",
        "",
        f"Bursts: {report.concurrency} new sources at once for {report.duration:.0f} s, each "
        "filing observation after observation (latency of the POST; server CPU of the form's "
        "GET and the POST):",
        "",
        _md_row(BURST_HEADER),
        "|--:|" + "--:|" * (len(BURST_HEADER) - 1),
        *(_md_row(_burst_row(b, report.kdf_memory_mib)) for b in report.bursts),
        "",
        _bounded_note(report)[0].upper() + _bounded_note(report)[1:] + ".",
        "",
        *(f"Peak RSS (VmHWM), max_concurrent_kdf {b.kdf_slots}: {_hwm(b)}." for b in report.bursts),
        *(f"**{note}**." for note in _hung_note(report)),
    ]
    return "\n".join(out)


def run(concurrency: int, duration: float, keys: str = "hybrid") -> Report:
    """Set up an instance, start the servers, measure everything and return the report."""
    from dissent.config import DEFAULT_MAX_CONCURRENT_KDF
    from dissent.crypto.codename import DEFAULT_KDF_PARAMS

    load_average = " ".join(f"{load:.2f}" for load in os.getloadavg())
    pinned = can_pin()
    with (
        tempfile.TemporaryDirectory(prefix="dissent-bench-") as tmp,
        database(Path(tmp)) as (database_url, database_text),
    ):
        workdir = Path(tmp)
        instance = workdir / "instance"
        create_instance(instance, database_url, keys)
        # (b) first: its first sources are the logged-in clients of (a).
        with serving("dissent", workdir, instance=instance) as server:
            logins, sequential, kdf = measure_one_at_a_time(server, concurrency)
            bursts = [measure_burst(server, concurrency, duration, DEFAULT_MAX_CONCURRENT_KDF)]
        # A wider gate (two requests per worker let in): derivations are serialised in
        # the process anyway (codename._ARGON2_LOCK), so memory must stay bounded and
        # nothing may hang, the deadlock this benchmark once found. Warmed up like the
        # first server, so that its idle memory is comparable.
        wider = DEFAULT_MAX_CONCURRENT_KDF + 1
        with serving("dissent", workdir, instance=instance, kdf_slots=wider) as server:
            for _ in range(WARM_UP_SUBMISSIONS):
                file_observation(server)
            bursts.append(measure_burst(server, concurrency, duration, wider))
        with (
            serving("dissent", workdir, instance=instance, pinned=pinned) as dissent,
            serving("bare", workdir, pinned=pinned) as bare,
            serving("required", workdir, instance=instance, pinned=pinned) as required,
        ):
            dissent_load, bare_load, required_load = measure_replies(
                [dissent, bare, required], logins, duration, pinned=pinned
            )
    return Report(
        date=datetime.date.today().isoformat(),
        load_average=load_average,
        database=database_text,
        keys=keys,
        concurrency=concurrency,
        duration=duration,
        dissent=dissent_load,
        bare=bare_load,
        required=required_load,
        sequential=sequential,
        kdf=kdf,
        bursts=bursts,
        kdf_memory_mib=DEFAULT_KDF_PARAMS.memory_cost_kib // 1024,
        pinned=pinned,
    )


def main() -> None:
    """Parse the command line, run the benchmark and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION, help="s per load")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="clients")
    parser.add_argument("--markdown", action="store_true", help="print a markdown section")
    parser.add_argument(
        "--keys",
        choices=("hybrid", "x25519"),
        default="hybrid",
        help="the instance's key kind (hybrid: the default of dissent init)",
    )
    parser.add_argument("--serve", choices=tuple(REPLY_SERVERS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--instance", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cpus", default="", help=argparse.SUPPRESS)
    parser.add_argument("--kdf-slots", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_main(args.serve, args.port, args.instance, args.cpus, args.kdf_slots)
        return
    if args.duration <= 0 or args.concurrency < 1:
        parser.error("--duration must be positive and --concurrency at least 1")
    report = run(args.concurrency, args.duration, args.keys)
    print(render_markdown(report) if args.markdown else render_text(report))


if __name__ == "__main__":
    main()
