"""Fault injection under load: kill -9 of every server process, a frozen database backend.

Run with ``.venv/bin/python benchmarks/faults.py [--kills N] [--clients N] [--markdown]``;
the "Faults" figures in docs/performance.md come from it. With
``DISSENT_BENCH_DATABASE_URL`` set to a PostgreSQL server the instance's database is
created there (and dropped afterwards), otherwise it is a fresh SQLite file.

Logged-in sources post follow-up messages and one client files new observations, all
the time, against dissent served as ``dissent serve`` serves it. Meanwhile:

* **kill -9**: the gunicorn master and all its workers are killed at a random moment,
  ``--kills`` times, and the server is started again at once. Each client counts the
  requests it sent and those the server acknowledged (303). At the end the database is
  read: *lost* = acknowledged but not stored (must be 0), *duplicates* = stored more
  often than sent (must be 0); *recovery* = from the kill to the first acknowledged
  request after it.
* **frozen backend** (PostgreSQL only): every server process of the instance's database
  is stopped (SIGSTOP) for FREEZE_SECONDS, then continued. The figure is the slowest
  answer during the freeze and how the requests ended: the server must answer every
  request within seconds (a fresh connection, or the "try again shortly" page), never
  hang.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import submit as bench

DEFAULT_KILLS = 5
DEFAULT_CLIENTS = 6
LOAD_BETWEEN_KILLS = (1.0, 3.0)  # seconds of load before each kill, at random
FREEZE_SECONDS = 15.0
AFTER_FREEZE_SECONDS = 3.0
RECONNECT_PAUSE = 0.05
# A request unanswered this long counts as hung (the database deadline is 10 s).
ANSWER_TIMEOUT = 30.0


@dataclass
class Tally:
    """One client's counts: requests sent, acknowledged, and when (and by which server
    port) each was acknowledged."""

    sent: int = 0
    acked: int = 0
    failed: int = 0
    acks: list[tuple[float, int]] = field(default_factory=list)
    slowest: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)


class Load:
    """Sources posting replies and one new source filing observations, until stopped."""

    def __init__(self, port_of: callable, logins: list[bench.SourceLogin]) -> None:  # type: ignore[valid-type]
        self._port_of = port_of
        self.stop = threading.Event()
        self.replies = {login.ref: Tally() for login in logins}
        self.filings = Tally()
        self._threads = [
            threading.Thread(target=self._reply, args=(login,), daemon=True) for login in logins
        ]
        self._threads.append(threading.Thread(target=self._file, daemon=True))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=ANSWER_TIMEOUT + 5)

    def _send(
        self, tally: Tally, browser: bench.Browser, path: str, form: dict, *, done: int = 303
    ) -> int | None:
        """Send one form; count it, and count it acknowledged when it answers ``done``."""
        tally.sent += 1
        began = time.monotonic()
        try:
            status, _, _ = browser.request("POST", path, form)
        except (OSError, ConnectionError, bench.http.client.HTTPException):
            tally.failed += 1
            return None
        finally:
            tally.slowest = max(tally.slowest, time.monotonic() - began)
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
        if status == done:
            tally.acked += 1
            tally.acks.append((time.monotonic(), browser.connection.port))
        return status

    def _reply(self, login: bench.SourceLogin) -> None:
        tally = self.replies[login.ref]
        form = {"csrf_token": login.csrf_token, "text": bench.MESSAGE}
        while not self.stop.is_set():
            browser = bench.Browser(self._port_of(), timeout=ANSWER_TIMEOUT)
            browser.cookies[bench.SOURCE_COOKIE] = login.cookie
            while not self.stop.is_set():
                if self._send(tally, browser, f"/inbox/{login.ref}/reply", form) is None:
                    break  # the server went away: a new connection, as a browser would
            browser.close()
            time.sleep(RECONNECT_PAUSE)

    def _file(self) -> None:
        while not self.stop.is_set():
            browser = bench.Browser(self._port_of(), timeout=ANSWER_TIMEOUT)
            try:
                form = bench.submission_form(browser)
            except (OSError, ConnectionError, RuntimeError, bench.http.client.HTTPException):
                browser.close()
                time.sleep(RECONNECT_PAUSE)
                continue
            # The answer to a new observation is the codename page itself.
            self._send(self.filings, browser, "/submit", form, done=200)
            browser.close()

    def first_ack_from(self, port: int) -> float | None:
        """Return when the server on ``port`` first acknowledged a request, if it has."""
        times = [
            t
            for tally in [*self.replies.values(), self.filings]
            for t, p in tally.acks
            if p == port
        ]
        return min(times, default=None)


def stored_counts(instance: Path, refs: list[str]) -> tuple[dict[str, int], int]:
    """Return the source messages stored per observation, and the number of observations."""
    from sqlalchemy import func, select

    from dissent.app import create_app
    from dissent.extensions import db
    from dissent.models import Message, Observation, Sender

    app = create_app({"INSTANCE_PATH": str(instance)})
    with app.app_context():
        rows = db.session.execute(
            select(Observation.ref, func.count(Message.id))
            .join(Message, Message.observation_id == Observation.id)
            .where(Message.sender == Sender.SOURCE, Observation.ref.in_(refs))
            .group_by(Observation.ref)
        ).all()
        observations = db.session.scalar(select(func.count()).select_from(Observation)) or 0
    db.engine(app).dispose()
    counts = dict.fromkeys(refs, 0) | {ref: count for ref, count in rows}
    return counts, observations


def kill_all(server: bench.Server) -> None:
    """kill -9 the gunicorn master and every worker at once."""
    for pid in [*bench._children(server.process.pid), server.process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.process.wait()


@dataclass
class KillResult:
    """What the kill -9 run found."""

    database: str
    kills: int
    sent: int
    acked: int
    lost: int
    duplicates: int
    observations_acked: int
    observations_lost: int
    observations_duplicated: int
    recovery_s: list[float]


def run_kills(workdir: Path, instance: Path, database: str, kills: int, clients: int) -> KillResult:
    """Run the load and kill every server process ``kills`` times; count what survived."""
    server = bench.Server("dissent", workdir, instance=instance, pinned=False, kdf_slots=0)
    logins = [bench.file_observation(server)[0] for _ in range(clients)]
    _, observations_before = stored_counts(instance, [])
    current = {"server": server}
    recovery = []
    with Load(lambda: current["server"].port, logins) as load:
        for _ in range(kills):
            time.sleep(random.uniform(*LOAD_BETWEEN_KILLS))
            killed_at = time.monotonic()
            kill_all(current["server"])
            current["server"] = bench.Server(
                "dissent", workdir, instance=instance, pinned=False, kdf_slots=0
            )
            port = current["server"].port
            while (first := load.first_ack_from(port)) is None:
                time.sleep(0.01)
            recovery.append(first - killed_at)
        time.sleep(random.uniform(*LOAD_BETWEEN_KILLS))
    current["server"].stop()
    stored, observations = stored_counts(instance, [login.ref for login in logins])
    sent = sum(t.sent for t in load.replies.values())
    acked = sum(t.acked for t in load.replies.values())
    lost = sum(max(0, load.replies[ref].acked - stored[ref]) for ref in stored)
    duplicates = sum(max(0, stored[ref] - load.replies[ref].sent) for ref in stored)
    filed = observations - observations_before
    return KillResult(
        database=database,
        kills=kills,
        sent=sent,
        acked=acked,
        lost=lost,
        duplicates=duplicates,
        observations_acked=load.filings.acked,
        observations_lost=max(0, load.filings.acked - filed),
        observations_duplicated=max(0, filed - load.filings.sent),
        recovery_s=recovery,
    )


@dataclass
class FreezeResult:
    """What the frozen-backend run found."""

    frozen_backends: int
    requests_during: int
    answered: int
    unanswered: int
    statuses: dict[int, int]
    slowest_s: float


def backends_of(database_url: str) -> list[int]:
    """Return the pids of the PostgreSQL server processes serving ``database_url``."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    admin = create_engine(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": url.database}
        ).scalars()
        found = list(pids)
    admin.dispose()
    return found


