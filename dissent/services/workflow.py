"""The observation state machine: the one place that says what may follow what."""

from __future__ import annotations

from ..models import State
from .errors import AlreadyDone, InvalidState, NotAcknowledged, ObservationClosed, Refused

# Transitions an adviser makes with the "change state" form. The others happen as
# the result of an action and only through it: acknowledging (received →
# acknowledged), escalating (→ escalated) and sending feedback (→ feedback_given).
MANUAL_TRANSITIONS: dict[State, tuple[State, ...]] = {
    State.RECEIVED: (State.ADVICE_ONLY,),
    State.ACKNOWLEDGED: (State.IN_REVIEW, State.ADVICE_ONLY, State.CLOSED),
    State.IN_REVIEW: (State.ADVICE_ONLY, State.CLOSED),
    State.ESCALATED: (State.CLOSED,),
    State.FEEDBACK_GIVEN: (State.IN_REVIEW, State.CLOSED),
    State.ADVICE_ONLY: (State.IN_REVIEW, State.CLOSED),
    State.CLOSED: (State.IN_REVIEW,),
}

# What each action adds, for the reason an action that does not fit gives.
_ACTION_ADDS = {
    "acknowledge": Refused.ACKNOWLEDGEMENT,
    "escalate": Refused.ESCALATION,
    "feedback": Refused.FEEDBACK,
}
ACTION_TRANSITIONS: dict[str, tuple[tuple[State, ...], State]] = {
    "acknowledge": ((State.RECEIVED,), State.ACKNOWLEDGED),
    "escalate": (
        (State.ACKNOWLEDGED, State.IN_REVIEW, State.ESCALATED, State.FEEDBACK_GIVEN),
        State.ESCALATED,
    ),
    "feedback": (
        (
            State.ACKNOWLEDGED,
            State.IN_REVIEW,
            State.ESCALATED,
            State.FEEDBACK_GIVEN,
            State.ADVICE_ONLY,
        ),
        State.FEEDBACK_GIVEN,
    ),
}

# States in which the feedback deadline still runs.
AWAITING_FEEDBACK = (State.RECEIVED, State.ACKNOWLEDGED, State.IN_REVIEW, State.ESCALATED)


def can_change(current: State, target: State) -> bool:
    """Return whether an adviser may move an observation from ``current`` to ``target``."""
    return target in MANUAL_TRANSITIONS.get(current, ())


def action_allowed(action: str, current: State) -> bool:
    """Return whether ``action`` may be taken in state ``current``."""
    allowed, _ = ACTION_TRANSITIONS[action]
    return current in allowed


def action_target(action: str) -> State:
    """Return the state an action leads to."""
    return ACTION_TRANSITIONS[action][1]


def check_action(action: str, current: State) -> None:
    """Raise the reason ``action`` may not be taken in state ``current``, if it may not."""
    if action_allowed(action, current):
        return
    adds = _ACTION_ADDS[action]
    if current is State.CLOSED:
        raise ObservationClosed(adds)
    if action == "acknowledge":
        raise AlreadyDone(adds)
    if current is State.RECEIVED:
        raise NotAcknowledged(adds)
    raise InvalidState(f"{action} does not fit an observation that is {current.value}")
