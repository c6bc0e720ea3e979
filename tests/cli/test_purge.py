"""``dissent purge``: closed observations deleted for good by the operator's retention rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from dissent.cli.purge import purge
from dissent.extensions import current_context, db
from dissent.models import (
    Attachment,
    AuditEntry,
    Enrolment,
    Message,
    Note,
    Observation,
    Role,
    Source,
    State,
    StateChange,
    utcnow,
)
from dissent.services import accounts
from dissent.services.storage import blob_dir
from tests.helpers.casework import file_and_escalate
from tests.helpers.files import random_bytes, source_upload
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import source_login, source_reply, submit_observation
from tests.helpers.staff import login_staff

LONG_AGO = date.today() - timedelta(days=400)


@pytest.fixture
def filed(app, new_client, mission, make_staff):
    """Three observations: an old closed one (with an attachment), an old closed one
    that was escalated, and an open one. Returns their refs and the first's codename."""
    adviser = make_staff(Role.ADVISER)
    browser = new_client()
    codename = submit_observation(browser, what="The old finding.")
    with app.app_context():
        old_ref = db.session.scalar(select(Observation.ref))
    browser.ref = old_ref
    assert source_upload(browser, random_bytes(30_000), "annex.bin").status_code == 303
    assert source_reply(browser, old_ref, "And one more thing.").status_code == 303
    staff = new_client()
    login_staff(staff, adviser)
    page = staff.get(f"/adviser/o/{old_ref}", base_url=BASE_URL)
    noted = staff.post(
        f"/adviser/o/{old_ref}/notes",
        data={"note-csrf_token": csrf_from(page), "note-text": "Checked against the annex."},
        base_url=BASE_URL,
    )
    assert noted.status_code == 303
    changed = staff.post(
        f"/adviser/o/{old_ref}/state",
        data={"csrf_token": csrf_from(page), "to_state": "advice_only", "reason": "No case."},
        base_url=BASE_URL,
    )
    assert changed.status_code == 303
    sent = file_and_escalate(
        app, new_client, adviser=adviser, leaders=[make_staff(Role.LEADERSHIP)]
    )
    submit_observation(new_client(), what="Still open.")
    with app.app_context():
        refs = list(db.session.scalars(select(Observation.ref).order_by(Observation.id)))
        db.session.execute(
            update(Observation)
            .where(Observation.ref.in_(refs[:2]))
            .values(state=State.CLOSED, closed_on=LONG_AGO)
        )
        db.session.commit()
    return {
        "old": refs[0],
        "escalated": refs[1],
        "open": refs[2],
        "codename": codename,
        "sent": sent,
    }


def run(app, *args: str, answer: str | None = None):
    return app.test_cli_runner().invoke(purge, list(args), input=answer)


def counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Observation, Message, Attachment, Source, Note, StateChange)
        }


def blob_count(app) -> int:
    with app.app_context():
        return len(list(blob_dir(current_context().settings).iterdir()))


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


def test_an_observation_reopened_and_closed_again_meanwhile_is_kept(app, filed, monkeypatch):
    """Between the plan (shown for confirmation) and the deletion, an adviser reopened
    the observation and closed it again today: the rule no longer holds for it."""
    from dissent.services import retention

    real_purge = retention.purge

    def closed_again_today(session, settings, plan, **kwargs):
        session.execute(
            update(Observation)
            .where(Observation.ref == filed["old"])
            .values(closed_on=date.today())
        )
        session.commit()
        return real_purge(session, settings, plan, **kwargs)

    monkeypatch.setattr(retention, "purge", closed_again_today)
    before = counts(app)

    result = run(app, "--closed-before", date.today().isoformat(), "--yes")

    assert result.exit_code == 0, result.output
    assert "Deleted 0 observation(s)" in result.output
    assert counts(app) == before
