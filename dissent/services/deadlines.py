"""The deadline rules (EU Directive 2019/1937 art. 9, the Dutch Wbk): the one place that
computes them."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from ..models import Escalation, Mission, Observation, State
from .workflow import AWAITING_FEEDBACK


def ack_due(observation: Observation, mission: Mission) -> date:
    """Return the day by which receipt must be acknowledged."""
    return observation.received_on + timedelta(days=mission.ack_days)


def add_months(day: date, months: int) -> date:
    """Return the same day ``months`` calendar months later (clamped to the month's end).

    "Within three months" in the Directive is calendar months: 31 January plus three
    months is 30 April, never 2 May as a fixed 91 days would give.
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def feedback_due(observation: Observation, mission: Mission) -> date:
    """Return the day by which the source must hear what was done.

    Counted from the acknowledgement, or from the day it was due if none was sent.
    """
    start = observation.acknowledged_on or ack_due(observation, mission)
    return add_months(start, mission.feedback_months)


def ack_overdue(observation: Observation, mission: Mission, *, on: date) -> bool:
    """Return whether acknowledgement is late on day ``on``."""
    return observation.state is State.RECEIVED and on > ack_due(observation, mission)


def feedback_overdue(observation: Observation, mission: Mission, *, on: date) -> bool:
    """Return whether the source is still owed feedback after its day, on day ``on``."""
    return observation.state in AWAITING_FEEDBACK and on > feedback_due(observation, mission)


def response_due(escalation: Escalation) -> date:
    """Return the day by which leadership should respond to an escalation.

    The law sets no separate deadline for leadership: the source must hear what was
    done by the feedback deadline (:func:`feedback_due`), and leadership's response is
    what the adviser passes on, so it is due by that same day.
    """
    return feedback_due(escalation.observation, escalation.mission)


def ladder_limits(mission: Mission, *, sent_on: date) -> tuple[date, date]:
    """Return the last day leadership may acknowledge, and the last day it may answer,
    an escalation sent on ``sent_on`` before it goes up the ladder to the mission's
    oversight: the mission's limits in days and calendar months from that day.

    Computed once, when the escalation is sent, and kept on it
    (``Escalation.ladder_ack_due``, ``ladder_response_due``): a limit the operator
    changes later applies to escalations sent after the change, never backwards.
    """
    return (
        sent_on + timedelta(days=mission.ladder_ack_days),
        add_months(sent_on, mission.ladder_response_months),
    )
