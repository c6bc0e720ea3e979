"""An observation's conversation: reading it, messages both ways, acknowledgement and feedback."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dissent.extensions import current_context, db
from dissent.models import MessageKind, Observation, Sender, State, StateChange, today
from dissent.services import conversation
from dissent.services.conversation import ACKNOWLEDGEMENT_MARKER, MESSAGE_MAX
from dissent.services.errors import (
    AlreadyDone,
    InvalidInput,
    NotAcknowledged,
    NotFound,
    ObservationClosed,
    Problem,
    Refused,
)
from tests.helpers.services import (
    WHAT,
    Case,
    acknowledge,
    file_case,
    put_in_state,
    staff_user,
    stranger,
)
from tests.helpers.staff import adviser_keys


@pytest.fixture
def case(app, mission, adviser) -> Case:
    return file_case(app, mission.id)


def source_says(app, case: Case, text: str, *, source_id: int | None = None, ref=None) -> None:
    with app.app_context(), db.unit():
        conversation.post_source_message(
            db.session.connection(),
            current_context(),
            source_id=case.source_id if source_id is None else source_id,
            ref=case.ref if ref is None else ref,
            text=text,
        )


def send_feedback(app, case: Case, adviser, text: str) -> None:
    with app.app_context(), db.unit():
        conversation.send_feedback(
            db.session,
            current_context(),
            staff=staff_user(adviser),
            observation=case.observation(),
            text=text,
        )


def thread(app, case: Case, adviser) -> list[tuple]:
    """The thread as the adviser reads it: (sender, kind, text, author)."""
    with app.app_context():
        _, identity = adviser_keys(adviser)
        view = conversation.view_observation(case.observation(), identity, for_staff=True)
        return [(m.sender, m.kind, m.text, m.author) for m in view.messages]


# --- reading ----------------------------------------------------------------------------------


def test_the_adviser_and_the_source_read_the_observation_and_a_stranger_does_not(
    app, case, adviser
):
    with app.app_context():
        _, identity = adviser_keys(adviser)
        for reader in (identity, case.source_identity()):
            view = conversation.view_observation(case.observation(), reader, for_staff=False)
            assert view.readable and view.content["what"] == WHAT
        foreign = conversation.view_observation(case.observation(), stranger(), for_staff=False)
    assert not foreign.readable and foreign.content == {}


def test_the_source_is_not_shown_who_wrote_or_at_what_time(app, case, adviser):
    acknowledge(app, case, adviser)
    with app.app_context():
        observation = case.observation()
        [for_source] = conversation.view_observation(
            observation, case.source_identity(), for_staff=False
        ).messages
        _, identity = adviser_keys(adviser)
        [for_staff] = conversation.view_observation(observation, identity, for_staff=True).messages
    assert (for_source.author, for_source.sent_at) == (None, None)
    assert for_staff.author == adviser.username and for_staff.sent_at is not None
    assert for_source.sent_on == for_staff.sent_on == today()


def test_a_message_a_reader_cannot_open_is_shown_as_unreadable(app, case, adviser):
    source_says(app, case, "A follow-up.")
    with app.app_context():
        view = conversation.view_observation(case.observation(), stranger(), for_staff=True)
    [message] = view.messages
    assert (message.readable, message.text) == (False, "")


def test_a_source_sees_only_their_own_observations_newest_first(app, mission, adviser):
    first = file_case(app, mission.id)
    other = file_case(app, mission.id)
    with app.app_context(), db.unit():
        earlier = first.observation()
        later = Observation(
            ref="LATE-0001",
            mission_id=mission.id,
            source_id=first.source_id,
            category=earlier.category,
            consent=earlier.consent,
            content=earlier.content,
            submit_token_hash=b"t" * 32,
        )
        db.session.add(later)
    with app.app_context():
        own = conversation.source_observations(db.session, first.source_id)
        assert [o.ref for o in own] == ["LATE-0001", first.ref]
        assert [o.ref for o in conversation.source_observations(db.session, other.source_id)] == [
            other.ref
        ]


# --- messages ---------------------------------------------------------------------------------


def test_a_source_message_reaches_the_adviser_as_typed(app, case, adviser):
    source_says(app, case, "  The annex was rewritten.\r\nTwice.  ")
    assert thread(app, case, adviser) == [
        (Sender.SOURCE, MessageKind.MESSAGE, "The annex was rewritten.\nTwice.", None)
    ]


def test_a_source_cannot_write_into_another_sources_observation(app, mission, case, adviser):
    other = file_case(app, mission.id)
    with pytest.raises(NotFound):
        source_says(app, case, "Not mine.", source_id=other.source_id)
    with pytest.raises(NotFound):
        source_says(app, case, "No such case.", ref="ZZZZ-ZZZZ")
    assert thread(app, case, adviser) == []


def test_a_closed_observation_takes_no_more_messages_from_the_source(app, case, adviser):
    put_in_state(app, case, State.CLOSED)
    with pytest.raises(ObservationClosed) as refused:
        source_says(app, case, "One more thing.")
    assert refused.value.what is Refused.MESSAGE
    assert thread(app, case, adviser) == []


@pytest.mark.parametrize(
    ("text", "problem", "limit"),
    [(" \n ", Problem.MISSING, None), ("x" * (MESSAGE_MAX + 1), Problem.TOO_LONG, MESSAGE_MAX)],
)
def test_an_empty_or_over_long_message_is_refused(app, case, adviser, text, problem, limit):
    with pytest.raises(InvalidInput) as refused:
        source_says(app, case, text)
    assert (refused.value.field, refused.value.problem, refused.value.limit) == (
        "text",
        problem,
        limit,
    )
    with pytest.raises(InvalidInput), app.app_context(), db.unit():
        conversation.post_adviser_message(
            db.session,
            current_context(),
            staff=staff_user(adviser),
            observation=case.observation(),
            text=text,
        )
    assert thread(app, case, adviser) == []


def test_a_message_at_the_limit_is_taken(app, case, adviser):
    source_says(app, case, "x" * MESSAGE_MAX)
    assert len(thread(app, case, adviser)[0][2]) == MESSAGE_MAX


def test_the_advisers_message_shows_in_the_thread_at_once_with_its_author(app, case, adviser):
    with app.app_context(), db.unit():
        observation = case.observation()
        assert observation.messages == []  # the thread is loaded before the message
        conversation.post_adviser_message(
            db.session,
            current_context(),
            staff=staff_user(adviser),
            observation=observation,
            text="Thank you; could you say which annex?",
        )
        view = conversation.view_observation(observation, case.source_identity(), for_staff=False)
    assert [(m.sender, m.text) for m in view.messages] == [
        (Sender.ADVISER, "Thank you; could you say which annex?")
    ]


# --- acknowledgement --------------------------------------------------------------------------


def test_acknowledging_records_the_day_the_state_and_the_standard_message(app, case, adviser):
    acknowledge(app, case, adviser)
    with app.app_context():
        observation = case.observation()
        assert observation.state is State.ACKNOWLEDGED
        assert observation.acknowledged_on == today()
        change = db.session.scalar(select(StateChange))
        assert (change.from_state, change.to_state) == (State.RECEIVED, State.ACKNOWLEDGED)
    assert thread(app, case, adviser) == [
        (Sender.ADVISER, MessageKind.ACKNOWLEDGEMENT, ACKNOWLEDGEMENT_MARKER, adviser.username)
    ]


def test_acknowledging_twice_is_refused_and_sends_nothing_more(app, case, adviser):
    acknowledge(app, case, adviser)
    with pytest.raises(AlreadyDone) as refused:
        acknowledge(app, case, adviser)
    assert refused.value.what is Refused.ACKNOWLEDGEMENT
    assert len(thread(app, case, adviser)) == 1


def test_a_closed_observation_cannot_be_acknowledged(app, case, adviser):
    put_in_state(app, case, State.CLOSED)
    with pytest.raises(ObservationClosed) as refused:
        acknowledge(app, case, adviser)
    assert refused.value.what is Refused.ACKNOWLEDGEMENT
    with app.app_context():
        assert case.observation().acknowledged_on is None


# --- feedback ---------------------------------------------------------------------------------


def test_feedback_waits_for_the_acknowledgement(app, case, adviser):
    with pytest.raises(NotAcknowledged) as refused:
        send_feedback(app, case, adviser, "The figures were corrected.")
    assert refused.value.action is Refused.FEEDBACK
    assert thread(app, case, adviser) == []


def test_feedback_meets_the_deadline_once_and_is_counted_once_as_a_change(app, case, adviser):
    acknowledge(app, case, adviser)
    send_feedback(app, case, adviser, "The figures were corrected.")
    send_feedback(app, case, adviser, "And the annex was withdrawn.")
    with app.app_context():
        observation = case.observation()
        assert observation.state is State.FEEDBACK_GIVEN
        assert observation.feedback_given_on == today()
        to_states = db.session.scalars(select(StateChange.to_state).order_by(StateChange.id)).all()
    assert to_states == [State.ACKNOWLEDGED, State.FEEDBACK_GIVEN]
    assert [(m[1], m[2]) for m in thread(app, case, adviser)][1:] == [
        (MessageKind.FEEDBACK, "The figures were corrected."),
        (MessageKind.FEEDBACK, "And the annex was withdrawn."),
    ]


def test_empty_feedback_is_refused_and_the_state_stays(app, case, adviser):
    acknowledge(app, case, adviser)
    with pytest.raises(InvalidInput) as refused:
        send_feedback(app, case, adviser, "   ")
    assert refused.value.field == "text"
    with app.app_context():
        assert case.observation().state is State.ACKNOWLEDGED
        assert case.observation().feedback_given_on is None
        assert db.session.scalar(select(func.count()).select_from(StateChange)) == 1


def test_feedback_on_a_closed_observation_is_refused(app, case, adviser):
    acknowledge(app, case, adviser)
    put_in_state(app, case, State.CLOSED)
    with pytest.raises(ObservationClosed) as refused:
        send_feedback(app, case, adviser, "Too late.")
    assert refused.value.what is Refused.FEEDBACK
