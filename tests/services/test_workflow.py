"""The observation state machine: which manual changes and actions fit which state, and why not."""

from __future__ import annotations

import itertools

import pytest

from dissent.models import State
from dissent.services.errors import (
    AlreadyDone,
    InvalidState,
    NotAcknowledged,
    ObservationClosed,
    Refused,
)
from dissent.services.workflow import (
    AWAITING_FEEDBACK,
    action_allowed,
    action_target,
    can_change,
    check_action,
)

S = State
# What an adviser may do by hand, written out from the procedure (not read from the code).
ALLOWED_BY_HAND = {
    (S.RECEIVED, S.ADVICE_ONLY),
    (S.ACKNOWLEDGED, S.IN_REVIEW),
    (S.ACKNOWLEDGED, S.ADVICE_ONLY),
    (S.ACKNOWLEDGED, S.CLOSED),
    (S.IN_REVIEW, S.ADVICE_ONLY),
    (S.IN_REVIEW, S.CLOSED),
    (S.ESCALATED, S.CLOSED),
    (S.FEEDBACK_GIVEN, S.IN_REVIEW),
    (S.FEEDBACK_GIVEN, S.CLOSED),
    (S.ADVICE_ONLY, S.IN_REVIEW),
    (S.ADVICE_ONLY, S.CLOSED),
    (S.CLOSED, S.IN_REVIEW),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(State, State)))
def test_every_manual_change_is_allowed_or_refused_as_the_procedure_says(current, target):
    assert can_change(current, target) is ((current, target) in ALLOWED_BY_HAND)


@pytest.mark.parametrize("target", [S.RECEIVED, S.ACKNOWLEDGED, S.ESCALATED, S.FEEDBACK_GIVEN])
def test_states_reached_by_an_action_cannot_be_set_by_hand(target):
    assert not any(can_change(current, target) for current in State)


def test_a_closed_observation_can_only_be_reopened_for_review():
    assert [t for t in State if can_change(S.CLOSED, t)] == [S.IN_REVIEW]


@pytest.mark.parametrize(
    ("action", "target"),
    [
        ("acknowledge", S.ACKNOWLEDGED),
        ("escalate", S.ESCALATED),
        ("feedback", S.FEEDBACK_GIVEN),
    ],
)
def test_each_action_leads_to_its_own_state(action, target):
    assert action_target(action) is target


def test_only_a_received_observation_can_be_acknowledged():
    assert [s for s in State if action_allowed("acknowledge", s)] == [S.RECEIVED]
    check_action("acknowledge", S.RECEIVED)  # no exception


@pytest.mark.parametrize(
    "state", [S.ACKNOWLEDGED, S.IN_REVIEW, S.ESCALATED, S.FEEDBACK_GIVEN, S.ADVICE_ONLY]
)
def test_acknowledging_twice_is_already_done(state):
    with pytest.raises(AlreadyDone) as refused:
        check_action("acknowledge", state)
    assert refused.value.what is Refused.ACKNOWLEDGEMENT


@pytest.mark.parametrize(
    ("action", "adds"),
    [
        ("acknowledge", Refused.ACKNOWLEDGEMENT),
        ("escalate", Refused.ESCALATION),
        ("feedback", Refused.FEEDBACK),
    ],
)
def test_every_action_on_a_closed_observation_is_refused_as_closed(action, adds):
    with pytest.raises(ObservationClosed) as refused:
        check_action(action, S.CLOSED)
    assert refused.value.what is adds


@pytest.mark.parametrize(
    ("action", "adds"), [("escalate", Refused.ESCALATION), ("feedback", Refused.FEEDBACK)]
)
def test_escalation_and_feedback_wait_for_the_acknowledgement(action, adds):
    with pytest.raises(NotAcknowledged) as refused:
        check_action(action, S.RECEIVED)
    assert refused.value.action is adds


@pytest.mark.parametrize("state", [S.ACKNOWLEDGED, S.IN_REVIEW, S.ESCALATED, S.FEEDBACK_GIVEN])
def test_an_escalation_may_follow_acknowledgement_review_and_earlier_escalations(state):
    check_action("escalate", state)
    assert action_allowed("escalate", state)


def test_advice_only_takes_feedback_but_no_escalation():
    check_action("feedback", S.ADVICE_ONLY)
    with pytest.raises(InvalidState) as refused:
        check_action("escalate", S.ADVICE_ONLY)
    # The plain refusal: neither closed, nor waiting for the acknowledgement.
    assert type(refused.value) is InvalidState
    assert "advice_only" in str(refused.value)


def test_the_feedback_deadline_stops_once_feedback_is_given_or_the_case_ends():
    assert S.RECEIVED in AWAITING_FEEDBACK and S.ESCALATED in AWAITING_FEEDBACK
    for done in (S.FEEDBACK_GIVEN, S.ADVICE_ONLY, S.CLOSED):
        assert done not in AWAITING_FEEDBACK
