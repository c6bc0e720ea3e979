"""Summaries proposed to a source in tests: proposing, and passing on what was approved."""

from __future__ import annotations

from sqlalchemy import select

from dissent.extensions import current_context, db
from dissent.models import Observation, State
from dissent.services import consent, conversation, escalation
from tests.helpers.staff import StaffLogin, adviser_keys

SUMMARY = "Attendance at the literacy course was reported as completion in the Q3 figures."


def propose(app, adviser: StaffLogin, summary: str = SUMMARY) -> int:
    """Acknowledge the newest observation (if not yet) and propose ``summary`` to its
    source; return the proposal's id."""
    with app.app_context(), db.unit():
        observation = db.session.scalar(select(Observation).order_by(Observation.id.desc()))
        user, _ = adviser_keys(adviser)
        ctx = current_context()
        if observation.state is State.RECEIVED:
            conversation.acknowledge(db.session, ctx, staff=user, observation=observation)
        return consent.propose(
            db.session, ctx, staff=user, observation=observation, summary=summary
        ).id


def pass_on(app, adviser: StaffLogin, leader: StaffLogin, summary: str = SUMMARY) -> str:
    """Escalate the newest observation's approved ``summary`` to ``leader``; return its label."""
    with app.app_context(), db.unit():
        observation = db.session.scalar(select(Observation).order_by(Observation.id.desc()))
        user, identity = adviser_keys(adviser)
        sent = escalation.escalate(
            db.session,
            current_context(),
            staff=user,
            identity=identity,
            identity_secret=identity.secret_bytes(),
            observation=observation,
            summary=summary,
            leader_ids=[leader.id],
        )
        return sent.label
