"""Escalation through the service: ledger numbers, leaders, consent, signing keys, revisions."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dissent.crypto import VerifyKey
from dissent.extensions import current_context, db
from dissent.models import (
    Consent,
    Escalation,
    EscalationVersion,
    MessageKind,
    Proposal,
    ProposalStatus,
    Role,
    State,
    StateChange,
)
from dissent.services import accounts, consent, conversation, escalation
from dissent.services.consent import SUMMARY_MAX
from dissent.services.content import open_document
from dissent.services.errors import (
    ConsentProblem,
    ConsentRefused,
    InvalidInput,
    NotAcknowledged,
    Problem,
    Refused,
    SigningKeyMismatch,
)
from dissent.services.escalation import ESCALATION_NOTICE_MARKER
from dissent.services.official_record import NO_CONTRADICTION
from dissent.services.verification import SIGNATURE_PURPOSE, open_versions, signed_message
from tests.helpers.services import (
    Case,
    acknowledge,
    escalate,
    file_case,
    find_escalation,
    revise,
    staff_user,
    stranger,
)
from tests.helpers.staff import adviser_keys

SUMMARY = "The literacy course was completed by all 40 recruits of the second intake."


def escalations() -> int:
    return db.session.scalar(select(func.count()).select_from(Escalation))


def approved(app, asked: Case, adviser, summary: str) -> int:
    """Propose ``summary`` to the source, who approves it; return the proposal's id."""
    with app.app_context(), db.unit():
        proposal = consent.propose(
            db.session,
            current_context(),
            staff=staff_user(adviser),
            observation=asked.observation(),
            summary=summary,
        )
        db.session.flush()
        consent.source_decides(
            db.session, source_id=asked.source_id, proposal_id=proposal.id, approve=True
        )
        return proposal.id


def test_ledger_numbers_count_up_per_mission(app, mission, adviser, leader, make_staff):
    with app.app_context(), db.unit():
        eutm = accounts.create_mission(db.session, slug="eutm", name="EUTM Mission").id
    other_adviser = make_staff(Role.ADVISER, missions=["eutm"])
    other_leader = make_staff(Role.LEADERSHIP, missions=["eutm"])
    sent = []
    for _ in range(2):
        here = file_case(app, mission.id)
        acknowledge(app, here, adviser)
        sent.append(escalate(app, here, adviser=adviser, leaders=[leader], summary=SUMMARY))
    there = file_case(app, eutm)
    acknowledge(app, there, other_adviser)
    sent.append(
        escalate(app, there, adviser=other_adviser, leaders=[other_leader], summary=SUMMARY)
    )
    with app.app_context():
        assert [find_escalation(i).label for i in sent] == ["EUPOL-0001", "EUPOL-0002", "EUTM-0001"]


@pytest.mark.parametrize("who", ["nobody", "adviser", "leader_elsewhere"])
def test_the_summary_goes_only_to_leaders_of_the_mission(app, case, adviser, make_staff, who):
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eutm", name="EUTM Mission")
    chosen = {
        "nobody": [],
        "adviser": [adviser],
        "leader_elsewhere": [make_staff(Role.LEADERSHIP, missions=["eutm"])],
    }[who]
    with pytest.raises(InvalidInput) as refused:
        escalate(app, case, adviser=adviser, leaders=chosen, summary=SUMMARY)
    assert (refused.value.field, refused.value.problem) == ("leaders", Problem.MISSING)
    with app.app_context():
        assert escalations() == 0
        assert case.observation().state is State.ACKNOWLEDGED


def test_only_the_chosen_leaders_of_the_mission_receive_it(app, case, adviser, make_staff):
    chosen = make_staff(Role.LEADERSHIP)
    make_staff(Role.LEADERSHIP)  # a second leader of the mission, not chosen
    sent = escalate(app, case, adviser=adviser, leaders=[chosen, adviser], summary=SUMMARY)
    with app.app_context():
        assert [u.id for u in find_escalation(sent).recipients] == [chosen.id]


def test_an_unacknowledged_observation_cannot_be_escalated(app, mission, adviser, leader):
    fresh = file_case(app, mission.id)
    with pytest.raises(NotAcknowledged) as refused:
        escalate(app, fresh, adviser=adviser, leaders=[leader], summary=SUMMARY)
    assert refused.value.action is Refused.ESCALATION
    with app.app_context():
        assert escalations() == 0


def test_an_over_long_summary_is_refused_before_anything_else(app, mission, adviser, leader):
    fresh = file_case(app, mission.id, consent=Consent.NEVER)  # not acknowledged either
    with pytest.raises(InvalidInput) as refused:
        escalate(app, fresh, adviser=adviser, leaders=[leader], summary="x" * (SUMMARY_MAX + 1))
    assert (refused.value.field, refused.value.limit) == ("summary", SUMMARY_MAX)


def test_a_source_who_said_never_is_never_escalated(app, mission, adviser, leader):
    never = file_case(app, mission.id, consent=Consent.NEVER)
    acknowledge(app, never, adviser)
    with pytest.raises(ConsentRefused) as refused:
        escalate(app, never, adviser=adviser, leaders=[leader], summary=SUMMARY)
    assert refused.value.problem is ConsentProblem.NEVER
    with app.app_context():
        assert escalations() == 0


