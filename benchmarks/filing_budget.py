"""Benchmark the hourly filing budget: how many observations get through, and its cost.

Run with ``.venv/bin/python benchmarks/filing_budget.py [--kdf test|production]
[--iterations N] [--markdown]``; the "Filing budget" figures in docs/performance.md come
from it (issue 15, finding 4: 12 of 12 observations filed back to back were accepted).

A fresh instance (SQLite in a temporary folder, or with ``DISSENT_BENCH_DATABASE_URL``
set to a PostgreSQL server a database created there for the run) with three missions and
the default budgets (``dissent/config.py``) takes new observations through the real
``POST /submit`` (in-process WSGI requests, templates rendered, no network):

* (a) one source after another files to the first mission, back to back, until the
  budget refuses; then to the other two missions until the instance's budget refuses.
  Reported: how many got through in the hour, per mission and in all, the status and
  ``Retry-After`` of the refusal, and the time of an accepted and of a refused filing (a
  refusal comes before the codename derivation, so a flood costs the server little);
* (b) the budget's own cost, timed alone on the instance's database ``--iterations``
  times: the check before the derivation (one read per budget row) and the count
  (removing past hours, two conditional upserts), each in a transaction that is rolled
  back, so the counters stay below their limits.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import submit as bench  # the set-up helpers of the core-loop benchmark

BASE = "https://localhost"
MISSIONS = (("bench", "Benchmark mission"), ("second", "Second mission"), ("third", "Third"))


@dataclass(frozen=True)
class Filing:
    """One POST /submit: its status, Retry-After and wall time."""

    mission: str
    status: int
    retry_after: str | None
    ms: float


def _csrf(page: bytes) -> str:
    found = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert found, "no CSRF token"
    return found.group(1).decode()


def _hidden(page: bytes, name: str) -> str:
    tag = re.search(rb'<input[^>]*name="' + name.encode() + rb'"[^>]*>', page)
    assert tag, f"no {name}"
    value = re.search(rb'value="([^"]*)"', tag.group(0))
    return value.group(1).decode() if value else ""


def _mission_ids(page: bytes) -> dict[str, str]:
    options = re.findall(rb'<option[^>]*value="(\d+)"[^>]*>([^<]*)</option>', page)
    return {label.decode(): value.decode() for value, label in options}


def file_one(app, mission_name: str) -> Filing:
    """File one observation as a new source (its own browser) to ``mission_name``."""
    client = app.test_client()
    page = client.get("/submit", base_url=BASE).data
    form = {
        **bench.OBSERVATION,
        "csrf_token": _csrf(page),
        "submit_token": _hidden(page, "submit_token"),
        "mission": _mission_ids(page)[mission_name],
    }
    started = time.perf_counter()
    response = client.post("/submit", data=form, base_url=BASE)
    elapsed = (time.perf_counter() - started) * 1000
    return Filing(mission_name, response.status_code, response.headers.get("Retry-After"), elapsed)


def file_until_refused(app, mission_name: str, *, most: int = 10_000) -> list[Filing]:
    """File to ``mission_name`` until a filing is refused; return every filing."""
    filings: list[Filing] = []
    while len(filings) < most:
        filings.append(file_one(app, mission_name))
        if filings[-1].status != 200:
            break
    return filings


def build(instance: Path, database_url: str | None, kdf: str):
    """Create the instance (default budgets) with three missions and return the app."""
    from dissent.app import create_app
    from dissent.crypto.codename import TEST_KDF_PARAMS
    from dissent.extensions import current_context, db
    from dissent.models import Role
    from dissent.services import accounts

    bench.create_instance(instance, database_url, unbudgeted=False)
    config: dict[str, object] = {"INSTANCE_PATH": str(instance)}
    if kdf == "test":
        config["KDF_PARAMS"] = TEST_KDF_PARAMS
    app = create_app(config)
    with app.app_context(), db.unit():
        for slug, name in MISSIONS[1:]:
            accounts.create_mission(db.session, slug=slug, name=name)
        user, _token = accounts.create_account(
            db.session,
            username="second-adviser",
            role=Role.ADVISER,
            mission_slugs=[slug for slug, _ in MISSIONS[1:]],
        )
        accounts.enrol_directly(
            db.session,
            current_context(),
            user=user,
            password=bench.PASSWORD,
            totp_secret=accounts.new_totp_secret(),
        )
    return app


def time_statements(app, iterations: int) -> dict[str, list[float]]:
    """Time the budget's check and its count alone, in µs, each rolled back."""
    from sqlalchemy import select

    from dissent.extensions import db
    from dissent.models import Mission
    from dissent.services import budget
    from dissent.services.budget import Budget

    settings = app.extensions["dissent.settings"]
    timings: dict[str, list[float]] = {"check": [], "count": []}
    with app.app_context():
        mission_id = db.session.scalar(select(Mission.id).where(Mission.slug == "third"))
        engine = db.engine(app)
        for _ in range(iterations):
            with engine.connect() as conn:
                started = time.perf_counter()
                budget.check(conn, settings, Budget.VOLUME, mission_id=mission_id)
                timings["check"].append((time.perf_counter() - started) * 1e6)
                conn.rollback()
                transaction = conn.begin()
                started = time.perf_counter()
                budget.spend(conn, settings, Budget.VOLUME, mission_id=mission_id, amount=4)
                timings["count"].append((time.perf_counter() - started) * 1e6)
                transaction.rollback()
    return timings


