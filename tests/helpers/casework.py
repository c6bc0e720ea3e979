"""An adviser's casework in tests: finding observations, summaries, escalations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select

from dissent.extensions import current_context, db
from dissent.models import (
    Escalation,
    Observation,
    Proposal,
    ProposalStatus,
)
from dissent.services import consent, conversation, escalation
from dissent.services.official_record import NO_CONTRADICTION, RecordClaim
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import submit_observation
from tests.helpers.staff import StaffLogin, adviser_keys


def refs(app) -> list[str]:
    """Return the references of all observations, oldest first."""
    with app.app_context():
        return list(db.session.scalars(select(Observation.ref).order_by(Observation.id)))


def observation_ref(app: Flask, *, mission_id: int) -> str:
    """Return the reference of the newest observation of a mission."""
    with app.app_context():
        return db.session.scalar(
            select(Observation.ref)
            .where(Observation.mission_id == mission_id)
            .order_by(Observation.id.desc())
        )


def file_and_acknowledge(new_client, staff, *, consent: str):
    source = new_client()
    submit_observation(
        source, what="Sgt. Jansen said the figures were rounded up.", consent=consent
    )
    inbox = staff.get("/adviser/", base_url=BASE_URL)
    ref = re.search(rb"/adviser/o/([A-Z0-9-]{9})", inbox.data).group(1).decode()
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    response = staff.post(
        f"/adviser/o/{ref}/acknowledge", data={"csrf_token": csrf_from(page)}, base_url=BASE_URL
    )
    assert response.status_code == 303
    return source, ref


def file_acknowledged(
    app: Flask,
    new_client,
    *,
    adviser: StaffLogin,
    consent: str = "ask_first",
    what: str = "The literacy figures in the final evaluation were rounded up.",
) -> str:
    """File an observation and acknowledge it as ``adviser`` through the services (no
    staff login, so a browser can log in with the next code); return its reference."""
    submit_observation(new_client(), what=what, consent=consent)
    with app.app_context(), db.unit():
        observation = db.session.scalar(select(Observation).order_by(Observation.id.desc()))
        user, _identity = adviser_keys(adviser)
        conversation.acknowledge(db.session, current_context(), staff=user, observation=observation)
        return observation.ref


def approve_waiting_proposals(app: Flask) -> None:
    """Approve every proposal that waits for its source, as the source would."""
    with app.app_context(), db.unit():
        for proposal in db.session.scalars(
            select(Proposal).where(Proposal.status == ProposalStatus.PENDING)
        ).all():
            consent.source_decides(
                db.session,
                source_id=proposal.observation.source_id,
                proposal_id=proposal.id,
                approve=True,
            )


def post_summary(staff, ref, text, action, leader_ids=(), checked=None, **fields):
    """Post the summary editor (``fields``: more of its fields, such as the statement
    about the official record)."""
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    data = {"csrf_token": csrf_from(page), "summary": text, "action": action, **fields}
    if checked is not None:
        data["checked"] = checked
    if leader_ids:
        data["leaders"] = [str(i) for i in leader_ids]
    return staff.post(f"/adviser/o/{ref}/summary", data=data, base_url=BASE_URL)


def checked_hash(response) -> str:
    return (
        re.search(rb'name="checked" type="hidden" value="([0-9a-f]{64})"', response.data)
        .group(1)
        .decode()
    )


SUMMARY = "The literacy course was completed by all 40 recruits of the second intake."


@dataclass
class Sent:
    """An escalation made for a test."""

    label: str
    slug: str
    number: int

    @property
    def url(self) -> str:
        return f"/leadership/e/{self.slug}/{self.number}"


def file_and_escalate(
    app,
    new_client,
    *,
    adviser: StaffLogin,
    leaders: list[StaffLogin],
    summary: str = SUMMARY,
    category: str = "reporting_accuracy",
    what: str = "The literacy figures in the final evaluation were rounded up.",
    record: RecordClaim = NO_CONTRADICTION,
) -> Sent:
    """File an observation (consent: summary allowed), acknowledge it and escalate it."""
    submit_observation(new_client(), what=what, consent="summary_allowed", category=category)
    with app.app_context(), db.unit():
        observation = db.session.scalar(select(Observation).order_by(Observation.id.desc()))
        user, identity = adviser_keys(adviser)
        ctx = current_context()
        conversation.acknowledge(db.session, ctx, staff=user, observation=observation)
        sent = escalation.escalate(
            db.session,
            ctx,
            staff=user,
            identity=identity,
            identity_secret=identity.secret_bytes(),
            observation=observation,
            summary=summary,
            leader_ids=[leader.id for leader in leaders],
            record=record,
        )
        return Sent(sent.label, sent.mission.slug, sent.ledger_number)


def find(sent: Sent) -> Escalation:
    """Return the escalation row (inside an app context)."""
    return db.session.scalar(
        select(Escalation).where(Escalation.ledger_number == sent.number).join(Escalation.mission)
    )
