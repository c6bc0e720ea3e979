"""Issue 15, finding 5: a suppressed count cannot be recovered by differencing reports.

A leader of two missions asked for the report for both and for one of them, and
subtracted: 6 - 5 = 1 "Conduct and integrity" observation in the other mission, whose
own report showed "< 5". The same worked with periods (months 1-2 against months 1-3).
Suppression is now decided on the finest cells (one mission, one month, one category or
state) and every report adds up only the cells that are shown, so two worlds that differ
only inside a suppressed cell give every report a leader can request, figure for figure,
the same: no combination of them can tell the suppressed count.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from dissent.extensions import db
from dissent.models import (
    Category,
    Consent,
    Mission,
    Observation,
    Role,
    Source,
    State,
    today,
    utcnow,
)
from dissent.services import accounts
from dissent.services.report import build_report, report_rows
from dissent.services.submission import new_ref
from tests.helpers.pages import BASE_URL
from tests.helpers.staff import login_staff

CONDUCT = Category.CONDUCT_INTEGRITY
OTHER = Category.OTHER


def month_before(day: date, months: int) -> date:
    """Return the 10th of the month ``months`` before ``day``'s."""
    first = day.replace(day=1)
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    return first.replace(day=10)


@pytest.fixture
def missions(app, mission) -> dict[str, Mission]:
    """Two missions (EUPOL and EUBAM) and a leader of both."""
    with app.app_context(), db.unit():
        other = accounts.create_mission(db.session, slug="eubam", name="EUBAM Test Mission")
    return {"eupol": mission, "eubam": other}


def seed(app, mission_id: int, category: Category, day: date, count: int) -> list[int]:
    """Store ``count`` observations as filed on ``day``; return their ids."""
    with app.app_context(), db.unit():
        observations = [
            Observation(
                ref=new_ref(),
                mission_id=mission_id,
                source=Source(lookup_id=os.urandom(32), recipient="age1-placeholder"),
                category=category,
                consent=Consent.ASK_FIRST,
                state=State.RECEIVED,
                received_on=day,
                content=b"ciphertext stands in",
                submit_token_hash=os.urandom(32),
            )
            for _ in range(count)
        ]
        db.session.add_all(observations)
        db.session.flush()
        return [o.id for o in observations]


@pytest.fixture
def world(app, missions) -> dict[str, object]:
    """Two missions over the last two ended months. In the last one EUPOL has one
    "Conduct and integrity" observation (suppressed) and nine others; EUBAM has five."""
    earlier, last = month_before(today(), 2), month_before(today(), 1)
    eupol, eubam = missions["eupol"].id, missions["eubam"].id
    for mission_id in (eupol, eubam):
        seed(app, mission_id, CONDUCT, earlier, 5)
        seed(app, mission_id, OTHER, earlier, 5)
    seed(app, eubam, CONDUCT, last, 5)
    seed(app, eubam, OTHER, last, 5)
    seed(app, eupol, CONDUCT, last, 1)  # the count to protect
    others = seed(app, eupol, OTHER, last, 9)
    return {"earlier": earlier, "last": last, "others": others}


def every_report(app, world) -> dict[tuple[str, date, date], list[tuple[str, str, str]]]:
    """Return the rows of every report a leader of both missions can ask for, over a
    year of first and last days (day by day around the months that matter)."""
    earlier, last = world["earlier"], world["last"]
    days = sorted(
        {
            earlier.replace(day=1) - timedelta(days=1),
            earlier.replace(day=1),
            earlier,
            earlier + timedelta(days=1),
            last.replace(day=1) - timedelta(days=1),
            last.replace(day=1),
            last - timedelta(days=1),
            last,
            last + timedelta(days=1),
            today().replace(day=1) - timedelta(days=1),
            today().replace(day=1),
            today(),
            today() - timedelta(days=365),
        }
    )
    reports = {}
    with app.app_context():
        all_missions = list(db.session.scalars(select(Mission).order_by(Mission.name)))
        choices = {"": all_missions, **{m.slug: [m] for m in all_missions}}
        for (slug, chosen), (start, end) in itertools.product(
            choices.items(), itertools.combinations_with_replacement(days, 2)
        ):
            built = build_report(db.session, missions=chosen, start=start, end=end)
            rows = report_rows(built, generated_at=utcnow())
            reports[(slug, start, end)] = [
                row for row in rows if row[0] != "audit" and row[1] != "generated_at"
            ]
    return reports


def figure(rows, section: str, key: str) -> str:
    return next(value for s, k, value in rows if (s, k) == (section, key))


def test_no_combination_of_reports_tells_the_suppressed_count(app, world):
    before = every_report(app, world)

    # Another world: the hidden cell holds 2, not 1 (one of the others is "Conduct and
    # integrity" instead; the mission-month's total stays 10).
    with app.app_context(), db.unit():
        db.session.get(Observation, world["others"][0]).category = CONDUCT
    after = every_report(app, world)

    assert len(before) > 200
    changed = [report for report, rows in before.items() if after[report] != rows]
    assert not changed, f"{len(changed)} reports tell the worlds apart, e.g. {changed[:3]}"


def test_the_six_minus_five_attack_finds_nothing(app, world, missions):
    last = world["last"]
    start, end = last.replace(day=1), last

    with app.app_context():
        both = build_report(
            db.session, missions=list(missions.values()), start=start, end=end
        ).category_cells()[CONDUCT]
        eubam = build_report(
            db.session, missions=[missions["eubam"]], start=start, end=end
        ).category_cells()[CONDUCT]
        eupol = build_report(
            db.session, missions=[missions["eupol"]], start=start, end=end
        ).category_cells()[CONDUCT]

    # Before: 6, 5 and "< 5". Now the report for both adds only what is shown.
    assert (both, eubam, eupol) == (">= 5", "5", "< 5")


def test_a_period_minus_a_shorter_one_finds_nothing(app, world, missions):
    earlier, last = world["earlier"], world["last"]
    eupol = [missions["eupol"]]

    with app.app_context():
        two_months = build_report(db.session, missions=eupol, start=earlier, end=last)
        first_month = build_report(db.session, missions=eupol, start=earlier, end=earlier)
        # A day-exact period would place one observation on its day; whole months do not.
        day_short = build_report(db.session, missions=eupol, start=earlier, end=last.replace(day=9))

    assert two_months.category_cells()[CONDUCT] == ">= 5"  # before: 6
    assert first_month.category_cells()[CONDUCT] == "5"
    assert day_short.category_cells() == two_months.category_cells()
    assert (day_short.start, day_short.end) == (two_months.start, two_months.end)


def test_the_leader_s_pages_and_csv_show_the_same_figures(
    app, world, missions, new_client, make_staff
):
    leader = make_staff(Role.LEADERSHIP, missions=["eupol", "eubam"])
    browser = new_client()
    login_staff(browser, leader)
    last = world["last"].isoformat()
    figures = {}
    for mission in ("", "eubam", "eupol"):
        reply = browser.get(
            "/leadership/report.csv",
            query_string={"start": last, "end": last, "mission": mission},
            base_url=BASE_URL,
        )
        rows = list(csv.reader(io.StringIO(reply.get_data(as_text=True))))
        figures[mission] = figure(rows, "by_category", CONDUCT.value)
    page = browser.get(
        "/leadership/report", query_string={"start": last, "end": last}, base_url=BASE_URL
    )

    assert figures == {"": ">= 5", "eubam": "5", "eupol": "< 5"}
    assert "at least 5" in page.get_data(as_text=True)
