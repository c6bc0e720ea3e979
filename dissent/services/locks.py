"""Row locks that put concurrent writers in a queue, in one place.

An UPDATE that changes nothing takes the lock for the rest of the transaction: on
PostgreSQL the row's lock, on SQLite the database's write lock. Whatever is read after
it is read afresh, so two requests cannot both act on the same earlier state.
"""

from __future__ import annotations

from sqlalchemy import Connection, update
from sqlalchemy.orm import Session

from ..models import Escalation, Mission, Observation
from .errors import ChangedMeanwhile


def lock_mission(session: Session, mission_id: int) -> None:
    """Take the mission's lock: ledger numbers are handed out one at a time under it,
    and anything that rewrites a mission's ciphertexts in place (an access grant, the
    list of names) holds it, so neither of two such writes drops the other."""
    session.execute(update(Mission).where(Mission.id == mission_id).values(id=Mission.id))


def lock_observation(session: Session | Connection, observation_id: int) -> None:
    """Take the observation's lock (for checks that must hold until the commit, such
    as the limits on its files, and for the next place in its conversation)."""
    session.execute(
        update(Observation).where(Observation.id == observation_id).values(id=Observation.id)
    )


def hold_observation(session: Session, observation: Observation, *, seen: int | None) -> None:
    """Lock the observation for a change to the case, and re-read it under the lock.

    Two advisers acting at the same moment then act one after the other, the second on
    what the first left. ``seen`` is the revision the sender's page showed (``None``
    for callers without a page, such as the command line): if the case has changed
    since, :class:`ChangedMeanwhile` is raised instead of acting on a state they never
    saw. The revision counts the change, so whoever comes next sees it.
    """
    lock_observation(session, observation.id)
    session.refresh(observation)
    if seen is not None and seen != observation.revision:
        raise ChangedMeanwhile(observation.ref)
    observation.revision += 1


def hold_escalation(session: Session, escalation: Escalation) -> None:
    """Lock an escalation for leadership's acknowledgement or response and re-read it,
    so two leaders acting at once act one after the other."""
    session.execute(
        update(Escalation).where(Escalation.id == escalation.id).values(id=Escalation.id)
    )
    session.refresh(escalation)
