"""Casework through the services alone: filing, moving and escalating an observation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlalchemy import select, update

from dissent.crypto import Identity, generate_identity, identity_from_secret
from dissent.crypto.codename import generate_codename
from dissent.extensions import current_context, db
from dissent.models import Category, Consent, Escalation, Observation, StaffUser, State
from dissent.services import conversation, escalation, submission
from dissent.services.official_record import NO_CONTRADICTION, RecordClaim
from tests.helpers.staff import StaffLogin, adviser_keys

WHAT = "The literacy figures in the final evaluation were rounded up."


@dataclass(frozen=True)
class Case:
    """An observation filed for a test, with what its source needs to read it."""

    observation_id: int
    ref: str
    source_id: int
    source_secret: bytes = field(repr=False)

    def observation(self) -> Observation:
        """Return the observation row (inside an app context)."""
        return db.session.get(Observation, self.observation_id)

    def source_identity(self) -> Identity:
        """Return the source's identity (inside an app context)."""
        return identity_from_secret(self.source_secret, kind=current_context().settings.key_kind)


def file_case(
    app,
    mission_id: int,
    *,
    consent: Consent = Consent.SUMMARY_ALLOWED,
    what: str = WHAT,
    category: Category = Category.REPORTING_ACCURACY,
) -> Case:
    """File an observation through the submission service; return it as a :class:`Case`."""
    draft = submission.ObservationDraft(
        mission_id=mission_id,
        category=category,
        what=what,
        when="last_month",
        where="",
        contradicts="yes",
        official_report="",
        consent=consent,
    )
    with app.app_context(), db.unit():
        new = submission.submit_observation(
            db.session,
            current_context(),
            draft=draft,
            submit_token=secrets.token_urlsafe(16),
            codename=generate_codename(),
        )
        observation = db.session.scalars(
            select(Observation).where(Observation.source_id == new.source_id)
        ).one()
        return Case(observation.id, observation.ref, new.source_id, new.identity_secret)


def acknowledge(app, case: Case, adviser: StaffLogin) -> None:
    """Acknowledge the case as ``adviser``."""
    with app.app_context(), db.unit():
        user, _ = adviser_keys(adviser)
        conversation.acknowledge(
            db.session, current_context(), staff=user, observation=case.observation()
        )


def put_in_state(app, case: Case, state: State) -> None:
    """Move the case to ``state`` directly in the database (no history)."""
    with app.app_context(), db.unit():
        db.session.execute(
            update(Observation).where(Observation.id == case.observation_id).values(state=state)
        )


def escalate(
    app,
    case: Case,
    *,
    adviser: StaffLogin,
    leaders: list[StaffLogin],
    summary: str,
    record: RecordClaim = NO_CONTRADICTION,
) -> int:
    """Escalate an acknowledged case to ``leaders`` (with the adviser's statement about
    the official record); return the escalation's id."""
    with app.app_context(), db.unit():
        user, identity = adviser_keys(adviser)
        sent = escalation.escalate(
            db.session,
            current_context(),
            staff=user,
            identity=identity,
            identity_secret=identity.secret_bytes(),
            observation=case.observation(),
            summary=summary,
            leader_ids=[leader.id for leader in leaders],
            record=record,
        )
        return sent.id


def revise(
    app,
    adviser: StaffLogin,
    escalation_id: int,
    summary: str,
    *,
    record: RecordClaim | None = None,
) -> None:
    """Send a corrected version of an escalation's summary, with a new statement about
    the official record (``None``: the current one kept)."""
    with app.app_context(), db.unit():
        user, identity = adviser_keys(adviser)
        escalation.revise(
            db.session,
            current_context(),
            staff=user,
            identity=identity,
            identity_secret=identity.secret_bytes(),
            escalation=find_escalation(escalation_id),
            summary=summary,
            record=record,
        )


def find_escalation(escalation_id: int) -> Escalation:
    """Return the escalation row (inside an app context)."""
    return db.session.get(Escalation, escalation_id)


def staff_user(login: StaffLogin) -> StaffUser:
    """Return the account row of ``login`` (inside an app context)."""
    return db.session.get(StaffUser, login.id)


def stranger() -> Identity:
    """Return an identity nothing was encrypted to."""
    return generate_identity(current_context().settings.key_kind)