def test_an_approved_proposal_is_marked_sent_with_the_escalation(app, mission, adviser, leader):
    asked = file_case(app, mission.id, consent=Consent.ASK_FIRST)
    acknowledge(app, asked, adviser)
    proposal_id = approved(app, asked, adviser, SUMMARY)
    escalate(app, asked, adviser=adviser, leaders=[leader], summary=SUMMARY)
    with app.app_context():
        assert db.session.get(Proposal, proposal_id).status is ProposalStatus.SENT


def test_signing_with_a_key_that_is_not_the_advisers_is_refused(app, case, adviser, leader):
    with pytest.raises(SigningKeyMismatch), app.app_context(), db.unit():
        user, identity = adviser_keys(adviser)
        escalation.escalate(
            db.session,
            current_context(),
            staff=user,
            identity=identity,
            identity_secret=stranger().secret_bytes(),
            observation=case.observation(),
            summary=SUMMARY,
            leader_ids=[leader.id],
        )
    with app.app_context():
        assert escalations() == 0


def test_the_first_version_is_signed_over_mission_number_version_and_hash(
    app, case, adviser, leader
):
    sent = escalate(app, case, adviser=adviser, leaders=[leader], summary=SUMMARY)
    with app.app_context():
        row = find_escalation(sent)
        [version] = row.versions
        assert version.version == 1 and version.author_id == adviser.id
        assert version.verify_key == staff_user(adviser).verify_key
        # ... and over the statement that it does not contradict the official record.
        assert version.contradicts_record is False
        assert version.record_sha256 == NO_CONTRADICTION.sha256()
        # An outside reader checks it with the adviser's public key alone.
        VerifyKey.from_text(version.verify_key).verify(
            signed_message(
                mission_slug="eupol",
                ledger_number=1,
                version=1,
                sha256_hex=version.body_sha256,
                contradicts_record=False,
                record_sha256=version.record_sha256,
            ),
            version.signature,
            purpose=SIGNATURE_PURPOSE,
        )
        assert case.observation().state is State.ESCALATED


def test_the_source_is_told_the_label_in_their_thread(app, case, adviser, leader):
    escalate(app, case, adviser=adviser, leaders=[leader], summary=SUMMARY)
    with app.app_context():
        view = conversation.view_observation(
            case.observation(), case.source_identity(), for_staff=False
        )
        notice = view.messages[-1]
        assert notice.kind is MessageKind.ESCALATED and notice.text == ESCALATION_NOTICE_MARKER
        body = next(m.body for m in case.observation().messages if m.kind is MessageKind.ESCALATED)
        assert open_document(body, identities=[case.source_identity()])["label"] == "EUPOL-0001"


def test_a_second_escalation_of_the_same_case_records_no_second_state_change(
    app, case, adviser, leader
):
    escalate(app, case, adviser=adviser, leaders=[leader], summary=SUMMARY)
    second = escalate(app, case, adviser=adviser, leaders=[leader], summary="A second point.")
    with app.app_context():
        assert find_escalation(second).label == "EUPOL-0002"
        to_states = db.session.scalars(select(StateChange.to_state).order_by(StateChange.id)).all()
    assert to_states == [State.ACKNOWLEDGED, State.ESCALATED]


def test_a_revision_is_a_new_signed_version_and_the_first_stays(app, case, adviser, leader):
    sent = escalate(app, case, adviser=adviser, leaders=[leader], summary=SUMMARY)
    corrected = SUMMARY.replace("completed", "attended")
    revise(app, adviser, sent, corrected)
    with app.app_context():
        _, identity = adviser_keys(adviser)
        versions = open_versions(find_escalation(sent), identity)
        assert [(v.version.version, v.summary, v.verified) for v in versions] == [
            (1, SUMMARY, True),
            (2, corrected, True),
        ]
        assert db.session.scalar(select(func.count()).select_from(EscalationVersion)) == 2


def test_a_revision_of_an_ask_first_case_needs_the_new_text_approved(app, mission, adviser, leader):
    asked = file_case(app, mission.id, consent=Consent.ASK_FIRST)
    acknowledge(app, asked, adviser)
    approved(app, asked, adviser, SUMMARY)
    sent = escalate(app, asked, adviser=adviser, leaders=[leader], summary=SUMMARY)
    with pytest.raises(ConsentRefused) as refused:
        revise(app, adviser, sent, "A wording the source never saw.")
    assert refused.value.problem is ConsentProblem.NOT_APPROVED
    with app.app_context():
        assert len(find_escalation(sent).versions) == 1


def test_an_empty_revision_is_refused(app, case, adviser, leader):
    sent = escalate(app, case, adviser=adviser, leaders=[leader], summary=SUMMARY)
    with pytest.raises(InvalidInput) as refused:
        revise(app, adviser, sent, "  ")
    assert (refused.value.field, refused.value.problem) == ("summary", Problem.MISSING)
