"""Retention: which observations a purge plan names, and that the purge keeps to its rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from dissent.extensions import current_context, db
from dissent.models import Attachment, AuditEntry, Enrolment, Observation, Role, utcnow
from dissent.services import accounts
from dissent.services.retention import plan_purge, purge
from tests.helpers.retention import LONG_AGO, blob_count, counts, file_closed_cases

TODAY = date.today()


@pytest.fixture
def filed(app, new_client, mission, make_staff):
    """An old closed observation, an old closed escalated one and an open one."""
    return file_closed_cases(app, new_client, make_staff)


def ids_of(app, *refs: str) -> list[int]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(Observation.id).where(Observation.ref.in_(refs)).order_by(Observation.id)
            )
        )


def refs_left(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Observation.ref)))


def test_the_plan_names_only_closed_observations_never_escalated(app, filed):
    with app.app_context():
        plan = plan_purge(db.session, closed_before=TODAY)
        old = db.session.scalar(select(Observation).where(Observation.ref == filed["old"]))
        blob = db.session.scalar(select(Attachment.blob_name))
        source_id = old.source_id

    assert plan.observation_ids == ids_of(app, filed["old"])
    assert plan.source_ids == [source_id]
    assert plan.blob_names == [blob]
    assert plan.escalated_kept == 1
    assert not plan.empty


def test_the_day_itself_is_not_before_the_day(app, filed):
    with app.app_context():
        plan = plan_purge(db.session, closed_before=LONG_AGO)
        later = plan_purge(db.session, closed_before=LONG_AGO + timedelta(days=1))

    assert (plan.observation_ids, plan.escalated_kept) == ([], 0)
    assert later.observation_ids == ids_of(app, filed["old"])


def test_without_a_day_no_observation_is_planned(app, filed):
    with app.app_context():
        plan = plan_purge(db.session, closed_before=None)

    assert (plan.observation_ids, plan.source_ids, plan.blob_names) == ([], [], [])
    assert plan.escalated_kept == 0
    assert refs_left(app) == {filed["old"], filed["escalated"], filed["open"]}


def test_with_nothing_to_delete_the_plan_is_empty(app, mission):
    with app.app_context():
        plan = plan_purge(db.session, closed_before=TODAY)

    assert plan.empty
    assert (plan.observation_ids, plan.spent_enrolments, plan.escalated_kept) == ([], 0, 0)


def test_an_observation_reopened_and_closed_again_meanwhile_is_kept(app, filed):
    """Between the plan (shown for confirmation) and the deletion, an adviser reopened
    the observation and closed it again today: the rule no longer holds for it."""
    before = counts(app)
    with app.app_context():
        plan = plan_purge(db.session, closed_before=TODAY)
        db.session.execute(
            update(Observation).where(Observation.ref == filed["old"]).values(closed_on=TODAY)
        )
        db.session.commit()
        with db.unit():
            deleted = purge(db.session, current_context().settings, plan)

    assert deleted == 0
    assert counts(app) == before
    assert blob_count(app) == 1


def test_an_escalated_observation_is_kept_even_if_a_plan_names_it(app, filed):
    """The escalation ledger must stay without gaps, whatever the plan says."""
    with app.app_context():
        plan = plan_purge(db.session, closed_before=TODAY)
        forged = type(plan)(
            plan.closed_before,
            ids_of(app, filed["old"], filed["escalated"]),
            plan.source_ids,
            plan.blob_names,
            plan.escalated_kept,
            plan.spent_enrolments,
        )
        with db.unit():
            deleted = purge(db.session, current_context().settings, forged)

    assert deleted == 1
    assert refs_left(app) == {filed["escalated"], filed["open"]}


def test_the_files_stay_when_the_deletion_is_rolled_back(app, filed):
    before = counts(app)

    with app.app_context():
        plan = plan_purge(db.session, closed_before=TODAY)
        with pytest.raises(RuntimeError), db.unit():
            assert purge(db.session, current_context().settings, plan) == 1
            raise RuntimeError("the disk failed before the commit")

    assert counts(app) == before
    assert blob_count(app) == 1  # a file goes only once its record is gone for good


def test_the_purge_is_recorded_with_its_actor_and_rule(app, filed):
    with app.app_context():
        plan = plan_purge(db.session, closed_before=TODAY)
        with db.unit():
            purge(db.session, current_context().settings, plan, actor="retention-job")
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))

    assert (entry.actor, entry.action) == ("retention-job", "purge")
    assert entry.subject.startswith(f"1 observations closed before {TODAY.isoformat()}; ")
    assert blob_count(app) == 0


def test_used_links_go_and_pending_ones_stay_without_touching_observations(app, mission):
    with app.app_context(), db.unit():
        used, _ = accounts.create_account(
            db.session, username="used", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        pending, _ = accounts.create_account(
            db.session, username="pending", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        pending_id = pending.id
        db.session.execute(
            update(Enrolment).where(Enrolment.staff_id == used.id).values(used_at=utcnow())
        )

    with app.app_context():
        plan = plan_purge(db.session, closed_before=None)
        with db.unit():
            deleted = purge(db.session, current_context().settings, plan)
        left = db.session.scalars(select(Enrolment.staff_id)).all()
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))

    assert plan.spent_enrolments == 1
    assert deleted == 0
    assert left == [pending_id]
    assert entry.subject == "0 observations closed before -; 1 enrolment links"
