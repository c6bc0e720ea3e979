"""The route to the official reporting line over HTTP: triage, consent, escalation, feedback."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from dissent.crypto import unwrap_identity
from dissent.extensions import current_context, db
from dissent.models import (
    Escalation,
    EscalationVersion,
    Message,
    Observation,
    Proposal,
    ProposalStatus,
    ResponseKind,
    Role,
    StaffUser,
    State,
)
from dissent.services import audit, leadership
from dissent.services.verification import open_versions
from tests.helpers.casework import checked_hash, file_and_acknowledge, post_summary
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.staff import PASSWORD, login_staff

SUMMARY = "Literacy completion figures in the Q3 report count attendance, not completion."


@pytest.fixture
def cast(app, new_client, mission, make_staff):
    """An adviser and a leader of the mission, the adviser logged in."""
    adviser = make_staff(Role.ADVISER)
    leader = make_staff(Role.LEADERSHIP)
    staff = new_client()
    login_staff(staff, adviser)
    return adviser, leader, staff


def test_flags_are_shown_before_anything_is_sent(app, new_client, cast):
    _adviser, leader, staff = cast
    _source, ref = file_and_acknowledge(new_client, staff, consent="summary_allowed")
    text = "Sgt. Jansen of the 3rd Platoon saw it on 12 March in Kunduz."
    response = post_summary(staff, ref, text, "escalate", [leader.id])
    # Escalating a text never seen flagged shows the flags instead of sending.
    assert response.status_code == 200
    assert b"possible identifiers flagged" in response.data
    for piece in (b"Sgt.", b"3rd Platoon", b"12 March", b"Kunduz"):
        assert b"<mark" in response.data and piece in response.data
    with app.app_context():
        assert db.session.scalar(select(Escalation)) is None


def test_summary_allowed_escalates_directly_and_source_is_told(app, new_client, cast):
    _adviser, leader, staff = cast
    source, ref = file_and_acknowledge(new_client, staff, consent="summary_allowed")
    first = post_summary(staff, ref, SUMMARY, "check")
    response = post_summary(staff, ref, SUMMARY, "escalate", [leader.id], checked_hash(first))
    assert response.status_code == 303
    with app.app_context():
        escalation = db.session.scalar(select(Escalation))
        assert escalation.ledger_number == 1
        assert escalation.label == "EUPOL-0001"
        assert escalation.observation.state is State.ESCALATED
    inbox = source.get("/inbox", base_url=BASE_URL)
    assert b"was passed on to the official reporting line" in inbox.data
    assert SUMMARY.encode() in inbox.data  # the source sees exactly what was sent


def test_never_means_never(app, new_client, cast):
    _adviser, leader, staff = cast
    _source, ref = file_and_acknowledge(new_client, staff, consent="never")
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    assert b"chose never to have this escalated" in page.data
    assert b"Write a de-identified summary" not in page.data  # no editor offered
    response = post_summary(staff, ref, SUMMARY, "escalate", [leader.id], "0" * 64)
    assert response.status_code == 400
    assert b"chose never to have this escalated" in response.data
    with app.app_context():
        assert db.session.scalar(select(Escalation)) is None


def test_ask_first_full_route(app, new_client, cast):
    _adviser, leader, staff = cast
    source, ref = file_and_acknowledge(new_client, staff, consent="ask_first")
    first = post_summary(staff, ref, SUMMARY, "check")
    # Escalating before the source approved is refused with a reason.
    refused = post_summary(staff, ref, SUMMARY, "escalate", [leader.id], checked_hash(first))
    assert refused.status_code == 400 and b"approve the summary first" in refused.data
    proposed = post_summary(staff, ref, SUMMARY, "propose", checked=checked_hash(first))
    assert proposed.status_code == 303

    inbox = source.get("/inbox", base_url=BASE_URL)
    assert b"The adviser proposes to pass on this summary" in inbox.data
    proposal_id = re.search(rb"/inbox/proposals/(\d+)", inbox.data).group(1).decode()
    response = source.post(
        f"/inbox/proposals/{proposal_id}",
        data={"csrf_token": csrf_from(inbox), "decision": "approve", "comment": "Fine by me."},
        base_url=BASE_URL,
    )
    assert response.status_code == 303

    response = post_summary(staff, ref, SUMMARY, "escalate", [leader.id], checked_hash(first))
    assert response.status_code == 303
    with app.app_context(), db.unit():
        escalation = db.session.scalar(select(Escalation))
        assert escalation.label == "EUPOL-0001"
        leader_user = db.session.get(StaffUser, leader.id)
        identity = unwrap_identity(leader_user.wrapped_identity, passphrase=PASSWORD)
        [version] = open_versions(escalation, identity)
        assert version.summary == SUMMARY and version.verified
        leadership.acknowledge_escalation(db.session, staff=leader_user, escalation=escalation)
        leadership.respond(
            db.session,
            current_context(),
            staff=leader_user,
            escalation=escalation,
            kind=ResponseKind.ACTION_TAKEN,
            text="The Q3 figures will be corrected.",
        )
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    assert b"The Q3 figures will be corrected." in page.data
    assert b"Fine by me." in page.data
    response = staff.post(
        f"/adviser/o/{ref}/feedback",
        data={
            "feedback-csrf_token": csrf_from(page),
            "feedback-text": "Leadership will correct the Q3 figures.",
        },
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    inbox = source.get("/inbox", base_url=BASE_URL)
    assert b"Leadership will correct the Q3 figures." in inbox.data
    with app.app_context():
        observation = db.session.scalar(select(Observation))
        assert observation.state is State.FEEDBACK_GIVEN
        assert observation.feedback_given_on is not None
        assert audit.verify_chain(db.session).ok


def test_editing_a_sent_summary_in_the_database_breaks_its_signature(app, new_client, cast):
    _adviser, leader, staff = cast
    _source, ref = file_and_acknowledge(new_client, staff, consent="summary_allowed")
    first = post_summary(staff, ref, SUMMARY, "check")
    post_summary(staff, ref, SUMMARY, "escalate", [leader.id], checked_hash(first))
    softened = "Literacy results were broadly in line with the report."
    second = post_summary(staff, ref, softened, "check")
    # A second escalation's ciphertext, swapped into the first: an "edit" in the database.
    post_summary(staff, ref, softened, "escalate", [leader.id], checked_hash(second))
    with app.app_context():
        first_version, second_version = db.session.scalars(
            select(EscalationVersion).order_by(EscalationVersion.id)
        )
        first_version.body = second_version.body
        db.session.commit()
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    assert b"SIGNATURE CHECK FAILED" in page.data


def test_state_changes_and_notes_are_kept_in_history(app, new_client, cast):
    _adviser, _leader, staff = cast
    _source, ref = file_and_acknowledge(new_client, staff, consent="ask_first")
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    response = staff.post(
        f"/adviser/o/{ref}/state",
        data={
            "csrf_token": csrf_from(page),
            "to_state": "in_review",
            "reason": "Needs a second look.",
        },
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    response = staff.post(
        f"/adviser/o/{ref}/notes",
        data={"note-csrf_token": csrf_from(page), "note-text": "Check the Q3 annex."},
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    assert b"Needs a second look." in page.data and b"Check the Q3 annex." in page.data
    # An impossible change is refused with a message, not a 500.
    response = staff.post(
        f"/adviser/o/{ref}/state",
        data={"csrf_token": csrf_from(page), "to_state": "received"},
        base_url=BASE_URL,
    )
    assert response.status_code == 400


def test_a_correction_over_http_is_a_new_version_not_a_new_escalation(app, new_client, cast):
    _adviser, leader, staff = cast
    source, ref = file_and_acknowledge(new_client, staff, consent="summary_allowed")
    first = post_summary(staff, ref, SUMMARY, "check")
    post_summary(staff, ref, SUMMARY, "escalate", [leader.id], checked_hash(first))
    with app.app_context():
        escalation_id = db.session.scalar(select(Escalation.id))
    corrected = SUMMARY.replace("count attendance", "counted attendance")
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    url = f"/adviser/o/{ref}/escalations/{escalation_id}/revise"
    shown = staff.post(
        url, data={"csrf_token": csrf_from(page), "summary": corrected}, base_url=BASE_URL
    )
    # First the flags, in a form that still corrects this escalation.
    assert shown.status_code == 200
    assert f'action="{url}#flags"'.encode() in shown.data
    response = staff.post(
        url,
        data={"csrf_token": csrf_from(shown), "summary": corrected, "checked": checked_hash(shown)},
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Escalation)) == 1
        versions = db.session.scalars(select(EscalationVersion.version)).all()
        assert sorted(versions) == [1, 2]
    inbox = source.get("/inbox", base_url=BASE_URL)
    assert b"<del>count</del>" in inbox.data and b"<ins>counted</ins>" in inbox.data


def test_a_proposal_on_a_closed_observation_cannot_be_decided_and_says_why(app, new_client, cast):
    """Closing does not withdraw a pending proposal; deciding it then is refused with a
    reason (it was a 500 when a comment came with it), and nothing is recorded."""
    _adviser, _leader, staff = cast
    source, ref = file_and_acknowledge(new_client, staff, consent="ask_first")
    first = post_summary(staff, ref, SUMMARY, "check")
    assert (
        post_summary(staff, ref, SUMMARY, "propose", checked=checked_hash(first)).status_code == 303
    )
    inbox = source.get("/inbox", base_url=BASE_URL)
    proposal_id = re.search(rb"/inbox/proposals/(\d+)", inbox.data).group(1).decode()
    with app.app_context():
        db.session.execute(update(Observation).values(state=State.CLOSED))
        db.session.commit()
        messages_before = db.session.scalar(select(func.count()).select_from(Message))

    response = source.post(
        f"/inbox/proposals/{proposal_id}",
        data={"csrf_token": csrf_from(inbox), "decision": "approve", "comment": "Fine by me."},
        base_url=BASE_URL,
    )

    assert response.status_code == 409
    assert b"This observation is closed; it takes no more messages." in response.data
    assert b"Fine by me." in response.data  # what the source typed is shown again
    with app.app_context():
        assert db.session.scalar(select(Proposal.status)) is ProposalStatus.PENDING
        assert db.session.scalar(select(func.count()).select_from(Message)) == messages_before


CONTRADICTS = {
    "record_contradicts": "y",
    "record_title": "Q3 progress report: literacy course completed by 40 of 40",
    "record_period": "third quarter of 2026",
}


def test_a_summary_marked_as_contradicting_goes_to_a_decision_and_back(app, new_client, cast):
    """Over HTTP: the adviser marks the summary, the leader must decide about the record,
    the adviser sees the decision and passes it on, the source reads it."""
    _adviser, leader, staff = cast
    source, ref = file_and_acknowledge(new_client, staff, consent="summary_allowed")
    first = post_summary(staff, ref, SUMMARY, "check", **CONTRADICTS)
    # The report's name and period are flagged like the summary (its numbers here).
    assert b"3 possible identifiers flagged in the report's name or period." in first.data
    # A statement changed after the check is shown flagged again, not sent.
    changed = post_summary(
        staff,
        ref,
        SUMMARY,
        "escalate",
        [leader.id],
        checked_hash(first),
        **{**CONTRADICTS, "record_period": "fourth quarter of 2026"},
    )
    assert changed.status_code == 200 and b'id="record-flags"' in changed.data
    sent = post_summary(
        staff, ref, SUMMARY, "escalate", [leader.id], checked_hash(first), **CONTRADICTS
    )
    assert sent.status_code == 303
    with app.app_context():
        escalation = db.session.scalar(select(Escalation))
        assert escalation.versions[0].contradicts_record is True

    chief = new_client()
    login_staff(chief, leader)
    url = "/leadership/e/eupol/1"
    page = chief.get(url, base_url=BASE_URL)
    assert CONTRADICTS["record_title"].encode() in page.data
    refused = chief.post(
        f"{url}/respond",
        data={"csrf_token": csrf_from(page), "kind": "action_taken", "text": "Noted."},
        base_url=BASE_URL,
    )
    assert refused.status_code == 400
    decided = chief.post(
        f"{url}/respond",
        data={
            "csrf_token": csrf_from(page),
            "kind": "action_taken",
            "text": "The report was reissued.",
            "record_decision": "corrected",
            "record_note": "Q3 progress report, revision 2",
        },
        base_url=BASE_URL,
    )
    assert decided.status_code == 303

    case = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    assert b"Official record:" in case.data and b"<strong>Corrected</strong>" in case.data
    assert b"Q3 progress report, revision 2" in case.data
    response = staff.post(
        f"/adviser/o/{ref}/feedback",
        data={
            "feedback-csrf_token": csrf_from(case),
            "feedback-text": "The Q3 report was corrected (revision 2).",
        },
        base_url=BASE_URL,
    )
    assert response.status_code == 303
    inbox = source.get("/inbox", base_url=BASE_URL)
    assert b"The Q3 report was corrected (revision 2)." in inbox.data
    assert b"Passed on as contradicting an official report or figure" in inbox.data
