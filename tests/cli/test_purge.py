"""``dissent purge``: closed observations deleted for good by the operator's retention rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from dissent.cli.purge import purge
from dissent.extensions import db
from dissent.models import (
    AuditEntry,
    Enrolment,
    Observation,
    Role,
    utcnow,
)
from dissent.services import accounts
from tests.helpers.retention import LONG_AGO, blob_count, counts, file_closed_cases
from tests.helpers.source import source_login


@pytest.fixture
def filed(app, new_client, mission, make_staff):
    """An old closed observation, an old closed escalated one and an open one."""
    return file_closed_cases(app, new_client, make_staff)


def run(app, *args: str, answer: str | None = None):
    return app.test_cli_runner().invoke(purge, list(args), input=answer)


def test_a_closed_observation_goes_with_everything_it_holds(app, new_client, filed):
    before = counts(app)

    result = run(app, "--closed-before", date.today().isoformat(), "--yes")

    assert result.exit_code == 0, result.output
    assert "Deleted 1 observation(s)" in result.output
    assert "Kept: 1 escalated observation(s)" in result.output
    with app.app_context():
        left = set(db.session.scalars(select(Observation.ref)))
        audited = db.session.scalars(
            select(AuditEntry.subject).where(AuditEntry.action == "purge")
        ).all()
    assert left == {filed["escalated"], filed["open"]}
    after = counts(app)
    assert after["Observation"] == before["Observation"] - 1
    assert after["Attachment"] == before["Attachment"] - 1 == 0
    assert after["Source"] == before["Source"] - 1
    assert after["Message"] == before["Message"] - 1  # the source's message went with it
    assert after["Note"] == before["Note"] - 1
    assert after["StateChange"] == before["StateChange"] - 1
    assert blob_count(app) == 0
    assert len(audited) == 1 and audited[0].startswith("1 observations closed before")
    # The codename opens nothing any more.
    browser = new_client()
    refused = source_login(browser, filed["codename"])
    assert (
        refused.status_code == 400 and b"No observation was found for this codename" in refused.data
    )


def test_nothing_is_deleted_without_confirmation(app, filed):
    before = counts(app)

    result = run(app, "--closed-before", date.today().isoformat(), answer="n\n")

    assert result.exit_code != 0
    assert "for good?" in result.output
    assert counts(app) == before
    assert blob_count(app) == 1


def test_a_dry_run_says_what_would_go_and_deletes_nothing(app, filed):
    before = counts(app)

    result = run(app, "--closed-before", date.today().isoformat(), "--dry-run")

    assert result.exit_code == 0, result.output
    assert "Would delete 1 closed observation(s)" in result.output
    assert "1 attachment file(s)" in result.output
    assert counts(app) == before


def test_observations_closed_on_or_after_the_day_are_kept(app, filed):
    before = counts(app)

    result = run(app, "--closed-before", LONG_AGO.isoformat(), "--yes")

    assert result.exit_code == 0, result.output
    assert counts(app) == before


@pytest.mark.parametrize(
    ("day", "message"),
    [("31-12-2026", "is not a date"), ((date.today() + timedelta(days=1)).isoformat(), "future")],
)
def test_a_wrong_day_is_refused_in_one_line(app, filed, day, message):
    before = counts(app)

    result = run(app, "--closed-before", day, "--yes")

    assert result.exit_code != 0
    assert message in result.output
    assert counts(app) == before


def test_used_and_expired_enrolment_links_are_deleted(app, mission):
    with app.app_context(), db.unit():
        accounts.create_account(
            db.session, username="pending", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        db.session.execute(update(Enrolment).values(expires_at=utcnow() - timedelta(days=1)))
        accounts.create_account(
            db.session, username="fresh", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        db.session.commit()

    result = run(app, "--yes")

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Enrolment)) == 1
