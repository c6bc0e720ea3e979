"""Escalations: their ledger label, the order of versions and responses, what rows enforce."""

from __future__ import annotations

import os
from datetime import date

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from dissent.extensions import db
from dissent.models import (
    Category,
    Consent,
    Escalation,
    EscalationState,
    EscalationVersion,
    Mission,
    Observation,
    Proposal,
    ProposalStatus,
    Response,
    ResponseKind,
    Role,
    Source,
    escalation_recipient,
)
from dissent.services import accounts


def new_observation(mission_id: int) -> Observation:
    """Add a bare observation (ciphertexts are placeholders) and return it."""
    source = Source(lookup_id=os.urandom(32), recipient="age1placeholder")
    observation = Observation(
        ref=f"{os.urandom(2).hex().upper()}-{os.urandom(2).hex().upper()}",
        mission_id=mission_id,
        source=source,
        category=Category.OTHER,
        consent=Consent.SUMMARY_ALLOWED,
        content=b"sealed",
        submit_token_hash=os.urandom(32),
    )
    db.session.add(observation)
    db.session.flush()
    return observation


def new_escalation(mission_id: int, number: int) -> Escalation:
    escalation = Escalation(
        mission_id=mission_id,
        observation_id=new_observation(mission_id).id,
        ledger_number=number,
        ladder_ack_due=date(2027, 1, 15),
        ladder_response_due=date(2027, 4, 1),
    )
    db.session.add(escalation)
    db.session.flush()
    return escalation


def version(escalation: Escalation, number: int, author_id: int) -> EscalationVersion:
    return EscalationVersion(
        escalation=escalation,
        version=number,
        author_id=author_id,
        body=b"sealed",
        body_sha256="0" * 64,
        signature=bytes(64),
        verify_key="key",
    )


@pytest.mark.parametrize(
    ("slug", "number", "label"),
    [
        ("eupol", 7, "EUPOL-0007"),
        ("eutm-mali", 42, "EUTM-MALI-0042"),
        ("eupol", 12345, "EUPOL-12345"),
    ],
)
def test_the_ledger_label_is_the_mission_and_a_padded_number(slug, number, label):
    escalation = Escalation(mission=Mission(slug=slug, name="A mission"), ledger_number=number)

    assert escalation.label == label


def test_a_new_escalation_is_sent_and_a_new_proposal_is_pending(app, mission, make_staff):
    adviser = make_staff(Role.ADVISER)
    with app.app_context(), db.unit():
        escalation = new_escalation(mission.id, 1)
        proposal = Proposal(
            observation_id=escalation.observation_id, adviser_id=adviser.id, body=b"sealed"
        )
        db.session.add(proposal)
        db.session.flush()

        assert escalation.state is EscalationState.SENT
        assert escalation.acknowledged_at is None
        assert proposal.status is ProposalStatus.PENDING
        assert proposal.decided_on is None
        assert escalation.label == "EUPOL-0001"


def test_a_ledger_number_is_used_once_per_mission(app, mission):
    with app.app_context(), db.unit():
        other = accounts.create_mission(db.session, slug="eutm", name="EUTM Training Mission")
        new_escalation(mission.id, 1)
        new_escalation(other.id, 1)  # every mission counts from one

    with app.app_context():
        with pytest.raises(IntegrityError):
            new_escalation(mission.id, 1)
        db.session.rollback()


def test_versions_come_in_version_order_and_responses_in_the_order_given(app, mission, make_staff):
    adviser, leader = make_staff(Role.ADVISER), make_staff(Role.LEADERSHIP)
    with app.app_context(), db.unit():
        escalation = new_escalation(mission.id, 3)
        db.session.add_all([version(escalation, 2, adviser.id), version(escalation, 1, adviser.id)])
        for kind in (ResponseKind.DECLINED, ResponseKind.ACTION_PLANNED):
            db.session.add(
                Response(escalation_id=escalation.id, responder_id=leader.id, kind=kind, body=b"x")
            )
        escalation_id = escalation.id

    with app.app_context():
        escalation = db.session.get(Escalation, escalation_id)
        assert [v.version for v in escalation.versions] == [1, 2]
        assert [r.kind for r in escalation.responses] == [
            ResponseKind.DECLINED,
            ResponseKind.ACTION_PLANNED,
        ]


def test_a_version_number_is_used_once_per_escalation(app, mission, make_staff):
    adviser = make_staff(Role.ADVISER)
    with app.app_context():
        escalation = new_escalation(mission.id, 1)
        db.session.add_all([version(escalation, 1, adviser.id), version(escalation, 1, adviser.id)])
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_an_escalation_lists_its_chosen_leaders(app, mission, make_staff):
    leaders = [make_staff(Role.LEADERSHIP), make_staff(Role.LEADERSHIP)]
    make_staff(Role.LEADERSHIP)  # not chosen
    with app.app_context(), db.unit():
        escalation = new_escalation(mission.id, 1)
        db.session.execute(
            escalation_recipient.insert(),
            [{"escalation_id": escalation.id, "staff_id": leader.id} for leader in leaders],
        )
        escalation_id = escalation.id

    with app.app_context():
        recipients = db.session.get(Escalation, escalation_id).recipients
        assert sorted(user.id for user in recipients) == sorted(leader.id for leader in leaders)


def test_deleting_an_escalation_takes_its_versions_responses_and_recipients(
    app, mission, make_staff
):
    adviser, leader = make_staff(Role.ADVISER), make_staff(Role.LEADERSHIP)
    with app.app_context(), db.unit():
        escalation = new_escalation(mission.id, 1)
        db.session.add(version(escalation, 1, adviser.id))
        db.session.add(
            Response(
                escalation_id=escalation.id,
                responder_id=leader.id,
                kind=ResponseKind.ACTION_TAKEN,
                body=b"x",
            )
        )
        db.session.execute(
            escalation_recipient.insert(), {"escalation_id": escalation.id, "staff_id": leader.id}
        )
        escalation_id = escalation.id

    with app.app_context(), db.unit():
        db.session.execute(delete(Escalation).where(Escalation.id == escalation_id))

    with app.app_context():
        for table in (EscalationVersion, Response, escalation_recipient):
            assert db.session.scalar(select(func.count()).select_from(table)) == 0


def test_deleting_an_observation_takes_its_proposals(app, mission, make_staff):
    adviser = make_staff(Role.ADVISER)
    with app.app_context(), db.unit():
        observation = new_observation(mission.id)
        db.session.add(Proposal(observation=observation, adviser_id=adviser.id, body=b"sealed"))
        observation_id = observation.id

    with app.app_context(), db.unit():
        db.session.execute(delete(Observation).where(Observation.id == observation_id))

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Proposal)) == 0
