"""Row locks that put concurrent writers in a queue, in one place.

An UPDATE that changes nothing takes the lock for the rest of the transaction: on
PostgreSQL the row's lock, on SQLite the database's write lock. Whatever is read after
it is read afresh, so two requests cannot both act on the same earlier state.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..models import Mission, Observation


def lock_mission(session: Session, mission_id: int) -> None:
    """Take the mission's lock: ledger numbers are handed out one at a time under it,
    and anything that rewrites a mission's ciphertexts in place (an access grant, the
    list of names) holds it, so neither of two such writes drops the other."""
    session.execute(update(Mission).where(Mission.id == mission_id).values(id=Mission.id))


def lock_observation(session: Session, observation_id: int) -> None:
    """Take the observation's lock (for checks that must hold until the commit, such
    as the limits on its files)."""
    session.execute(
        update(Observation).where(Observation.id == observation_id).values(id=Observation.id)
    )
