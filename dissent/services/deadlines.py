"""The deadline rules (DESIGN §4): the one place that computes them."""

from __future__ import annotations

from datetime import date, timedelta

from ..models import Mission, Observation, State


def ack_due(observation: Observation, mission: Mission) -> date:
    """Return the day by which receipt must be acknowledged."""
    return observation.received_on + timedelta(days=mission.ack_days)


def feedback_due(observation: Observation, mission: Mission) -> date:
    """Return the day by which the source must hear what was done.

    Counted from the acknowledgement, or from the day it was due if none was sent.
    """
    start = observation.acknowledged_on or ack_due(observation, mission)
    return start + timedelta(days=mission.feedback_days)


def ack_overdue(observation: Observation, mission: Mission, *, on: date) -> bool:
    """Return whether acknowledgement is late on day ``on``."""
    return observation.state is State.RECEIVED and on > ack_due(observation, mission)
