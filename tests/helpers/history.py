"""A case with every kind of ciphertext dissent stores, built through the pages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.helpers.casework import checked_hash, post_summary, refs
from tests.helpers.files import adviser_upload, random_bytes, source_upload
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import source_reply, submit_observation
from tests.helpers.staff import StaffLogin, login_staff

CANARY = "canary-7301 the water audit was postponed twice"
SUMMARY = "canary-7306 the water audit was postponed twice without a reason"


@dataclass
class History:
    """What the case is and who took part."""

    ref: str
    codename: str
    label: str
    adviser_browser: object
    source_browser: object


def _post(browser, path: str, data: dict, *, page: str, token: str = "csrf_token"):
    form = browser.get(page, base_url=BASE_URL)
    response = browser.post(path, data={token: csrf_from(form), **data}, base_url=BASE_URL)
    assert response.status_code == 303, response.data[:500]
    return response


def build_history(app, new_client, *, adviser: StaffLogin, leader: StaffLogin) -> History:
    """File an observation (consent "ask me first") and take it through everything: a
    source message and file, acknowledgement, reply, note, state change with a reason, an
    adviser's file, the mission's list of names, a proposal the source approves, an
    escalation (with its notice to the source) and leadership's response."""
    source = new_client()
    codename = submit_observation(source, what=CANARY)
    (ref,) = refs(app)
    source.ref = ref
    source_reply(source, ref, "canary-7302 and a follow-up from the source")
    assert source_upload(source, random_bytes(20_000, seed=3), "scan.bin").status_code == 303

    staff = new_client()
    login_staff(staff, adviser)
    case = f"/adviser/o/{ref}"
    _post(staff, f"{case}/acknowledge", {}, page=case)
    _post(staff, f"{case}/reply", {"text": "canary-7303 which report?"}, page=case)
    _post(
        staff,
        f"{case}/notes",
        {"note-text": "canary-7304 check the annex"},
        page=case,
        token="note-csrf_token",
    )
    _post(staff, f"{case}/state", {"to_state": "in_review", "reason": "canary-7305"}, page=case)
    assert adviser_upload(staff, ref, random_bytes(150_000, seed=7), "annex.bin").status_code == 303
    _post(staff, "/adviser/names/eupol", {"names": "Jansen\nPetrova"}, page="/adviser/names/eupol")

    checked = checked_hash(post_summary(staff, ref, SUMMARY, "check"))
    assert post_summary(staff, ref, SUMMARY, "propose", checked=checked).status_code == 303
    inbox = source.get("/inbox", base_url=BASE_URL)
    proposal = re.search(rb'id="proposal-(\d+)"', inbox.data).group(1).decode()
    _post(source, f"/inbox/proposals/{proposal}", {"decision": "approve"}, page="/inbox")
    sent = post_summary(staff, ref, SUMMARY, "escalate", [leader.id], checked)
    assert sent.status_code == 303, sent.data[:500]

    chief = new_client()
    login_staff(chief, leader)
    label = "EUPOL-0001"
    page = "/leadership/e/eupol/1"
    _post(
        chief,
        f"{page}/respond",
        {"kind": "action_taken", "text": "canary-7307 the audit was rescheduled"},
        page=page,
    )
    return History(ref, codename, label, staff, source)
