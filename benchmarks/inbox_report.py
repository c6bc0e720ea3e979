"""Adviser inbox and periodic report with many observations (issue 4 targets).

Creates a temporary instance with N observations (default 10,000) spread over a year,
two missions and every category and state, then times the adviser inbox page and the
leadership report page as a logged-in user would load them (in-process WSGI requests,
templates rendered, no network). Targets: inbox under 100 ms, report under 2 s.

    .venv/bin/python benchmarks/inbox_report.py [--observations N] [--runs R] [--markdown]
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pyotp
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dissent.app import create_app
from dissent.crypto import KeyKind, generate_identity
from dissent.crypto.codename import TEST_KDF_PARAMS
from dissent.database import make_engine
from dissent.extensions import current_context, db
from dissent.migrate import upgrade
from dissent.models import Category, Consent, Observation, Role, Source, State, today
from dissent.services import accounts

PASSWORD = "benchmark horse battery staple"
BASE = "https://localhost"


def build(directory: Path, count: int):
    url = f"sqlite:///{directory / 'dissent.sqlite3'}"
    upgrade(make_engine(url))
    app = create_app(
        {
            "INSTANCE_PATH": str(directory),
            "SECRET_KEY": base64.b64encode(os.urandom(32)).decode(),
            "SOURCE_SALT": base64.b64encode(os.urandom(32)).decode(),
            "RECOVERY_RECIPIENT": generate_identity(KeyKind.HYBRID).recipient.encode(),
            "DATABASE_URL": url,
            "KDF_PARAMS": TEST_KDF_PARAMS,
            "PUBLIC_URL": BASE,
        }
    )
    logins = {}
    with app.app_context(), db.unit():
        session, ctx = db.session, current_context()
        missions = [
            accounts.create_mission(session, slug=slug, name=name)
            for slug, name in (("alpha", "Mission Alpha"), ("bravo", "Mission Bravo"))
        ]
        for role, name in ((Role.ADVISER, "adviser"), (Role.LEADERSHIP, "leader")):
            user, _ = accounts.create_account(
                session, username=name, role=role, mission_slugs=["alpha", "bravo"]
            )
            secret = accounts.new_totp_secret()
            accounts.enrol_directly(session, ctx, user=user, password=PASSWORD, totp_secret=secret)
            logins[name] = secret
        # Content is never decrypted by these pages; a ciphertext-sized blob stands in.
        blob = os.urandom(7312)
        rng = random.Random(7)
        start = today() - timedelta(days=365)
        states = list(State)
        source_rows = [
            {"lookup_id": os.urandom(32), "recipient": "age1pq-placeholder", "created_on": start}
            for _ in range(count)
        ]
        session.execute(insert(Source), source_rows)
        observation_rows = []
        for index in range(count):
            received = start + timedelta(days=rng.randrange(365))
            state = rng.choice(states)
            acknowledged = (
                None if state is State.RECEIVED else received + timedelta(days=rng.randrange(10))
            )
            observation_rows.append(
                {
                    "ref": f"{index:04X}-{rng.randrange(16**4):04X}"[:9],
                    "mission_id": missions[index % 2].id,
                    "source_id": index + 1,
                    "category": rng.choice(list(Category)),
                    "consent": rng.choice(list(Consent)),
                    "state": state,
                    "received_on": received,
                    "acknowledged_on": acknowledged,
                    "feedback_given_on": acknowledged + timedelta(days=rng.randrange(80))
                    if state in (State.FEEDBACK_GIVEN, State.CLOSED) and acknowledged
                    else None,
                    "content": blob,
                    "submit_token_hash": os.urandom(32),
                }
            )
        session.execute(insert(Observation), observation_rows)
        session.commit()
    return app, logins


def login(app, username, secret):
    client = app.test_client()
    page = client.get("/staff/login", base_url=BASE)
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1)
    client.post(
        "/staff/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.decode()},
        base_url=BASE,
    )
    page = client.get("/staff/2fa", base_url=BASE)
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data).group(1)
    code = pyotp.TOTP(secret).at(time.time() + 30)
    response = client.post(
        "/staff/2fa", data={"code": code, "csrf_token": token.decode()}, base_url=BASE
    )
    assert response.status_code == 303, response.status_code
    return client


def timed(client, path, runs):
    client.get(path, base_url=BASE)  # warm-up: template compilation, caches
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, base_url=BASE)
        durations.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        app, logins = build(Path(tmp), args.observations)
        setup = time.perf_counter() - started
        adviser = login(app, "adviser", logins["adviser"])
        leader = login(app, "leader", logins["leader"])
        end = today()
        report_path = f"/leadership/report?start={end - timedelta(days=365)}&end={end}"
        results = {
            "adviser inbox (first page of 50)": timed(adviser, "/adviser/", args.runs),
            "adviser inbox (page 100)": timed(adviser, "/adviser/?page=100", args.runs),
            "report (one year, two missions)": timed(leader, report_path, max(3, args.runs // 4)),
        }
    load = os.getloadavg()[0]
    if args.markdown:
        print(
            f"{args.observations:,} observations (set-up {setup:.1f} s), load average {load:.1f}\n"
        )
        print("| page | median ms | p95 ms | max ms | runs |\n|---|--:|--:|--:|--:|")
    for name, values in results.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        if args.markdown:
            median, peak = statistics.median(values), max(values)
            print(f"| {name} | {median:.1f} | {p95:.1f} | {peak:.1f} | {len(values)} |")
        else:
            median, peak = statistics.median(values), max(values)
            print(f"{name:36} median {median:7.1f} ms  p95 {p95:7.1f} ms  max {peak:7.1f} ms")


if __name__ == "__main__":
    main()
