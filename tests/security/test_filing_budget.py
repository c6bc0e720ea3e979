"""Issue 15, finding 4: anonymous filing is bounded by hourly budgets.

Twelve observations filed back to back were all accepted, and each could then hold
500 MiB of files: the disk was bounded only by an attacker's bandwidth. New observations
and stored volume (a source's files and messages) now have an hourly budget, for the
instance and for each mission, counted in the database so every worker and host shares
it. A source who meets a full budget gets a calm page that says nothing was lost, keeps
what they typed (without storing it) and says when to try again; the operator sees how
much of each budget is used.
"""

from __future__ import annotations

import threading
from datetime import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from dissent.extensions import db
from dissent.models import (
    Attachment,
    Message,
    Observation,
    RateLimitCounter,
    Role,
    Sender,
    Source,
)
from dissent.services import accounts, budget
from dissent.services.budget import Budget
from dissent.services.storage import BLOB_DIR
from tests.helpers.casework import observation_ref
from tests.helpers.files import adviser_upload, random_bytes, source_upload
from tests.helpers.http import HttpClient, serving
from tests.helpers.pages import (
    BASE_URL,
    count,
    input_value,
    text_of,
    textarea_value,
)
from tests.helpers.source import (
    form_data,
    post_submission,
    shown_codename,
    source_reply,
    submit_observation,
)
from tests.helpers.staff import login_staff

MISSION_BUDGET = 3
INSTANCE_BUDGET = 5
HALF_PAST = 1_800_000_000 + 1800  # 08:30 UTC on 15 January 2027
TYPED = "The armoury count was signed off without anyone opening the armoury."
FILING_REFUSED = "Nothing was lost: what you typed is still in the form below"
VOLUME_REFUSED = "your observation and everything already in it are safe"
TRY_AGAIN = "after 09:00 UTC (in about 30 minutes)"


@pytest.fixture
def config(config):
    """The test instance, with small observation budgets."""
    return {
        **config,
        "FILING_BUDGET_MISSION_OBSERVATIONS": MISSION_BUDGET,
        "FILING_BUDGET_OBSERVATIONS": INSTANCE_BUDGET,
    }


@pytest.fixture
def clock(monkeypatch) -> dict[str, float]:
    """The budgets' clock, at half past an hour, moved by hand."""
    now = {"now": float(HALF_PAST)}
    monkeypatch.setattr(budget, "time", SimpleNamespace(time=lambda: now["now"]))
    return now


def observations(app) -> int:
    return count(app, Observation)


def fill_volume(app, mission_id: int, *, leave_kib: int) -> None:
    """Use the mission's volume budget of this hour up to ``leave_kib`` KiB, as earlier
    files would have."""
    settings = app.extensions["dissent.settings"]
    _, per_mission = budget.limits(settings, Budget.VOLUME)
    with app.app_context(), db.unit():
        budget.spend(
            db.session.connection(),
            settings,
            Budget.VOLUME,
            mission_id=mission_id,
            amount=per_mission - leave_kib,
        )


# --- new observations ------------------------------------------------------------------


def test_the_observation_past_the_hour_s_budget_gets_a_calm_page_and_nothing_is_stored(
    app, new_client, adviser, clock
):
    for n in range(MISSION_BUDGET):
        submit_observation(new_client(), what=f"Observation {n} of this hour.")
    browser = new_client()

    refused = post_submission(browser, what=TYPED, where="the north gate")

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1800"
    assert FILING_REFUSED in text_of(refused)
    assert TRY_AGAIN in text_of(refused)
    assert textarea_value(refused, "what") == TYPED  # kept in the page, never stored
    assert input_value(refused, "where") == "the north gate"
    assert b'id="codename"' not in refused.data
    assert observations(app) == MISSION_BUDGET
    assert count(app, Source) == MISSION_BUDGET  # no source without its observation

    clock["now"] += 1800  # the next hour: the same page, sent again, is filed
    again = browser.post("/submit", data=form_data(refused, what=TYPED), base_url=BASE_URL)

    assert again.status_code == 200
    assert shown_codename(again)
    assert observations(app) == MISSION_BUDGET + 1


def test_the_instance_s_budget_holds_across_missions(app, new_client, mission, make_staff, clock):
    with app.app_context(), db.unit():
        other = accounts.create_mission(db.session, slug="eubam", name="EUBAM Test Mission")
    make_staff(Role.ADVISER, missions=["eupol", "eubam"])
    for n in range(MISSION_BUDGET):
        submit_observation(new_client(), what=f"At the port {n}.", mission=str(mission.id))
    for n in range(INSTANCE_BUDGET - MISSION_BUDGET):
        submit_observation(new_client(), what=f"At the border {n}.", mission=str(other.id))

    # The second mission has room of its own, but the instance has none left.
    refused = post_submission(new_client(), what=TYPED, mission=str(other.id))

    assert refused.status_code == 503
    assert FILING_REFUSED in text_of(refused)
    assert observations(app) == INSTANCE_BUDGET


