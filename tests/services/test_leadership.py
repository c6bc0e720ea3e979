"""Leadership's side: its escalations, acknowledging them, responding and reading responses."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import update

from dissent.extensions import current_context, db
from dissent.models import Escalation, EscalationState, ResponseKind, Role, utcnow
from dissent.services import accounts, leadership
from dissent.services.errors import (
    AlreadyDone,
    ChangedMeanwhile,
    InvalidInput,
    NotFound,
    Problem,
    Refused,
)
from dissent.services.leadership import RESPONSE_MAX
from tests.helpers.services import (
    acknowledge,
    escalate,
    file_case,
    find_escalation,
    staff_user,
    stranger,
)
from tests.helpers.staff import adviser_keys

SUMMARY = "The literacy course was completed by all 40 recruits of the second intake."
PLANNED = date(2027, 6, 1)


def send(app, mission_id: int, adviser, leaders) -> int:
    case = file_case(app, mission_id)
    acknowledge(app, case, adviser)
    return escalate(app, case, adviser=adviser, leaders=leaders, summary=SUMMARY)


@pytest.fixture
def sent(app, mission, adviser, leader) -> int:
    return send(app, mission.id, adviser, [leader])


def respond(app, leader, escalation_id: int, kind: ResponseKind, text: str, planned_for=None):
    with app.app_context(), db.unit():
        leadership.respond(
            db.session,
            current_context(),
            staff=staff_user(leader),
            escalation=find_escalation(escalation_id),
            kind=kind,
            text=text,
            planned_for=planned_for,
        )


def acknowledge_as(app, leader, escalation_id: int) -> None:
    with app.app_context(), db.unit():
        leadership.acknowledge_escalation(
            db.session, staff=staff_user(leader), escalation=find_escalation(escalation_id)
        )


# --- which escalations a leader sees ------------------------------------------------------------


def test_a_leader_sees_only_what_was_sent_to_them(app, mission, adviser, leader, make_staff):
    other = make_staff(Role.LEADERSHIP)
    to_leader = send(app, mission.id, adviser, [leader])
    to_both = send(app, mission.id, adviser, [leader, other])
    with app.app_context():
        mine = leadership.escalations_for_leader(db.session, staff_user(leader))
        theirs = leadership.escalations_for_leader(db.session, staff_user(other))
    assert [e.id for e in mine] == [to_leader, to_both]
    assert [e.id for e in theirs] == [to_both]


def test_one_escalation_is_found_by_its_label_and_only_by_its_recipients(
    app, leader, make_staff, sent
):
    other = make_staff(Role.LEADERSHIP)
    with app.app_context():
        found = leadership.escalation_for_leader(
            db.session, staff_user(leader), mission_slug="eupol", number=1
        )
        assert found.id == sent
        for who, slug, number in [(leader, "eupol", 2), (leader, "eutm", 1), (other, "eupol", 1)]:
            with pytest.raises(NotFound):
                leadership.escalation_for_leader(
                    db.session, staff_user(who), mission_slug=slug, number=number
                )


def test_the_list_is_by_mission_unanswered_first_then_oldest(app, mission, adviser, make_staff):
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="aaa", name="AAA Mission")  # sorts first
    leader_of_both = make_staff(Role.LEADERSHIP, missions=["eupol", "aaa"])
    other_adviser = make_staff(Role.ADVISER, missions=["aaa"])
    with app.app_context():
        aaa = staff_user(other_adviser).missions[0].id
    answered, older, newer = (send(app, mission.id, adviser, [leader_of_both]) for _ in range(3))
    elsewhere = send(app, aaa, other_adviser, [leader_of_both])
    on = utcnow().date()
    with app.app_context(), db.unit():
        for escalation_id, days in ((answered, 30), (older, 20), (newer, 10)):
            db.session.execute(
                update(Escalation)
                .where(Escalation.id == escalation_id)
                .values(created_at=find_escalation(escalation_id).created_at - timedelta(days))
            )
    respond(app, leader_of_both, answered, ResponseKind.DECLINED, "Not our remit.")
    with app.app_context():
        lines = leadership.leader_list(db.session, staff_user(leader_of_both), on=on)
        got = [(line.escalation.id, line.age_days, line.latest is not None) for line in lines]
    assert got == [
        (elsewhere, 0, False),
        (older, 20, False),
        (newer, 10, False),
        (answered, 30, True),
    ]


def test_an_escalation_from_the_future_is_zero_days_old(app, leader, sent):
    with app.app_context():
        [line] = leadership.leader_list(
            db.session, staff_user(leader), on=utcnow().date() - timedelta(days=3)
        )
    assert line.age_days == 0


# --- acknowledging ------------------------------------------------------------------------------


def test_acknowledging_records_who_and_when(app, leader, sent):
    acknowledge_as(app, leader, sent)
    with app.app_context():
        row = find_escalation(sent)
        assert row.state is EscalationState.ACKNOWLEDGED
        assert row.acknowledged_by_id == leader.id and row.acknowledged_at is not None


def test_acknowledging_twice_is_already_done_and_keeps_the_first(app, leader, sent):
    acknowledge_as(app, leader, sent)
    with app.app_context():
        first_at = find_escalation(sent).acknowledged_at
    with pytest.raises(AlreadyDone) as refused:
        acknowledge_as(app, leader, sent)
    assert refused.value.what is Refused.ACKNOWLEDGEMENT
    with app.app_context():
        assert find_escalation(sent).acknowledged_at == first_at


def test_an_answered_escalation_cannot_be_acknowledged_any_more(app, leader, sent):
    respond(app, leader, sent, ResponseKind.ACTION_TAKEN, "Corrected.")
    with pytest.raises(AlreadyDone):
        acknowledge_as(app, leader, sent)
    with app.app_context():
        assert find_escalation(sent).state is EscalationState.RESPONDED


# --- responding ---------------------------------------------------------------------------------


def test_responding_without_acknowledging_first_acknowledges_it_too(app, leader, sent):
    respond(app, leader, sent, ResponseKind.ACTION_TAKEN, "  The Q3 figures were corrected.\r\n")
    with app.app_context():
        row = find_escalation(sent)
        assert row.state is EscalationState.RESPONDED
        assert row.acknowledged_by_id == leader.id and row.acknowledged_at is not None
        assert row.responses[0].responder_id == leader.id


def test_a_later_response_keeps_the_first_acknowledgement(app, leader, sent):
    acknowledge_as(app, leader, sent)
    with app.app_context():
        first_at = find_escalation(sent).acknowledged_at
    respond(app, leader, sent, ResponseKind.DECLINED, "Not our remit.")
    respond(app, leader, sent, ResponseKind.ACTION_TAKEN, "On reflection, corrected.")
    with app.app_context():
        row = find_escalation(sent)
        assert row.acknowledged_at == first_at
        assert [r.kind for r in row.responses] == [
            ResponseKind.DECLINED,
            ResponseKind.ACTION_TAKEN,
        ]


def test_a_planned_action_needs_a_date_and_keeps_it(app, leader, sent):
    with pytest.raises(InvalidInput) as refused:
        respond(app, leader, sent, ResponseKind.ACTION_PLANNED, "We will retrain the team.")
    assert (refused.value.field, refused.value.problem) == ("planned_for", Problem.MISSING)
    with app.app_context():
        row = find_escalation(sent)
        assert row.responses == [] and row.state is EscalationState.SENT
    respond(app, leader, sent, ResponseKind.ACTION_PLANNED, "We will retrain the team.", PLANNED)
    with app.app_context():
        assert find_escalation(sent).responses[0].planned_for == PLANNED


@pytest.mark.parametrize("kind", [ResponseKind.ACTION_TAKEN, ResponseKind.DECLINED])
def test_a_date_given_with_another_kind_of_response_is_dropped(app, leader, sent, kind):
    respond(app, leader, sent, kind, "Done, or not.", PLANNED)
    with app.app_context():
        assert find_escalation(sent).responses[0].planned_for is None


@pytest.mark.parametrize(
    ("text", "problem", "limit"),
    [(" \n ", Problem.MISSING, None), ("x" * (RESPONSE_MAX + 1), Problem.TOO_LONG, RESPONSE_MAX)],
)
def test_an_empty_or_over_long_response_is_refused_and_nothing_changes(
    app, leader, sent, text, problem, limit
):
    with pytest.raises(InvalidInput) as refused:
        respond(app, leader, sent, ResponseKind.ACTION_TAKEN, text)
    assert (refused.value.field, refused.value.problem, refused.value.limit) == (
        "text",
        problem,
        limit,
    )
    with app.app_context():
        row = find_escalation(sent)
        assert row.responses == [] and row.state is EscalationState.SENT


def test_responses_are_read_by_leaders_and_advisers_but_not_by_others(
    app, adviser, leader, make_staff, sent
):
    respond(app, leader, sent, ResponseKind.ACTION_TAKEN, "x" * RESPONSE_MAX)
    respond(app, leader, sent, ResponseKind.DECLINED, "  Not our remit.  ")
    uninvolved = make_staff(Role.LEADERSHIP)
    with app.app_context():
        row = find_escalation(sent)
        for reader in (leader, adviser):
            _, identity = adviser_keys(reader)
            opened = leadership.open_responses(row, identity)
            assert [(r.text, r.readable) for r in opened] == [
                ("x" * RESPONSE_MAX, True),
                ("Not our remit.", True),
            ]
        _, identity = adviser_keys(uninvolved)
        assert [r.readable for r in leadership.open_responses(row, identity)] == [False, False]
        assert [r.text for r in leadership.open_responses(row, stranger())] == ["", ""]


def test_a_response_sent_from_a_page_another_response_overtook_is_refused(
    app, leader, make_staff, sent
):
    colleague = make_staff(Role.LEADERSHIP)
    respond(app, colleague, sent, ResponseKind.ACTION_TAKEN, "Corrected.")  # seen 0 responses
    with pytest.raises(ChangedMeanwhile) as refused, app.app_context(), db.unit():
        leadership.respond(
            db.session,
            current_context(),
            staff=staff_user(leader),
            escalation=find_escalation(sent),
            kind=ResponseKind.DECLINED,
            text="Not our remit.",
            seen=0,
        )
    assert refused.value.ref == "EUPOL-0001"
    with app.app_context(), db.unit():
        assert len(find_escalation(sent).responses) == 1
        leadership.respond(
            db.session,
            current_context(),
            staff=staff_user(leader),
            escalation=find_escalation(sent),
            kind=ResponseKind.DECLINED,
            text="Seen it; still not our remit.",
            seen=1,
        )
    with app.app_context():
        assert [r.responder_id for r in find_escalation(sent).responses] == [
            colleague.id,
            leader.id,
        ]
