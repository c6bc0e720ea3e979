"""Reading an escalation: each version's signature checked, tampering named, changes shown."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import update

from dissent.extensions import db
from dissent.models import EscalationVersion, Role, StaffUser
from dissent.services.official_record import NO_CONTRADICTION
from dissent.services.verification import (
    SignatureProblem,
    escalations_of,
    open_versions,
    signed_message,
    summary_hash,
    verify_version,
    word_diff,
)
from tests.helpers.services import (
    acknowledge,
    escalate,
    file_case,
    find_escalation,
    revise,
    staff_user,
    stranger,
)
from tests.helpers.staff import adviser_keys

NONE = NO_CONTRADICTION  # what a version escalated by the helpers states about the record
SUMMARY = "The literacy course was completed by all 40 recruits of the second intake."
REVISED = "The literacy course was attended by all 40 recruits; 12 completed it."


@pytest.fixture
def sent(app, case, adviser, leader) -> int:
    return escalate(app, case, adviser=adviser, leaders=[leader], summary=SUMMARY)


def tamper(app, escalation_id: int, **values) -> None:
    """Change the first version's row in the database, as someone with write access could."""
    with app.app_context(), db.unit():
        db.session.execute(
            update(EscalationVersion)
            .where(EscalationVersion.escalation_id == escalation_id, EscalationVersion.version == 1)
            .values(**values)
        )


def check_first(app, escalation_id: int, summary: str = SUMMARY) -> SignatureProblem | None:
    with app.app_context():
        version = find_escalation(escalation_id).versions[0]
        return verify_version(version, summary, signer=version.author, record=NO_CONTRADICTION)


# --- the signed bytes ---------------------------------------------------------------------------


def test_the_hash_is_the_sha256_of_the_exact_utf8_text():
    text = "Überprüfung: 40 → 12"
    assert summary_hash(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert summary_hash(text) != summary_hash(text + " ")


def test_the_signed_message_names_mission_number_version_and_hash_one_per_line():
    digest = summary_hash(SUMMARY)
    assert signed_message(
        mission_slug="eupol", ledger_number=7, version=2, sha256_hex=digest
    ) == f"eupol\n7\n2\n{digest}".encode("ascii")


# --- verify_version -----------------------------------------------------------------------------


def test_an_untouched_version_verifies(app, sent):
    assert check_first(app, sent) is None


def test_a_changed_text_is_reported_as_text_changed(app, sent):
    assert (
        check_first(app, sent, SUMMARY.replace("all 40", "most")) is SignatureProblem.TEXT_CHANGED
    )


def test_a_hash_rewritten_to_fit_a_new_text_breaks_the_signature(app, sent):
    softened = "Literacy results were broadly in line with the report."
    tamper(app, sent, body_sha256=summary_hash(softened))
    assert check_first(app, sent, softened) is SignatureProblem.BAD_SIGNATURE


def test_a_flipped_signature_byte_is_a_bad_signature(app, sent):
    with app.app_context():
        signature = bytearray(find_escalation(sent).versions[0].signature)
    signature[-1] ^= 0x01
    tamper(app, sent, signature=bytes(signature))
    assert check_first(app, sent) is SignatureProblem.BAD_SIGNATURE


def test_a_signature_moved_to_another_version_number_does_not_verify(app, adviser, sent):
    revise(app, adviser, sent, SUMMARY)  # the same text, so only the version number differs
    with app.app_context():
        first, second = find_escalation(sent).versions
        assert verify_version(second, SUMMARY, signer=second.author, record=NONE) is None
        second.signature = first.signature
        assert verify_version(second, SUMMARY, signer=second.author, record=NONE) is (
            SignatureProblem.BAD_SIGNATURE
        )
        db.session.rollback()


def test_a_version_signed_with_another_key_is_reported_as_foreign(app, sent, make_staff):
    other = make_staff(Role.ADVISER)
    with app.app_context():
        other_key = staff_user(other).verify_key
    tamper(app, sent, verify_key=other_key)
    assert check_first(app, sent) is SignatureProblem.FOREIGN_KEY


def test_the_author_is_checked_against_the_recorded_key(app, sent, make_staff):
    other = make_staff(Role.ADVISER)
    with app.app_context():
        version = find_escalation(sent).versions[0]
        assert verify_version(version, SUMMARY, signer=staff_user(other), record=NONE) is (
            SignatureProblem.FOREIGN_KEY
        )


def test_a_malformed_key_is_a_bad_signature_not_a_crash(app, adviser, sent):
    with app.app_context(), db.unit():
        db.session.get(StaffUser, adviser.id).verify_key = "not-a-key"
    tamper(app, sent, verify_key="not-a-key")
    assert check_first(app, sent) is SignatureProblem.BAD_SIGNATURE


# --- word_diff ----------------------------------------------------------------------------------


def test_the_same_text_is_one_unchanged_run():
    assert word_diff(SUMMARY, SUMMARY) == [("=", SUMMARY)]


def test_a_replaced_word_is_removed_then_added_between_unchanged_runs():
    assert word_diff("all 40 recruits passed", "all 12 recruits passed") == [
        ("=", "all"),
        ("-", "40"),
        ("+", "12"),
        ("=", "recruits passed"),
    ]


def test_added_and_removed_words_are_shown_as_such():
    assert word_diff("figures were rounded", "figures were rounded up twice") == [
        ("=", "figures were rounded"),
        ("+", "up twice"),
    ]
    assert word_diff("figures were quietly rounded", "figures were rounded") == [
        ("=", "figures were"),
        ("-", "quietly"),
        ("=", "rounded"),
    ]


# --- open_versions and escalations_of -----------------------------------------------------------


def test_each_version_carries_its_diff_against_the_one_before(app, adviser, sent):
    revise(app, adviser, sent, REVISED)
    with app.app_context():
        _, identity = adviser_keys(adviser)
        first, second = open_versions(find_escalation(sent), identity)
    assert first.diff == [] and first.verified
    assert second.diff == word_diff(SUMMARY, REVISED) and second.verified
    assert ("-", "completed") in second.diff


def test_a_reader_who_cannot_open_a_version_is_told_so(app, sent):
    with app.app_context():
        [version] = open_versions(find_escalation(sent), stranger())
    assert version.problem is SignatureProblem.UNREADABLE
    assert not version.verified and version.summary == ""


def test_a_tampered_version_is_flagged_and_the_others_still_verify(app, adviser, sent):
    revise(app, adviser, sent, REVISED)
    tamper(app, sent, body_sha256="0" * 64)
    with app.app_context():
        _, identity = adviser_keys(adviser)
        first, second = open_versions(find_escalation(sent), identity)
    assert first.problem is SignatureProblem.TEXT_CHANGED and first.summary == SUMMARY
    assert second.verified


def test_the_escalations_of_an_observation_are_its_own_oldest_first(
    app, mission, case, adviser, leader, sent
):
    later = escalate(app, case, adviser=adviser, leaders=[leader], summary=REVISED)
    other = file_case(app, mission.id)
    acknowledge(app, other, adviser)
    elsewhere = escalate(app, other, adviser=adviser, leaders=[leader], summary=SUMMARY)
    with app.app_context():
        assert [e.id for e in escalations_of(db.session, case.observation())] == [sent, later]
        assert [e.id for e in escalations_of(db.session, other.observation())] == [elsewhere]