def snapshot(load: Load) -> dict[str, tuple[int, int, int, dict[int, int]]]:
    """Return each reply client's counts so far: sent, acknowledged, failed, statuses."""
    return {ref: (t.sent, t.acked, t.failed, dict(t.statuses)) for ref, t in load.replies.items()}


def run_freeze(workdir: Path, instance: Path, database_url: str, clients: int) -> FreezeResult:
    """Stop every backend of the database under load for a while; see how requests end."""
    server = bench.Server("dissent", workdir, instance=instance, pinned=False, kdf_slots=0)
    logins = [bench.file_observation(server)[0] for _ in range(clients)]
    with Load(lambda: server.port, logins) as load:
        time.sleep(1.0)
        before = snapshot(load)
        for tally in load.replies.values():
            tally.slowest = 0.0
        pids = backends_of(database_url)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        time.sleep(FREEZE_SECONDS)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        time.sleep(AFTER_FREEZE_SECONDS)
    # The load has stopped: every request sent during the freeze has its answer now.
    after = snapshot(load)
    slowest = max(t.slowest for t in load.replies.values())
    server.stop()
    statuses: dict[int, int] = {}
    for ref, (_, _, _, now) in after.items():
        for status, count in now.items():
            statuses[status] = statuses.get(status, 0) + count - before[ref][3].get(status, 0)
    sent = sum(after[r][0] - before[r][0] for r in after)
    failed = sum(after[r][2] - before[r][2] for r in after)
    return FreezeResult(
        frozen_backends=len(pids),
        requests_during=sent,
        answered=sent - failed,
        unanswered=failed,
        statuses={s: c for s, c in sorted(statuses.items()) if c},
        slowest_s=slowest,
    )


