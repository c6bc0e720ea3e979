"""The official record: the adviser's signed statement that a summary contradicts a report
or figure, leadership's decision about it, and planned corrections that become overdue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from dissent.crypto import VerifyKey, generate_identity, signing_key_from_secret
from dissent.extensions import current_context, db
from dissent.models import (
    Consent,
    EscalationVersion,
    RecordDecision,
    Response,
    Role,
    today,
)
from dissent.services import accounts, consent, official_record
from dissent.services.content import open_document, seal_document
from dissent.services.errors import ConsentProblem, ConsentRefused, InvalidInput, Problem
from dissent.services.keyring import escalation_recipients
from dissent.services.official_record import (
    NO_CONTRADICTION,
    Outcome,
    RecordClaim,
    check_claim,
    outcome,
    overdue_corrections,
)
from dissent.services.verification import (
    SIGNATURE_PURPOSE,
    SignatureProblem,
    open_versions,
    signed_message,
    summary_hash,
)
from tests.helpers.official_record import CLAIM, REASON, REFERENCE, decide, let_pass, plan
from tests.helpers.services import (
    acknowledge,
    escalate,
    file_case,
    find_escalation,
    revise,
    staff_user,
)
from tests.helpers.staff import adviser_keys

SUMMARY = "The course was reported as completed by all 40 recruits; 12 completed it."


@pytest.fixture
def sent(app, case, adviser, leader) -> int:
    """An escalation whose summary contradicts an official report."""
    return escalate(app, case, adviser=adviser, leaders=[leader], summary=SUMMARY, record=CLAIM)


def versions_of(app, adviser, escalation_id: int):
    with app.app_context():
        _, identity = adviser_keys(adviser)
        return open_versions(find_escalation(escalation_id), identity)


def outcome_of(app, escalation_id: int, on=None):
    with app.app_context():
        return outcome(find_escalation(escalation_id), on=on or today())


# --- the adviser's statement ---------------------------------------------------------------


def test_a_summary_that_contradicts_nothing_states_so():
    assert check_claim(contradicts=False, title="ignored", period="ignored") == NO_CONTRADICTION


@pytest.mark.parametrize(
    ("title", "period", "field"),
    [("", "Q2 2026", "record_title"), ("Quarterly report", "  ", "record_period")],
)
def test_a_contradicted_report_is_named_with_its_period(title, period, field):
    with pytest.raises(InvalidInput) as refused:
        check_claim(contradicts=True, title=title, period=period)
    assert (refused.value.field, refused.value.problem) == (field, Problem.MISSING)


def test_the_name_is_kept_as_typed_on_one_line():
    claim = check_claim(contradicts=True, title=" Quarterly\n report ", period="Q2\t2026")
    assert (claim.title, claim.period) == ("Quarterly report", "Q2 2026")


def test_the_statement_s_hash_changes_with_every_word_of_it():
    hashes = {
        CLAIM.sha256(),
        RecordClaim(True, CLAIM.title + ".", CLAIM.period).sha256(),
        RecordClaim(True, CLAIM.title, "third quarter of 2026").sha256(),
        RecordClaim(False, CLAIM.title, CLAIM.period).sha256(),
    }
    assert len(hashes) == 4


def test_the_statement_is_signed_with_the_version_and_sealed_with_the_text(app, adviser, sent):
    with app.app_context():
        version = find_escalation(sent).versions[0]
        assert (version.contradicts_record, version.record_sha256) == (True, CLAIM.sha256())
        # What the signature covers: the text's hash, and the statement and its hash.
        message = signed_message(
            mission_slug="eupol",
            ledger_number=1,
            version=1,
            sha256_hex=summary_hash(SUMMARY),
            contradicts_record=True,
            record_sha256=CLAIM.sha256(),
        )
        assert message.decode().splitlines()[-3:] == [
            "official-record",
            "contradicts",
            CLAIM.sha256(),
        ]
        VerifyKey.from_text(version.verify_key).verify(
            message, version.signature, purpose=SIGNATURE_PURPOSE
        )
        # The report's name is not stored in the clear.
        assert CLAIM.title.encode() not in version.body
    [opened] = versions_of(app, adviser, sent)
    assert opened.verified and opened.record == CLAIM


def test_an_escalation_says_it_contradicts_only_when_the_adviser_states_it(
    app, case, adviser, leader, sent
):
    plain = escalate(app, case, adviser=adviser, leaders=[leader], summary="Another point.")
    with app.app_context():
        assert official_record.contradicts(find_escalation(sent))
        assert not official_record.contradicts(find_escalation(plain))
    assert outcome_of(app, plain) is None
    assert outcome_of(app, sent) is Outcome.AWAITING_DECISION


@pytest.mark.parametrize(
    "change",
    [
        {"contradicts_record": False},  # the flag the report counts, flipped in the database
        {"record_sha256": NO_CONTRADICTION.sha256()},
    ],
)
def test_a_statement_changed_in_the_database_fails_the_check(app, adviser, sent, change):
    with app.app_context(), db.unit():
        db.session.execute(
            update(EscalationVersion)
            .where(EscalationVersion.escalation_id == sent)
            .values(**change)
        )
    [opened] = versions_of(app, adviser, sent)
    assert opened.problem is SignatureProblem.RECORD_CHANGED


def test_a_stated_version_cannot_pass_for_one_signed_before_statements(app, adviser, sent):
    """Emptying both columns would make it look old; its signature is over the new bytes."""
    with app.app_context(), db.unit():
        db.session.execute(
            update(EscalationVersion)
            .where(EscalationVersion.escalation_id == sent)
            .values(contradicts_record=None, record_sha256=None)
        )
    [opened] = versions_of(app, adviser, sent)
    assert not opened.verified


def test_a_version_signed_before_statements_still_verifies(app, adviser, leader, case):
    """A version as 0007 left it: no statement in its body, its columns empty, signed over
    the four lines of mission, number, version and hash."""
    sent = escalate(app, case, adviser=adviser, leaders=[leader], summary=SUMMARY)
    with app.app_context(), db.unit():
        _user, identity = adviser_keys(adviser)
        row = find_escalation(sent)
        key = signing_key_from_secret(identity.secret_bytes())
        old = signed_message(
            mission_slug="eupol", ledger_number=1, version=1, sha256_hex=summary_hash(SUMMARY)
        )
        recipients = escalation_recipients(
            db.session,
            current_context().settings,
            mission_id=row.mission_id,
            source_recipient=row.observation.source.recipient,
            leaders=row.recipients,
        )
        db.session.execute(
            update(EscalationVersion)
            .where(EscalationVersion.escalation_id == sent)
            .values(
                contradicts_record=None,
                record_sha256=None,
                body=seal_document({"summary": SUMMARY}, recipients=recipients),
                signature=key.sign(old, purpose=SIGNATURE_PURPOSE),
            )
        )
    [opened] = versions_of(app, adviser, sent)
    assert opened.verified and opened.record is None
    assert outcome_of(app, sent) is None


def test_correcting_the_text_alone_keeps_the_statement(app, adviser, sent):
    revise(app, adviser, sent, SUMMARY + " Records were checked.")
    _first, second = versions_of(app, adviser, sent)
    assert second.verified and second.record == CLAIM
    assert second.version.contradicts_record is True


def test_a_correction_can_change_the_statement_in_a_new_signed_version(app, adviser, sent):
    renamed = RecordClaim(True, "Final evaluation: literacy target met", "2026")
    revise(app, adviser, sent, SUMMARY, record=renamed)
    first, second = versions_of(app, adviser, sent)
    assert (first.record, second.record) == (CLAIM, renamed)
    assert first.verified and second.verified


# --- consent: the source approves the statement with the text ------------------------------


def test_ask_first_needs_the_statement_the_source_approved(app, mission, adviser, leader):
    asked = file_case(app, mission.id, consent=Consent.ASK_FIRST)
    acknowledge(app, asked, adviser)
    with app.app_context(), db.unit():
        proposal = consent.propose(
            db.session,
            current_context(),
            staff=staff_user(adviser),
            observation=asked.observation(),
            summary=SUMMARY,
            record=CLAIM,
        )
        db.session.flush()
        consent.source_decides(
            db.session, source_id=asked.source_id, proposal_id=proposal.id, approve=True
        )
    with app.app_context():
        # The source reads the statement with the proposal.
        [shown] = consent.proposals_for(db.session, asked.observation(), asked.source_identity())
        assert shown.record == CLAIM

    with pytest.raises(ConsentRefused) as refused:
        escalate(app, asked, adviser=adviser, leaders=[leader], summary=SUMMARY)
    assert refused.value.problem is ConsentProblem.RECORD_NOT_APPROVED

    sent = escalate(app, asked, adviser=adviser, leaders=[leader], summary=SUMMARY, record=CLAIM)
    with app.app_context():
        assert official_record.contradicts(find_escalation(sent))


# --- leadership's decision ------------------------------------------------------------------


def test_a_response_to_a_contradicting_escalation_must_decide_about_the_record(app, leader, sent):
    with pytest.raises(InvalidInput) as refused:
        decide(app, leader, sent, None)
    assert (refused.value.field, refused.value.problem) == ("record_decision", Problem.MISSING)
    with app.app_context():
        assert find_escalation(sent).responses == []


@pytest.mark.parametrize(
    ("decision", "field", "problem", "due"),
    [
        (RecordDecision.CORRECTED, "record_note", Problem.MISSING, None),
        (RecordDecision.NOT_CORRECTED, "record_note", Problem.MISSING, None),
        (RecordDecision.CORRECTION_PLANNED, "correction_due", Problem.MISSING, None),
        (RecordDecision.CORRECTION_PLANNED, "correction_due", Problem.OUT_OF_RANGE, -1),
    ],
)
def test_each_decision_needs_its_reference_reason_or_date(
    app, leader, sent, decision, field, problem, due
):
    with pytest.raises(InvalidInput) as refused:
        decide(
            app,
            leader,
            sent,
            decision,
            due=today() + timedelta(days=due) if due is not None else None,
        )
    assert (refused.value.field, refused.value.problem) == (field, problem)


@pytest.mark.parametrize(
    ("decision", "note", "days", "expected"),
    [
        (RecordDecision.CORRECTED, REFERENCE, None, Outcome.CORRECTED),
        (RecordDecision.CORRECTION_PLANNED, "", 0, Outcome.CORRECTION_PLANNED),
        (RecordDecision.NOT_CORRECTED, REASON, None, Outcome.NOT_CORRECTED),
    ],
)
def test_each_decision_is_recorded_with_its_outcome(
    app, adviser, leader, sent, decision, note, days, expected
):
    due = today() + timedelta(days=days) if days is not None else None
    decide(app, leader, sent, decision, note=note, due=due)
    with app.app_context():
        [response] = find_escalation(sent).responses
        assert (response.record_decision, response.correction_due) == (decision, due)
        # The reference or reason is sealed with the response, never stored in the clear.
        if note:
            assert note.encode() not in response.body
            _, identity = adviser_keys(adviser)
            assert open_document(response.body, identities=[identity])["record_note"] == note
    assert outcome_of(app, sent) is expected


def test_an_escalation_that_contradicts_nothing_keeps_no_decision(app, case, adviser, leader):
    plain = escalate(app, case, adviser=adviser, leaders=[leader], summary=SUMMARY)
    decide(app, leader, plain, RecordDecision.CORRECTED, note=REFERENCE)
    with app.app_context():
        [response] = find_escalation(plain).responses
        assert response.record_decision is None


def test_a_planned_correction_is_overdue_after_its_day(app, leader, sent):
    plan(app, leader, sent, days=0)
    assert outcome_of(app, sent) is Outcome.CORRECTION_PLANNED  # due today: not late yet
    assert outcome_of(app, sent, on=today() + timedelta(days=1)) is Outcome.CORRECTION_OVERDUE


def test_a_later_decision_ends_the_overdue_correction(app, leader, sent):
    plan(app, leader, sent)
    let_pass(app, sent)
    assert outcome_of(app, sent) is Outcome.CORRECTION_OVERDUE
    decide(app, leader, sent, RecordDecision.CORRECTED, note=REFERENCE)
    assert outcome_of(app, sent) is Outcome.CORRECTED


def test_a_response_without_a_decision_leaves_the_last_decision_standing(app, leader, sent):
    plan(app, leader, sent)
    let_pass(app, sent)
    # A later response without a decision (as one made before the statement was added
    # to the escalation) does not hide the lateness.
    with app.app_context(), db.unit():
        db.session.add(
            Response(
                escalation_id=sent,
                responder_id=leader.id,
                kind="action_taken",
                body=b"sealed",
            )
        )
    assert outcome_of(app, sent) is Outcome.CORRECTION_OVERDUE


def test_overdue_corrections_are_listed_for_the_mission_s_staff(
    app, adviser, leader, sent, make_staff
):
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eutm", name="EUTM Mission")
    elsewhere = make_staff(Role.ADVISER, missions=["eutm"])
    plan(app, leader, sent)
    with app.app_context():
        assert overdue_corrections(db.session, staff_user(adviser), on=today()) == []
    let_pass(app, sent, days=3)
    with app.app_context():
        listed = overdue_corrections(db.session, staff_user(adviser), on=today())
        assert [e.id for e in listed] == [sent]
        assert official_record.correction_due(listed[0]) == today() - timedelta(days=3)
        assert overdue_corrections(db.session, staff_user(elsewhere), on=today()) == []
        assert db.session.scalar(select(Response.correction_due)) == today() - timedelta(days=3)


def test_a_stranger_key_does_not_open_the_statement(app, sent):
    with app.app_context():
        identity = generate_identity(current_context().settings.key_kind)
        [opened] = open_versions(find_escalation(sent), identity)
    assert opened.problem is SignatureProblem.UNREADABLE and opened.record is None
