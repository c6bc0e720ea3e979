"""Who is told what, and when: rows written with their event, reminders written once by a
run, and removed unsent when their reason has passed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, text, update

from dissent.extensions import current_context, db
from dissent.models import (
    Consent,
    Escalation,
    Notification,
    NotificationKind,
    Observation,
    ResponseKind,
    Role,
    StaffUser,
    State,
    today,
)
from dissent.services import attachments, audit, conversation, leadership, notifications
from dissent.services.deadlines import feedback_due, response_due
from dissent.services.errors import InvalidInput
from tests.helpers.files import store_file
from tests.helpers.filing import file_directly
from tests.helpers.ladder import days_after_sending, take_steps_at
from tests.helpers.notify import at, days_after_receipt, give_address, plan_at, rows
from tests.helpers.services import acknowledge, escalate, file_case, put_in_state, revise

K = NotificationKind


@pytest.fixture
def advisers(app, mission, make_staff):
    """Two advisers of the test mission with mail addresses, and one without."""
    first, second, silent = (make_staff(Role.ADVISER) for _ in range(3))
    give_address(app, first)
    give_address(app, second)
    return first, second, silent


@pytest.fixture
def leaders(app, mission, make_staff):
    """Two leaders of the test mission with mail addresses."""
    chosen, other = make_staff(Role.LEADERSHIP), make_staff(Role.LEADERSHIP)
    give_address(app, chosen)
    give_address(app, other)
    return chosen, other


def opens(app, login, ref: str) -> None:
    """``login`` opens the case page (the ledger records it, as the page does)."""
    with app.app_context(), db.unit():
        audit.record(db.session, actor=login.username, action=audit.Action.VIEW, subject=ref)


# --- written with the event -------------------------------------------------------------------


def test_a_new_observation_is_written_for_each_adviser_with_an_address(app, mission, advisers):
    first, second, _silent = advisers

    case = file_case(app, mission.id)

    assert rows(app) == sorted(
        [
            (first.id, K.NEW_OBSERVATION, case.observation_id),
            (second.id, K.NEW_OBSERVATION, case.observation_id),
        ]
    )


def test_the_rows_commit_with_the_filing_or_not_at_all(app, mission, advisers):
    with app.app_context(), pytest.raises(RuntimeError), db.unit():
        file_directly(db.session, current_context(), mission.id)
        assert len(rows(app)) == 0  # another connection: not committed yet
        raise RuntimeError("the request fails after the filing")

    assert rows(app) == []
    with app.app_context():
        assert db.session.scalar(select(Observation.id)) is None


def test_a_row_keeps_the_day_only_and_a_random_id(app, mission, advisers):
    file_case(app, mission.id)

    with app.app_context():
        stored = db.session.execute(
            text("SELECT id, created_on, sent_on, next_attempt_at FROM notification")
        ).all()
    assert len(stored) == 2
    for _row_id, created_on, sent_on, next_attempt in stored:
        assert str(created_on) == today().isoformat()  # the day: no time of day
        assert sent_on is None and next_attempt is None
    ids = [row[0] for row in stored]
    assert all(row_id > 2**40 for row_id in ids), ids  # random 63-bit, not 1, 2, ...


def test_a_source_message_goes_to_the_assigned_adviser_only(app, mission, advisers):
    _first, second, _silent = advisers
    case = file_case(app, mission.id)
    with app.app_context(), db.unit():
        db.session.execute(
            update(Observation)
            .where(Observation.id == case.observation_id)
            .values(assigned_to_id=second.id)
        )
        db.session.execute(text("DELETE FROM notification"))

    with app.app_context(), db.unit():
        conversation.post_source_message(
            db.session.connection(),
            current_context(),
            source_id=case.source_id,
            ref=case.ref,
            text="One more thing.",
        )

    assert rows(app) == [(second.id, K.SOURCE_MESSAGE, case.observation_id)]


def test_two_messages_before_a_run_are_one_row(app, mission, advisers):
    first, second, _ = advisers
    case = file_case(app, mission.id)
    for text_ in ("First.", "Second."):
        with app.app_context(), db.unit():
            conversation.post_source_message(
                db.session.connection(),
                current_context(),
                source_id=case.source_id,
                ref=case.ref,
                text=text_,
            )

    assert [r for r in rows(app) if r[1] is K.SOURCE_MESSAGE] == [
        (first.id, K.SOURCE_MESSAGE, case.observation_id),
        (second.id, K.SOURCE_MESSAGE, case.observation_id),
    ]


def clear_rows(app) -> None:
    with app.app_context(), db.unit():
        db.session.execute(text("DELETE FROM notification"))


def test_a_file_the_source_adds_later_is_news_for_the_case_and_an_advisers_file_is_not(
    app, mission, advisers
):
    first, second, _ = advisers
    case = file_case(app, mission.id)
    clear_rows(app)

    store_file(app, case.observation_id, b"From the adviser. " * 20, staff_id=first.id)
    after_adviser = rows(app)
    store_file(app, case.observation_id, b"A scan of the ledger. " * 20)

    assert after_adviser == []
    assert rows(app) == [
        (first.id, K.SOURCE_MESSAGE, case.observation_id),
        (second.id, K.SOURCE_MESSAGE, case.observation_id),
    ]


def test_a_file_sent_with_the_observation_itself_adds_no_second_notification(
    app, mission, advisers
):
    case = file_case(app, mission.id)

    store_file(app, case.observation_id, b"Filed with it. " * 20, first_filing=True)
    with_the_filing = {row[1] for row in rows(app)}
    store_file(app, case.observation_id, b"Sent later. " * 20)

    assert with_the_filing == {K.NEW_OBSERVATION}
    assert {row[1] for row in rows(app)} == {K.NEW_OBSERVATION, K.SOURCE_MESSAGE}


def test_a_file_refused_over_a_limit_tells_no_one(app, mission, advisers, monkeypatch):
    case = file_case(app, mission.id)
    clear_rows(app)
    monkeypatch.setattr(attachments, "MAX_ATTACHMENTS_PER_OBSERVATION", 1)
    store_file(app, case.observation_id, b"The first file. " * 20)
    assert len(rows(app)) == 2  # one for each adviser
    clear_rows(app)

    with pytest.raises(attachments.TooManyAttachments):
        store_file(app, case.observation_id, b"One too many. " * 20)

    assert rows(app) == []


def test_a_kind_turned_off_and_an_inactive_account_get_nothing(app, mission, make_staff):
    keen, tired, gone = (make_staff(Role.ADVISER) for _ in range(3))
    give_address(app, keen)
    give_address(app, tired, off=[K.NEW_OBSERVATION])
    give_address(app, gone)
    with app.app_context(), db.unit():
        db.session.get(StaffUser, gone.id).active = False

    case = file_case(app, mission.id)

    assert rows(app) == [(keen.id, K.NEW_OBSERVATION, case.observation_id)]


def test_escalation_and_response_reach_the_leader_and_then_the_adviser(
    app, mission, advisers, leaders
):
    first, _second, _ = advisers
    leader, other_leader = leaders
    case = file_case(app, mission.id, consent=Consent.SUMMARY_ALLOWED)
    acknowledge(app, case, first)  # first opens it by acknowledging
    opens(app, first, case.ref)

    escalation_id = escalate(app, case, adviser=first, leaders=[leader], summary="Figures.")

    assert (leader.id, K.ESCALATION_RECEIVED, escalation_id) in rows(app)
    assert other_leader.id not in {row[0] for row in rows(app)}  # not sent to them

    with app.app_context(), db.unit():
        leadership.respond(
            db.session,
            current_context(),
            staff=db.session.get(StaffUser, leader.id),
            escalation=db.session.get(Escalation, escalation_id),
            kind=ResponseKind.ACTION_TAKEN,
            text="Corrected.",
        )
    # The case's adviser, who opened it; not the colleague who never did.
    assert [r for r in rows(app) if r[1] is K.RESPONSE_RECEIVED] == [
        (first.id, K.RESPONSE_RECEIVED, escalation_id)
    ]


def test_a_new_version_of_an_escalation_is_news_for_its_leaders_only(
    app, mission, advisers, leaders
):
    first, _second, _ = advisers
    leader, _other_leader = leaders  # the other is not told
    case = file_case(app, mission.id, consent=Consent.SUMMARY_ALLOWED)
    acknowledge(app, case, first)
    escalation_id = escalate(app, case, adviser=first, leaders=[leader], summary="Figures.")
    clear_rows(app)

    revise(app, first, escalation_id, "Figures, corrected.")
    revise(app, first, escalation_id, "Figures, corrected twice.")  # before a run: one row

    assert rows(app) == [(leader.id, K.ESCALATION_REVISED, escalation_id)]
    assert K.ESCALATION_REVISED in notifications.kinds_for(Role.LEADERSHIP)
    assert K.ESCALATION_REVISED not in notifications.kinds_for(Role.ADVISER)


def test_a_new_version_of_a_stepped_escalation_is_news_for_oversight_too(
    app, mission, advisers, leaders, make_staff
):
    first, _second, _ = advisers
    leader, _other_leader = leaders
    member = make_staff(Role.OVERSIGHT)
    give_address(app, member)
    case = file_case(app, mission.id, consent=Consent.SUMMARY_ALLOWED)
    acknowledge(app, case, first)
    stepped = escalate(app, case, adviser=first, leaders=[leader], summary="Figures.")
    quiet = escalate(app, case, adviser=first, leaders=[leader], summary="Hours.")
    with app.app_context(), db.unit():
        # The other one was acknowledged in time: it does not go up the ladder.
        leadership.acknowledge_escalation(
            db.session,
            staff=db.session.get(StaffUser, leader.id),
            escalation=db.session.get(Escalation, quiet),
        )
    take_steps_at(app, days_after_sending(app, stepped, 15))
    clear_rows(app)

    revise(app, first, stepped, "Figures, corrected.")
    revise(app, first, quiet, "Hours, corrected.")

    assert [r for r in rows(app) if r[1] is K.ESCALATION_REVISED] == sorted(
        [
            (leader.id, K.ESCALATION_REVISED, stepped),
            (leader.id, K.ESCALATION_REVISED, quiet),
            (member.id, K.ESCALATION_REVISED, stepped),
        ]
    )
    assert K.ESCALATION_REVISED in notifications.kinds_for(Role.OVERSIGHT)


# --- written by a run -------------------------------------------------------------------------


def test_acknowledgement_reminders_come_due_once_each(app, mission, advisers):
    first, second, _ = advisers
    case = file_case(app, mission.id)
    obs = case.observation_id

    plan_at(app, days_after_receipt(app, obs, 4))  # due in 3 days: nothing yet
    assert {r[1] for r in rows(app)} == {K.NEW_OBSERVATION}

    plan_at(app, days_after_receipt(app, obs, 5))
    plan_at(app, days_after_receipt(app, obs, 5, hour=18))
    soon = [r for r in rows(app) if r[1] is K.ACK_DUE_SOON]
    assert soon == [(first.id, K.ACK_DUE_SOON, obs), (second.id, K.ACK_DUE_SOON, obs)]

    plan_at(app, days_after_receipt(app, obs, 8))
    kinds = [r[1] for r in rows(app)]
    assert kinds.count(K.ACK_OVERDUE) == 2
    assert K.ACK_DUE_SOON not in kinds  # passed unsent: removed, never sent late


def test_a_reminder_sent_is_not_written_again(app, mission, advisers):
    case = file_case(app, mission.id)
    now = days_after_receipt(app, case.observation_id, 8)
    plan_at(app, now)
    with app.app_context(), db.unit():
        db.session.execute(update(Notification).values(sent_on=now.date()))

    plan_at(app, now + timedelta(days=1))
    plan_at(app, now + timedelta(days=2))

    assert rows(app, pending=True) == []


def test_once_one_adviser_opened_the_case_the_others_get_no_reminders(app, mission, advisers):
    first, second, _ = advisers
    case = file_case(app, mission.id)
    plan_at(app, days_after_receipt(app, case.observation_id, 5))
    assert {r[0] for r in rows(app) if r[1] is K.ACK_DUE_SOON} == {first.id, second.id}

    opens(app, second, case.ref)
    plan_at(app, days_after_receipt(app, case.observation_id, 8))

    assert [(r[0], r[1]) for r in rows(app, pending=True)] == sorted(
        [(second.id, K.NEW_OBSERVATION), (second.id, K.ACK_OVERDUE)]
    )


def test_feedback_reminders_follow_the_deadline_and_stop_when_feedback_is_given(
    app, mission, advisers
):
    first, _second, _ = advisers
    case = file_case(app, mission.id)
    acknowledge(app, case, first)
    with app.app_context():
        observation = db.session.get(Observation, case.observation_id)
        due = feedback_due(observation, observation.mission)

    plan_at(app, at(due - timedelta(days=15)))
    assert K.FEEDBACK_DUE_SOON not in {r[1] for r in rows(app)}
    plan_at(app, at(due - timedelta(days=14)))
    assert (first.id, K.FEEDBACK_DUE_SOON, case.observation_id) in rows(app)

    put_in_state(app, case, State.FEEDBACK_GIVEN)
    plan_at(app, at(due + timedelta(days=1)))
    assert {r[1] for r in rows(app, pending=True)} & {
        K.FEEDBACK_DUE_SOON,
        K.FEEDBACK_OVERDUE,
    } == set()


def test_leadership_is_reminded_of_a_response_and_an_acknowledged_escalation_is_no_news(
    app, mission, make_staff, advisers
):
    first, _, _ = advisers
    leader = make_staff(Role.LEADERSHIP)
    give_address(app, leader)
    case = file_case(app, mission.id, consent=Consent.SUMMARY_ALLOWED)
    acknowledge(app, case, first)
    escalation_id = escalate(app, case, adviser=first, leaders=[leader], summary="Figures.")
    with app.app_context(), db.unit():
        escalation = db.session.get(Escalation, escalation_id)
        due = response_due(escalation)
        leadership.acknowledge_escalation(
            db.session, staff=db.session.get(StaffUser, leader.id), escalation=escalation
        )

    plan_at(app, at(due + timedelta(days=1)))

    leader_rows = {r[1] for r in rows(app, pending=True) if r[0] == leader.id}
    assert leader_rows == {K.RESPONSE_OVERDUE}  # "awaiting acknowledgement" is gone


def test_a_colleague_waiting_for_access_is_told_to_the_others(app, mission, make_staff, advisers):
    first, second, _ = advisers
    file_case(app, mission.id)
    newcomer = make_staff(Role.ADVISER)  # enrols after a file exists: waits for a grant
    give_address(app, newcomer)

    plan_at(app, at(date.today()))

    waiting = [r for r in rows(app) if r[1] is K.ACCESS_WAITING]
    assert {r[0] for r in waiting} == {first.id, second.id}
    assert len({r[2] for r in waiting}) == 1


def test_a_purged_observation_takes_its_rows_along(app, mission, advisers):
    case = file_case(app, mission.id)
    with app.app_context(), db.unit():
        db.session.execute(text("DELETE FROM observation"))

    plan_at(app, at(date.today()))

    assert rows(app) == []
    assert case.observation_id


# --- what each person wants -----------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "not an address",
        "a@b",
        "two@example.org, three@example.org",
        "x@example.org\nBcc: y@example.org",
        "ü@example.org",
        "a" * 65 + "@example.org",
    ],
)
def test_a_malformed_address_is_refused_for_its_field(app, advisers, typed):
    first, _, _ = advisers
    with app.app_context(), pytest.raises(InvalidInput) as refused, db.unit():
        notifications.set_email(db.session, staff_id=first.id, email=typed, actor="admin")
    assert refused.value.field == "email"


def test_the_ledger_records_an_address_changed_never_the_address(app, advisers):
    first, _, _ = advisers
    with app.app_context(), db.unit():
        notifications.set_email(
            db.session, staff_id=first.id, email="New.Person@EXAMPLE.org", actor="admin"
        )
    with app.app_context():
        person = db.session.get(StaffUser, first.id)
        subjects = db.session.scalars(text("SELECT subject FROM audit_entry")).all()
    assert person.email == "New.Person@example.org"
    assert f"email:{first.username}" in subjects
    assert not [s for s in subjects if "example.org" in s]


def test_choices_turn_kinds_of_ones_role_off_and_on(app, advisers):
    first, _, _ = advisers
    with app.app_context(), db.unit():
        person = db.session.get(StaffUser, first.id)
        notifications.set_preferences(
            db.session,
            staff=person,
            email="first@example.org",
            language="nl",
            kinds=[K.NEW_OBSERVATION.value, K.ACK_OVERDUE.value],
        )
        chosen = notifications.kinds_on(person)
        with pytest.raises(InvalidInput):
            notifications.set_preferences(
                db.session,
                staff=person,
                email="",
                language="nl",
                kinds=[K.ESCALATION_RECEIVED.value],  # a leader's kind
            )
    assert chosen == [K.NEW_OBSERVATION, K.ACK_OVERDUE]
    assert notifications.kinds_for(Role.ADMIN) == []
    assert K.ESCALATION_RECEIVED in notifications.kinds_for(Role.LEADERSHIP)