def render(kill: KillResult, freeze: FreezeResult | None, markdown: bool) -> str:
    """Return the report as text or as the markdown of docs/performance.md."""
    recovery = kill.recovery_s
    lines = [
        f"Database: {kill.database}",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "",
        f"kill -9 of every server process, {kill.kills} times under load:",
        f"  follow-up messages: {kill.sent} sent, {kill.acked} acknowledged, "
        f"lost {kill.lost}, duplicates {kill.duplicates}",
        f"  new observations: {kill.observations_acked} acknowledged, "
        f"lost {kill.observations_lost}, duplicates {kill.observations_duplicated}",
        f"  time to recover (kill to the next acknowledged request): "
        f"median {sorted(recovery)[len(recovery) // 2]:.1f} s, max {max(recovery):.1f} s",
    ]
    if freeze is not None:
        lines += [
            "",
            f"every backend of the database stopped for {FREEZE_SECONDS:.0f} s under load "
            f"({freeze.frozen_backends} processes); from the stop to "
            f"{AFTER_FREEZE_SECONDS:.0f} s after it:",
            f"  {freeze.requests_during} requests, {freeze.answered} answered "
            f"(status: count {freeze.statuses}), {freeze.unanswered} without an answer; "
            f"slowest answer {freeze.slowest_s:.1f} s",
        ]
    if markdown:
        return "\n".join(f"    {line}" if line else "" for line in lines)
    return "\n".join(lines)


def main() -> None:
    """Parse the command line, run the faults and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=DEFAULT_KILLS)
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS)
    parser.add_argument("--markdown", action="store_true", help="indented for the docs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, bench.database(Path(tmp)) as (url, description):
        workdir = Path(tmp)
        instance = workdir / "instance"
        bench.create_instance(instance, url)
        kill = run_kills(workdir, instance, description, args.kills, args.clients)
        freeze = run_freeze(workdir, instance, url, args.clients) if url else None
    print(render(kill, freeze, args.markdown))


if __name__ == "__main__":
    main()
