"""Where a source's follow-up message spends its time, part by part, in one process.

Run with ``.venv/bin/python benchmarks/reply_cost.py [--batches N] [--markdown]``; the
"Where a follow-up message goes" table in docs/performance.md comes from it.

``benchmarks/submit.py`` measures the whole request served by gunicorn and compares it
with bare Flask; this script explains that figure. In one process, on a temporary instance
with one mission, one enrolled adviser and one observation (hybrid keys, as
``dissent init`` makes them), it times:

* the whole ``POST /inbox/<ref>/reply`` through Flask's test client, and the same request
  to the bare Flask app of ``submit.py`` (no gunicorn, no sockets);
* each part of the message on its own, with the same code the request runs: reading and
  unsealing the session record, the one query for the observation and the source's key,
  the advisers' keys, sealing the message for its three hybrid recipients, and the INSERT
  with its commit (``synchronous=FULL``: the commit waits for ``fsync``).

Each figure is the fastest of ``--batches`` batches of ``BATCH`` calls (other work on the
machine only ever slows a batch down), as wall clock and as this process's CPU time, next
to the mean CPU time of all batches. Each part alone runs with warm caches; inside a
request, and more so when served, the same code runs slower (see docs/performance.md):
``submit.py``'s "required work only" server is the measure of what the parts cost served.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import submit

BATCH = 100
DEFAULT_BATCHES = 10
BASE_URL = "https://localhost"


@dataclass(frozen=True)
class Cost:
    """The fastest batch of one measured step, per call."""

    what: str
    wall_ms: float
    cpu_ms: float
    mean_cpu_ms: float


def measure(what: str, step: Callable[[], object], batches: int) -> Cost:
    """Run ``step`` in ``batches`` batches of BATCH calls; keep the fastest batch."""
    for _ in range(BATCH):  # warm up: caches, pools, compiled statements
        step()
    best_wall = best_cpu = float("inf")
    total_cpu = 0.0
    for _ in range(batches):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(BATCH):
            step()
        best_wall = min(best_wall, (time.perf_counter() - wall) / BATCH)
        batch_cpu = (time.process_time() - cpu) / BATCH
        best_cpu = min(best_cpu, batch_cpu)
        total_cpu += batch_cpu
    return Cost(what, best_wall * 1000, best_cpu * 1000, total_cpu / batches * 1000)


def _field(page: bytes, pattern: bytes) -> str:
    match = re.search(pattern, page)
    if match is None:
        raise RuntimeError(f"not found in the page: {pattern!r}")
    return match.group(1).decode()


def _csrf(page: bytes) -> str:
    return _field(page, rb'name="csrf_token" type="hidden" value="([^"]+)"')


def run(batches: int, workdir: Path) -> list[Cost]:
    """Set up an instance in ``workdir``, file one observation, and time the request and
    its parts."""
    from flask import Flask
    from sqlalchemy import select

    from dissent.app import create_app
    from dissent.extensions import current_context, db
    from dissent.models import MessageKind, Observation, Sender, today
    from dissent.security.sessions import SOURCE_COOKIE, SplitKnowledgeSessionInterface
    from dissent.services import conversation
    from dissent.services.content import seal_document
    from dissent.services.keyring import adviser_recipients, conversation_recipients
    from dissent.services.locks import lock_observation

    instance = workdir / "instance"
    submit.create_instance(instance, None)
    app: Flask = create_app({"INSTANCE_PATH": str(instance)})
    client = app.test_client()

    page = client.get("/submit", base_url=BASE_URL).data
    form = {
        "csrf_token": _csrf(page),
        "submit_token": _field(page, rb'name="submit_token" type="hidden" value="([^"]+)"'),
        "mission": _field(page, rb'name="mission" value="(\d+)"'),
        **submit.OBSERVATION,
    }
    if client.post("/submit", data=form, base_url=BASE_URL).status_code != 200:
        raise RuntimeError("the observation was not filed")
    page = client.get("/submit/codename", base_url=BASE_URL).data
    client.post(
        "/submit/codename", data={"csrf_token": _csrf(page), "saved": "y"}, base_url=BASE_URL
    )
    page = client.get("/inbox", base_url=BASE_URL).data
    ref = _field(page, rb'action="/inbox/([A-Z0-9-]+)/reply"')
    reply = {"csrf_token": _csrf(page), "text": submit.MESSAGE}
    path = f"/inbox/{ref}/reply"

    def whole_request() -> None:
        if client.post(path, data=reply, base_url=BASE_URL).status_code != 303:
            raise RuntimeError("the reply was refused")

    bare = submit.bare_app().test_client()
    cookie = client.get_cookie(SOURCE_COOKIE, domain="localhost")
    if cookie is None:
        raise RuntimeError("no source session cookie")
    bare.set_cookie(SOURCE_COOKIE, cookie.value, domain="localhost")

    def bare_request() -> None:
        if bare.post(path, data=reply, base_url=BASE_URL).status_code != 303:
            raise RuntimeError("the bare app refused the request")

    costs = [
        measure("whole request, dissent (test client)", whole_request, batches),
        measure("whole request, bare Flask (test client)", bare_request, batches),
    ]

    interface = app.session_interface
    assert isinstance(interface, SplitKnowledgeSessionInterface)
    with app.test_request_context(
        path,
        method="POST",
        base_url=BASE_URL,
        headers={"Cookie": f"{SOURCE_COOKIE}={cookie.value}"},
    ) as request_context:

        def open_session() -> None:
            if not interface.open_session(app, request_context.request).get("source_id"):
                raise RuntimeError("the session did not open")

        costs.append(measure("open the session (load + unseal)", open_session, batches))

    engine = db.engine(app)
    with app.app_context():
        ctx = current_context()
        with engine.connect() as conn:
            source_id = conn.scalar(select(Observation.source_id).where(Observation.ref == ref))
            where = {"ref": ref, "source_id": source_id}
            row = conn.execute(conversation._SOURCE_TARGET, where).one()
            observation_id, mission_id, _state, source_recipient = row

            def target() -> None:
                conn.execute(conversation._SOURCE_TARGET, where).one()

            def advisers() -> None:
                adviser_recipients(conn, mission_id)

            costs.append(measure("query: observation and source key", target, batches))
            costs.append(measure("query: advisers' keys", advisers, batches))
            recipients = conversation_recipients(
                conn, ctx.settings, mission_id=mission_id, source_recipient=source_recipient
            )
            conn.rollback()
        body = seal_document({"text": submit.MESSAGE}, recipients=recipients)

        def seal() -> None:
            seal_document({"text": submit.MESSAGE}, recipients=recipients)

        def insert_and_commit() -> None:
            with engine.begin() as conn:
                # The observation's lock, then the message at the next place of its thread.
                lock_observation(conn, observation_id)
                conn.execute(
                    conversation._INSERT_MESSAGE,
                    {
                        "thread": observation_id,
                        "observation_id": observation_id,
                        "sender": Sender.SOURCE,
                        "kind": MessageKind.MESSAGE,
                        "staff_id": None,
                        "sent_on": today(),
                        "sent_at": None,
                        "body": body,
                    },
                )

        costs.append(measure(f"seal for {len(recipients)} hybrid recipients", seal, batches))
        costs.append(measure("lock, INSERT and commit (fsync)", insert_and_commit, batches))
    engine.dispose()
    return costs


def render(
    costs: list[Cost], load: tuple[float, float, float], *, markdown: bool, batches: int
) -> str:
    """Return the table, plain or as markdown."""
    stamp = datetime.date.today().isoformat()
    head = (
        f"Follow-up message cost by part, {stamp}; fastest of {batches} batches of {BATCH}; "
        f"load average at start {' '.join(f'{x:.2f}' for x in load)}"
    )
    rows = [(c.what, f"{c.wall_ms:.3f}", f"{c.cpu_ms:.3f}", f"{c.mean_cpu_ms:.3f}") for c in costs]
    if markdown:
        lines = [
            head,
            "",
            "| part | wall ms (fastest) | CPU ms (fastest) | CPU ms (mean) |",
            "|---|--:|--:|--:|",
        ]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    else:
        lines = [head] + [
            f"  {a:<45} {b:>8} ms wall {c:>8} ms CPU (mean {d} ms)" for a, b, c, d in rows
        ]
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=DEFAULT_BATCHES, help="batches per part")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dissent-reply-cost-") as workdir:
        costs = run(args.batches, Path(workdir))
    print(render(costs, load, markdown=args.markdown, batches=args.batches))


if __name__ == "__main__":
    main()