@contextlib.contextmanager
def instance_folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dissent-budget-") as tmp:
        yield Path(tmp) / "instance"


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def _mean(filings: list[Filing], accepted: bool) -> str:
    chosen = [f.ms for f in filings if (f.status == 200) == accepted]
    return f"{statistics.mean(chosen):.0f} ms" if chosen else "none"


def report(
    description: str,
    kdf: str,
    first: list[Filing],
    rest: list[Filing],
    timings: dict[str, list[float]],
    out: Callable[[str], None],
    *,
    markdown: bool,
) -> None:
    """Print what got through and what the budget costs."""
    accepted_first = sum(f.status == 200 for f in first)
    accepted_all = accepted_first + sum(f.status == 200 for f in rest)
    refusal = first[-1]
    every = first + rest
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    load = f"load average {os.getloadavg()[0]:.1f} at the end"
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    rows = [
        ("filed to one mission, back to back, before a refusal", str(accepted_first)),
        ("filed to all three missions in the hour", str(accepted_all)),
        ("the refusal", f"HTTP {refusal.status}, Retry-After {refusal.retry_after} s"),
        ("accepted filing (mean, with its codename derivation)", _mean(every, True)),
        ("refused filing (mean)", _mean(every, False)),
        *(
            (
                f"budget {name} alone (median / p95 of {len(values)})",
                f"{statistics.median(values):.0f} / {_p95(values):.0f} µs",
            )
            for name, values in timings.items()
        ),
    ]
    if markdown:
        out(f"Measured {when} on {machine} ({load}); {description}; codename derivation: {kdf}.\n")
        out("| what | result |\n|---|--:|")
        for name, value in rows:
            out(f"| {name} | {value} |")
        return
    out(f"{description}; codename derivation: {kdf}; {machine}; {load}")
    for name, value in rows:
        out(f"  {name}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kdf", choices=("test", "production"), default="test")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    with instance_folder() as instance, bench.database(instance.parent) as (url, description):
        app = build(instance, url, args.kdf)
        hour = time.time() // 3600
        first = file_until_refused(app, MISSIONS[0][1])
        rest = [f for _, name in MISSIONS[1:] for f in file_until_refused(app, name)]
        if time.time() // 3600 != hour:
            sys.exit("a new hour (and budget) began during the run: run it again")
        timings = time_statements(app, args.iterations)
        from dissent.extensions import db

        db.engine(app).dispose()
    report(description, args.kdf, first, rest, timings, print, markdown=args.markdown)


if __name__ == "__main__":
    main()