def test_sources_filing_at_once_never_get_past_the_budget(app, adviser, clock):
    sources = 8
    start = threading.Barrier(sources)
    statuses: list[int] = []
    pages: list[str] = []

    with serving(app) as url:

        def file_one(n: int) -> None:
            browser = HttpClient(url)
            page = browser.get("/submit")
            start.wait()
            reply = browser.post("/submit", data=form_data(page, what=f"{TYPED} ({n})"))
            statuses.append(reply.status_code)
            pages.append(text_of(reply))

        threads = [threading.Thread(target=file_one, args=(n,)) for n in range(sources)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert sorted(statuses) == [200] * MISSION_BUDGET + [503] * (sources - MISSION_BUDGET)
    assert sum(FILING_REFUSED in page for page in pages) == sources - MISSION_BUDGET
    assert observations(app) == MISSION_BUDGET
    assert count(app, Source) == MISSION_BUDGET


def test_the_operator_sees_how_much_of_each_budget_is_used(
    app, new_client, adviser, make_staff, mission, clock
):
    operator = new_client()
    login_staff(operator, make_staff(Role.ADMIN))
    for n in range(MISSION_BUDGET):
        submit_observation(new_client(), what=f"Observation {n} of this hour.")

    page = operator.get("/admin/", base_url=BASE_URL)

    # The mission's row: its name, then its members and ladder, then its budgets.
    row = text_of(page).split(mission.name, 1)[1].split("All missions together", 1)[0]
    assert f" {MISSION_BUDGET} / {MISSION_BUDGET} reached 0 bytes / 512 MB" in row
    assert f"All missions together {MISSION_BUDGET} / {INSTANCE_BUDGET} 0 bytes / 1,024 MB" in (
        text_of(page)
    )
    assert "used until 09:00 UTC" in text_of(page)

    clock["now"] += 1800
    fresh = operator.get("/admin/", base_url=BASE_URL)
    assert f" 0 / {MISSION_BUDGET} 0 bytes / 512 MB" in text_of(fresh)


# --- volume: files and messages --------------------------------------------------------


@pytest.fixture
def source(app, new_client, adviser, mission):
    """A browser logged in as a source with one observation; ``.ref`` is its reference."""
    browser = new_client()
    submit_observation(browser, what=TYPED)
    browser.ref = observation_ref(app, mission_id=mission.id)
    return browser


def blob_files(app) -> list[str]:
    folder = Path(app.instance_path) / BLOB_DIR
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_file_over_the_volume_budget_is_refused_and_the_observation_is_kept(
    app, source, mission, clock
):
    fill_volume(app, mission.id, leave_kib=16)

    refused = source_upload(source, random_bytes(64 * 1024), "scan.bin")

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1800"
    assert VOLUME_REFUSED in text_of(refused)
    assert TRY_AGAIN in text_of(refused)
    with app.app_context():
        assert db.session.scalars(select(Attachment)).all() == []
    assert blob_files(app) == []  # nothing of the file is kept
    inbox = source.get("/inbox", base_url=BASE_URL)
    assert inbox.status_code == 200
    assert TYPED in text_of(inbox)  # the observation is untouched

    clock["now"] += 1800
    assert source_upload(source, random_bytes(64 * 1024), "scan.bin").status_code == 303
    assert count(app, Attachment) == 1


def test_a_used_up_volume_budget_refuses_before_the_file_is_read(app, source, mission, clock):
    fill_volume(app, mission.id, leave_kib=0)

    refused = source_upload(source, random_bytes(1024), "note.txt")

    assert refused.status_code == 503
    assert VOLUME_REFUSED in text_of(refused)
    assert count(app, Attachment) == 0


def test_a_source_s_message_counts_too_and_is_kept_in_the_box_when_refused(
    app, source, mission, clock
):
    fill_volume(app, mission.id, leave_kib=1)  # less than any stored message
    before = count(app, Message)

    refused = source_reply(source, source.ref, "It happened again on Tuesday.")

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1800"
    assert VOLUME_REFUSED in text_of(refused)
    assert textarea_value(refused, "text") == "It happened again on Tuesday."
    with app.app_context():
        stored = db.session.scalars(select(Message).where(Message.sender == Sender.SOURCE)).all()
    assert stored == [] and count(app, Message) == before


def test_advisers_are_never_held_back_by_the_sources_budget(
    app, source, adviser, new_client, mission, clock
):
    fill_volume(app, mission.id, leave_kib=0)
    staff = new_client()
    login_staff(staff, adviser)

    sent = adviser_upload(staff, source.ref, random_bytes(64 * 1024))

    assert sent.status_code == 303
    assert count(app, Attachment) == 1


def test_the_budget_counters_say_the_day_only(app, clock, source, mission):
    source_reply(source, source.ref, "Counted, but nothing may say at what time.")

    with app.app_context():
        counters = db.session.scalars(select(RateLimitCounter)).all()
    assert len(counters) == 4  # this hour, for the instance and the mission, both budgets
    # Invariant 2: a source's actions are dated to the day; the hour is in no column.
    assert {c.expires_at.replace(tzinfo=None).time() for c in counters} == {time.min}
