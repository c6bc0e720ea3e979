"""Row locks: a second writer waits until the holder ends; a change from an overtaken page fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import OperationalError

from dissent.database import make_engine
from dissent.extensions import db
from dissent.models import Escalation, EscalationState, Mission, Observation, Role, State
from dissent.services.errors import ChangedMeanwhile
from dissent.services.locks import (
    hold_escalation,
    hold_observation,
    lock_mission,
    lock_observation,
)
from tests.helpers.services import Case, acknowledge, escalate, file_case, find_escalation


@pytest.fixture
def other_writer(config) -> Iterator[Engine]:
    """A second connection to the same database that gives up at once instead of waiting."""
    engine = make_engine(config["DATABASE_URL"])
    yield engine
    engine.dispose()


@pytest.fixture
def case(app, mission, make_staff) -> Case:
    make_staff(Role.ADVISER)
    return file_case(app, mission.id)


def writes_at_once(engine: Engine, statement) -> bool:
    """Return whether ``statement`` goes through on a new connection without waiting."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text("PRAGMA busy_timeout=0"))
        else:
            connection.execute(text("SET lock_timeout = '50ms'"))
        try:
            connection.execute(statement)
        except OperationalError:
            connection.rollback()
            return False
        connection.rollback()
        return True


RENAME_MISSION = update(Mission).where(Mission.slug == "eupol").values(name="Renamed")


def test_a_locked_mission_makes_another_writer_wait_until_the_transaction_ends(
    app, mission, other_writer
):
    assert writes_at_once(other_writer, RENAME_MISSION)
    with app.app_context():
        lock_mission(db.session, mission.id)
        assert not writes_at_once(other_writer, RENAME_MISSION)
        db.session.commit()
        assert writes_at_once(other_writer, RENAME_MISSION)


def test_the_lock_ends_with_a_rollback_too(app, mission, other_writer):
    with app.app_context():
        lock_mission(db.session, mission.id)
        assert not writes_at_once(other_writer, RENAME_MISSION)
        db.session.rollback()
        assert writes_at_once(other_writer, RENAME_MISSION)


def test_taking_the_lock_changes_nothing_in_the_mission(app, mission):
    with app.app_context():
        before = db.session.execute(select(Mission.__table__)).all()
        lock_mission(db.session, mission.id)
        db.session.commit()
        assert db.session.execute(select(Mission.__table__)).all() == before


def test_a_locked_observation_makes_another_writer_wait(app, case, other_writer):
    grade_it = (
        update(Observation).where(Observation.id == case.observation_id).values(severity="high")
    )
    with app.app_context():
        lock_observation(db.session, case.observation_id)
        assert not writes_at_once(other_writer, grade_it)
        db.session.commit()
        assert writes_at_once(other_writer, grade_it)
        assert case.observation().severity is None  # the lock itself changed nothing


def test_locking_what_does_not_exist_is_harmless(app):
    with app.app_context():
        lock_mission(db.session, 999_999)
        lock_observation(db.session, 999_999)
        db.session.commit()


# --- holding a case for a change ----------------------------------------------------------------


def hold(app, case: Case, *, seen: int | None) -> int:
    """Hold the case as an adviser's action does; return the revision it leaves."""
    with app.app_context(), db.unit():
        observation = case.observation()
        hold_observation(db.session, observation, seen=seen)
        return observation.revision


def test_each_change_to_a_case_counts_one_revision(app, case):
    assert hold(app, case, seen=0) == 1
    assert hold(app, case, seen=1) == 2
    assert hold(app, case, seen=None) == 3  # the command line shows no page


def test_a_change_sent_from_an_overtaken_page_is_refused_and_counts_nothing(app, case):
    hold(app, case, seen=0)  # a colleague acted first
    with pytest.raises(ChangedMeanwhile) as refused:
        hold(app, case, seen=0)
    assert refused.value.ref == case.ref
    with app.app_context():
        assert case.observation().revision == 1


def test_holding_a_case_reads_what_another_writer_left(app, case, other_writer):
    with app.app_context():
        observation = case.observation()
        assert observation.state is State.RECEIVED
        with other_writer.begin() as connection:
            connection.execute(
                update(Observation)
                .where(Observation.id == case.observation_id)
                .values(state=State.CLOSED)
            )
        hold_observation(db.session, observation, seen=None)
        assert observation.state is State.CLOSED
        db.session.rollback()


def test_holding_an_escalation_reads_what_another_leader_left(app, case, make_staff, other_writer):
    adviser = make_staff(Role.ADVISER)
    leader = make_staff(Role.LEADERSHIP)
    acknowledge(app, case, adviser)
    sent = escalate(app, case, adviser=adviser, leaders=[leader], summary="A summary.")
    with app.app_context():
        row = find_escalation(sent)
        assert row.state is EscalationState.SENT
        with other_writer.begin() as connection:
            connection.execute(
                update(Escalation)
                .where(Escalation.id == sent)
                .values(state=EscalationState.ACKNOWLEDGED)
            )
        hold_escalation(db.session, row)
        assert row.state is EscalationState.ACKNOWLEDGED
        assert not writes_at_once(other_writer, update(Escalation).values(ledger_number=9))
        db.session.rollback()
