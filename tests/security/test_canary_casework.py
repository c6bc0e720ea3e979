"""The canary test extended to case work: notes, reasons, summaries and responses.

Every text written after the source's own (an internal note, the reason for a state
change, the escalated summary, leadership's response) is stored only as ciphertext that
the offline recovery key opens.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from dissent.crypto import DecryptionError, unwrap_identity
from dissent.extensions import current_context, db
from dissent.models import Escalation, Note, Response, ResponseKind, Role, StaffUser, StateChange
from dissent.services import leadership
from dissent.services.content import open_document
from dissent.services.verification import open_versions
from tests.helpers.casework import checked_hash, file_and_acknowledge, post_summary
from tests.helpers.leaks import capture_all_logging, instance_files, leaks
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.staff import PASSWORD, login_staff


@pytest.mark.sqlite_only
def test_case_work_canaries_are_stored_encrypted_only(
    app, new_client, mission, make_staff, recovery_identity, caplog, capsys
):
    capture_all_logging(caplog)
    canaries = {
        name: f"CANARY-{name}-{uuid.uuid4().hex}"
        for name in ("note", "reason", "summary", "response")
    }
    adviser, leader = make_staff(Role.ADVISER), make_staff(Role.LEADERSHIP)
    staff = new_client()
    login_staff(staff, adviser)
    _source, ref = file_and_acknowledge(new_client, staff, consent="summary_allowed")
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    staff.post(
        f"/adviser/o/{ref}/notes",
        data={"note-csrf_token": csrf_from(page), "note-text": canaries["note"]},
        base_url=BASE_URL,
    )
    staff.post(
        f"/adviser/o/{ref}/state",
        data={"csrf_token": csrf_from(page), "to_state": "in_review", "reason": canaries["reason"]},
        base_url=BASE_URL,
    )
    checked = post_summary(staff, ref, canaries["summary"], "check")
    sent = post_summary(
        staff, ref, canaries["summary"], "escalate", [leader.id], checked_hash(checked)
    )
    assert sent.status_code == 303
    with app.app_context(), db.unit():
        escalation = db.session.scalar(select(Escalation))
        chief = db.session.get(StaffUser, leader.id)
        leadership.respond(
            db.session,
            current_context(),
            staff=chief,
            escalation=escalation,
            kind=ResponseKind.DECLINED,
            text=canaries["response"],
        )

    for name, data in instance_files(app).items():
        assert not leaks(data, canaries), f"{name}: {leaks(data, canaries)}"
    logged = caplog.text.encode() + "".join(capsys.readouterr()).encode()
    assert not leaks(logged, canaries)

    with app.app_context():
        note = db.session.scalar(select(Note))
        change = db.session.scalar(select(StateChange).where(StateChange.reason.is_not(None)))
        response = db.session.scalar(select(Response))
        escalation = db.session.scalar(select(Escalation))
        assert open_document(note.body, identities=[recovery_identity])["text"] == canaries["note"]
        assert (
            open_document(change.reason, identities=[recovery_identity])["text"]
            == canaries["reason"]
        )
        assert (
            open_document(response.body, identities=[recovery_identity])["text"]
            == canaries["response"]
        )
        [version] = open_versions(escalation, recovery_identity)
        assert version.summary == canaries["summary"] and version.verified
        # The leader can read the summary; the notes stay with the advisers.
        leader_identity = unwrap_identity(chief.wrapped_identity, passphrase=PASSWORD)
        assert open_versions(escalation, leader_identity)[0].summary == canaries["summary"]
        with pytest.raises(DecryptionError):
            open_document(note.body, identities=[leader_identity])
