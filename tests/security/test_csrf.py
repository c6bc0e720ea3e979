"""Cross-site request forgery: a POST without a valid token changes nothing and says so.

Every POST route of the URL map has a case below that sends otherwise valid data, so
that the missing token is the only thing stopping the change. Leaving and logging out
are the exceptions by design: they are never refused.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from flask import Flask
from sqlalchemy import delete, select, update

from dissent.extensions import db
from dissent.models import AccessGrant, Base, Escalation, Role, StaffUser, staff_mission
from dissent.security.sessions import SOURCE_COOKIE
from dissent.services import accounts, confirmation
from dissent.services.verification import summary_hash as text_hash
from tests.helpers.casework import (
    checked_hash,
    file_and_acknowledge,
    file_and_escalate,
    find,
    observation_ref,
    post_summary,
)
from tests.helpers.ladder import days_after_sending, escalated_case, take_steps_at
from tests.helpers.pages import BASE_URL, csrf_from, hidden, input_value
from tests.helpers.routes import log_in_password_only, methods_of
from tests.helpers.source import file_observation
from tests.helpers.staff import login_staff, next_totp

EXPIRED = b"This form has expired"
# Session records and rate-limit counters change with any request; everything else is data.
BOOKKEEPING = {"stored_session", "rate_limit_counter"}


def snapshot(app: Flask) -> dict[str, list[tuple]]:
    """Return every row of every data table."""
    with app.app_context():
        return {
            table.name: sorted((tuple(row) for row in db.session.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
            if table.name not in BOOKKEEPING
        }


def assert_tells_the_user(response) -> None:
    """The answer is a 4xx page saying why, or the form again with 'This form has expired'."""
    assert response.status_code < 500, response.status_code
    is_error_page = 400 <= response.status_code < 500 and b"<h1>Sorry</h1>" in response.data
    assert EXPIRED in response.data or is_error_page, response.data.decode()[:1500]


def assert_sent_to(response, path: str) -> None:
    """The response redirects to ``path``."""
    assert response.status_code in (302, 303), response.status_code
    assert urlsplit(response.headers["Location"]).path == path


def field_text(response, name: str) -> str:
    """Return what a re-rendered form holds in the textarea or input ``name``."""
    data = response.data.decode()
    area = re.search(rf'<textarea[^>]*\bname="{name}"[^>]*>(.*?)</textarea>', data, re.DOTALL)
    if area:
        return html.unescape(area.group(1)).removeprefix("\r\n").removeprefix("\n")
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', data)
    assert tag, f"no field {name}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


@dataclass
class Env:
    """What a case needs: the app, browsers and staff accounts on demand."""

    app: Flask
    new_client: Callable
    make_staff: Callable
    mission_id: int

    def source(self, what: str = "The fuel figures were copied from last year."):
        """Return a browser logged in as a source who filed one observation."""
        browser = self.new_client()
        file_observation(browser, what=what)
        return browser

    def staff(self, role: Role):
        """Return a browser logged in as a new staff member of ``role`` and their landing page."""
        browser = self.new_client()
        page = login_staff(browser, self.make_staff(role))
        return browser, page


def submit_data(page, **fields) -> dict[str, str]:
    """Return a complete observation form (without CSRF token) for the page's form."""
    return {
        "submit_token": hidden(page, "submit_token"),
        "mission": re.search(rb'name="mission" value="(\d+)"', page.data).group(1).decode(),
        "category": "reporting_accuracy",
        "what": "Attendance was recorded for a course that was cancelled.",
        "when": "last_month",
        "where": "",
        "contradicts": "yes",
        "official_report": "",
        "consent": "ask_first",
        **fields,
    }


def case_submit(env: Env) -> None:
    browser = env.new_client()
    page = browser.get("/submit", base_url=BASE_URL)
    before = snapshot(env.app)

    response = browser.post("/submit", data=submit_data(page), base_url=BASE_URL)

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert snapshot(env.app) == before
    assert_sent_to(browser.get("/inbox", base_url=BASE_URL), "/login")


def case_codename(env: Env) -> None:
    browser = env.new_client()
    codename = file_observation(browser, what="Reports omit the failed exams.", confirm=False)

    response = browser.post("/submit/codename", data={"saved": "y"}, base_url=BASE_URL)

    assert_tells_the_user(response)
    assert codename.encode() in response.data  # still shown: the source is not moved on
    again = browser.get("/submit/codename", base_url=BASE_URL)
    assert again.status_code == 200
    assert codename.encode() in again.data


def case_login(env: Env) -> None:
    codename = file_observation(env.new_client(), what="The audit sample was hand-picked.")
    browser = env.new_client()

    response = browser.post("/login", data={"codename": codename}, base_url=BASE_URL)

    assert response.status_code == 400
    assert_tells_the_user(response)
    # Kept in the field to send again with a fresh token (invariant 7), never logged in.
    assert input_value(response, "codename") == codename
    assert_sent_to(browser.get("/inbox", base_url=BASE_URL), "/login")


def case_source_reply(env: Env) -> None:
    browser = env.source()
    ref = observation_ref(env.app, mission_id=env.mission_id)
    before = snapshot(env.app)
    text = "One more detail: the trainers were never paid."

    response = browser.post(f"/inbox/{ref}/reply", data={"text": text}, base_url=BASE_URL)

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "text") == text
    assert snapshot(env.app) == before


def case_leave(env: Env) -> None:
    browser = env.source()

    response = browser.post("/leave", base_url=BASE_URL)

    assert response.status_code == 200
    assert_sent_to(browser.get("/inbox", base_url=BASE_URL), "/login")


def case_source_logout(env: Env) -> None:
    # Like Quick exit, logging out is never refused: without a token too, it logs out
    # (and a cross-site post carries no cookie to log out: they are SameSite=Strict).
    browser = env.source()

    response = browser.post("/logout", base_url=BASE_URL)

    assert response.status_code == 303
    assert_sent_to(browser.get("/inbox", base_url=BASE_URL), "/login")


def case_staff_login(env: Env) -> None:
    login = env.make_staff(Role.ADVISER)
    browser = env.new_client()

    response = browser.post(
        "/staff/login",
        data={"username": login.username, "password": login.password},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert login.password.encode() not in response.data
    assert_sent_to(browser.get("/staff/2fa", base_url=BASE_URL), "/staff/login")


def case_second_factor(env: Env) -> None:
    login = env.make_staff(Role.ADVISER)
    browser = env.new_client()
    log_in_password_only(browser, login)
    before = snapshot(env.app)

    response = browser.post(
        "/staff/2fa", data={"code": next_totp(login.totp_secret)}, base_url=BASE_URL
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert snapshot(env.app) == before  # the code was not used up either
    assert_sent_to(browser.get("/adviser/", base_url=BASE_URL), "/staff/login")


def case_logout(env: Env) -> None:
    browser, _ = env.staff(Role.ADVISER)

    response = browser.post("/staff/logout", base_url=BASE_URL)

    assert_sent_to(response, "/staff/login")
    assert_sent_to(browser.get("/adviser/", base_url=BASE_URL), "/staff/login")


def case_enrol(env: Env) -> None:
    with env.app.app_context(), db.unit():
        _, token = accounts.create_account(
            db.session, username="newcomer", role=Role.ADVISER, mission_slugs=["eupol"]
        )
    browser = env.new_client()
    page = browser.get(f"/staff/enrol/{token}", base_url=BASE_URL)
    secret = re.search(rb'<code class="secret">([A-Z2-7]+)</code>', page.data).group(1).decode()
    before = snapshot(env.app)
    password = "tangerine lighthouse quietly 93 walrus"

    response = browser.post(
        f"/staff/enrol/{token}",
        data={"password": password, "confirm": password, "code": pyotp.TOTP(secret).now()},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert snapshot(env.app) == before
    assert browser.get(f"/staff/enrol/{token}", base_url=BASE_URL).status_code == 200


def case_adviser_reply(env: Env) -> None:
    env.source()
    ref = observation_ref(env.app, mission_id=env.mission_id)
    browser, _ = env.staff(Role.ADVISER)
    before = snapshot(env.app)
    text = "Could you say which quarter this was?"

    response = browser.post(f"/adviser/o/{ref}/reply", data={"text": text}, base_url=BASE_URL)

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "text") == text
    assert snapshot(env.app) == before


def case_acknowledge(env: Env) -> None:
    env.source()
    ref = observation_ref(env.app, mission_id=env.mission_id)
    browser, _ = env.staff(Role.ADVISER)
    before = snapshot(env.app)

    response = browser.post(f"/adviser/o/{ref}/acknowledge", base_url=BASE_URL)

    # Whether the page says why is checked by test_acknowledge_without_token_says_why.
    assert 400 <= response.status_code < 500
    assert snapshot(env.app) == before


def case_grant_access(env: Env) -> None:
    env.source()
    browser, _ = env.staff(Role.ADVISER)
    newcomer = env.make_staff(Role.ADVISER)
    with env.app.app_context():
        # Both enrolled after the observation; the one logged in has been granted.
        db.session.execute(delete(AccessGrant).where(AccessGrant.staff_id != newcomer.id))
        db.session.commit()
        grant = db.session.scalars(select(AccessGrant)).one()
    before = snapshot(env.app)

    response = browser.post(f"/adviser/access/{grant.id}", base_url=BASE_URL)

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert snapshot(env.app) == before


def _unconfirmed(env: Env, role: Role, mission: str = "eupol"):
    """An enrolled member whose key nobody confirmed yet, and its fingerprint."""
    newcomer = env.make_staff(role, missions=[mission])
    with env.app.app_context():
        db.session.execute(
            update(staff_mission)
            .where(staff_mission.c.staff_id == newcomer.id)
            .values(confirmed_key=None, confirmed_by=None, confirmed_at=None)
        )
        # Made on the operator page by another operator (whom the logged-in one may not be).
        db.session.execute(
            update(StaffUser).where(StaffUser.id == newcomer.id).values(created_by="operator0")
        )
        db.session.commit()
        shown = confirmation.fingerprint(db.session.get(StaffUser, newcomer.id).recipient)
    return newcomer, shown


def case_confirm_key_adviser(env: Env) -> None:
    browser, _ = env.staff(Role.ADVISER)
    newcomer, shown = _unconfirmed(env, Role.ADVISER)
    before = snapshot(env.app)

    response = browser.post(
        f"/adviser/keys/{newcomer.id}/{env.mission_id}",
        data={"fingerprint": shown},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert snapshot(env.app) == before


def case_confirm_key_admin(env: Env) -> None:
    browser, _ = env.staff(Role.ADMIN)
    with env.app.app_context(), db.unit():
        first = accounts.create_mission(db.session, slug="eutm", name="EUTM").id
    newcomer, shown = _unconfirmed(env, Role.ADVISER, "eutm")  # the mission's first adviser
    before = snapshot(env.app)

    response = browser.post(
        f"/admin/keys/{newcomer.id}/{first}",
        data={"fingerprint": shown},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert snapshot(env.app) == before


def case_add_mission(env: Env) -> None:
    browser, _ = env.staff(Role.ADMIN)
    before = snapshot(env.app)

    response = browser.post(
        "/admin/missions", data={"slug": "eucap", "name": "EUCAP Sahel"}, base_url=BASE_URL
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "name") == "EUCAP Sahel"
    assert snapshot(env.app) == before


def case_add_account(env: Env) -> None:
    browser, _ = env.staff(Role.ADMIN)
    before = snapshot(env.app)

    response = browser.post(
        "/admin/accounts",
        data={"username": "intruder", "role": "adviser", "missions": ["eupol"]},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert b"/staff/enrol/" not in response.data
    assert snapshot(env.app) == before


def case_account_action(env: Env) -> None:
    target = env.make_staff(Role.ADVISER)
    browser, _ = env.staff(Role.ADMIN)
    before = snapshot(env.app)

    responses = [
        browser.post(f"/admin/accounts/{target.id}/{action}", base_url=BASE_URL)
        for action in ("deactivate", "enrolment")
    ]

    for response in responses:
        assert response.status_code == 400
        assert_tells_the_user(response)
    assert snapshot(env.app) == before
    assert b"/staff/enrol/" not in browser.get("/admin/", base_url=BASE_URL).data


def case_set_email(env: Env) -> None:
    target = env.make_staff(Role.ADVISER)
    browser, _ = env.staff(Role.ADMIN)
    before = snapshot(env.app)

    response = browser.post(
        f"/admin/accounts/{target.id}/email", data={"email": "x@example.org"}, base_url=BASE_URL
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    row = re.search(rf'<input[^>]*id="email-{target.id}"[^>]*>', response.data.decode())
    assert row and 'value="x@example.org"' in row.group(0)
    assert snapshot(env.app) == before


def case_test_mail(env: Env) -> None:
    browser, _ = env.staff(Role.ADMIN)
    before = snapshot(env.app)

    response = browser.post("/admin/test-mail", base_url=BASE_URL)

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert snapshot(env.app) == before


def case_staff_account(env: Env) -> None:
    browser, _ = env.staff(Role.ADVISER)
    before = snapshot(env.app)

    response = browser.post(
        "/staff/account",
        data={"email": "me@example.org", "language": "en", "kinds": ["new_observation"]},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "email") == "me@example.org"
    assert snapshot(env.app) == before


def blob_files(app: Flask) -> list[Path]:
    """Return the files in the attachment blob folder, temporary ones included."""
    return sorted((Path(app.instance_path) / "blobs").glob("*"))


def case_upload(env: Env, browser, url: str) -> None:
    before, blobs_before = snapshot(env.app), blob_files(env.app)

    response = browser.post(
        url,
        data={"file": (io.BytesIO(b"The attendance sheets, scanned."), "sheets.txt")},
        content_type="multipart/form-data",
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert snapshot(env.app) == before
    assert blob_files(env.app) == blobs_before


def case_source_upload(env: Env) -> None:
    browser = env.source()
    ref = observation_ref(env.app, mission_id=env.mission_id)
    case_upload(env, browser, f"/inbox/{ref}/attachments")


def case_source_remove(env: Env) -> None:
    browser = env.source()
    ref = observation_ref(env.app, mission_id=env.mission_id)
    token = csrf_from(browser.get("/inbox", base_url=BASE_URL))
    browser.post(
        f"/inbox/{ref}/attachments",
        data={"csrf_token": token, "file": (io.BytesIO(b"Shift plan."), "plan.txt")},
        content_type="multipart/form-data",
        base_url=BASE_URL,
    )
    inbox = browser.get("/inbox", base_url=BASE_URL)
    attachment_id = re.search(rb"/inbox/attachments/(\d+)/remove", inbox.data).group(1).decode()
    before, blobs_before = snapshot(env.app), blob_files(env.app)

    response = browser.post(f"/inbox/attachments/{attachment_id}/remove", base_url=BASE_URL)

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert snapshot(env.app) == before
    assert blob_files(env.app) == blobs_before


def case_adviser_upload(env: Env) -> None:
    env.source()
    ref = observation_ref(env.app, mission_id=env.mission_id)
    browser, _ = env.staff(Role.ADVISER)
    case_upload(env, browser, f"/adviser/o/{ref}/attachments")


def adviser_with_case(env: Env, *, consent: str = "summary_allowed"):
    """Return a logged-in adviser's browser, an observation they acknowledged, its source's."""
    browser, _ = env.staff(Role.ADVISER)
    source, ref = file_and_acknowledge(env.new_client, browser, consent=consent)
    return browser, ref, source


def case_add_note(env: Env) -> None:
    env.source()
    ref = observation_ref(env.app, mission_id=env.mission_id)
    browser, _ = env.staff(Role.ADVISER)
    before = snapshot(env.app)
    text = "Compare with the Q3 annex before replying."

    response = browser.post(f"/adviser/o/{ref}/notes", data={"note-text": text}, base_url=BASE_URL)

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "note-text") == text
    assert snapshot(env.app) == before


def case_change_state(env: Env) -> None:
    browser, ref, _ = adviser_with_case(env)
    before = snapshot(env.app)
    reason = "Needs a second look at the Q3 annex."

    response = browser.post(
        f"/adviser/o/{ref}/state",
        data={"to_state": "in_review", "reason": reason},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "reason") == reason
    assert snapshot(env.app) == before


def case_update_triage(env: Env) -> None:
    env.source()
    ref = observation_ref(env.app, mission_id=env.mission_id)
    adviser = env.make_staff(Role.ADVISER)
    browser = env.new_client()
    login_staff(browser, adviser)
    before = snapshot(env.app)

    response = browser.post(
        f"/adviser/o/{ref}/triage",
        data={"assignee": str(adviser.id), "severity": "high", "category": "other"},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert b'<option selected value="high">' in response.data  # what was chosen is kept
    assert snapshot(env.app) == before


def case_summary(env: Env) -> None:
    leader = env.make_staff(Role.LEADERSHIP)
    browser, ref, _ = adviser_with_case(env)
    before = snapshot(env.app)
    text = "Training hours in the quarterly figures are counted twice."

    response = browser.post(
        f"/adviser/o/{ref}/summary",
        data={
            "summary": text,
            "checked": text_hash(text),  # seen flagged: only the token is missing
            "leaders": [str(leader.id)],
            "action": "escalate",
        },
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "summary") == text
    assert snapshot(env.app) == before


def adviser_with_escalation(env: Env) -> tuple[object, str]:
    """Return a logged-in adviser's browser and the revise URL of an escalation they sent."""
    adviser, leader = env.make_staff(Role.ADVISER), env.make_staff(Role.LEADERSHIP)
    sent = file_and_escalate(env.app, env.new_client, adviser=adviser, leaders=[leader])
    ref = observation_ref(env.app, mission_id=env.mission_id)
    with env.app.app_context():
        escalation_id = find(sent).id
    browser = env.new_client()
    login_staff(browser, adviser)
    return browser, f"/adviser/o/{ref}/escalations/{escalation_id}/revise"


REVISED = "The literacy course was attended by all recruits of the second intake."


def case_revise(env: Env) -> None:
    browser, url = adviser_with_escalation(env)
    before = snapshot(env.app)

    response = browser.post(
        url,
        # Seen flagged already (as on a second sending): only the token is missing.
        data={"summary": REVISED, "checked": text_hash(REVISED)},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert snapshot(env.app) == before


def case_feedback(env: Env) -> None:
    browser, ref, _ = adviser_with_case(env)
    before = snapshot(env.app)
    text = "Leadership will correct the quarterly figures."

    response = browser.post(
        f"/adviser/o/{ref}/feedback", data={"feedback-text": text}, base_url=BASE_URL
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "feedback-text") == text
    assert snapshot(env.app) == before


def case_names(env: Env) -> None:
    browser, _ = env.staff(Role.ADVISER)
    before = snapshot(env.app)
    names = "Jansen\nPetrova"

    response = browser.post("/adviser/names/eupol", data={"names": names}, base_url=BASE_URL)

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "names") == names
    assert snapshot(env.app) == before


def leader_with_escalation(env: Env):
    """Return a logged-in leader's browser and an escalation sent to them."""
    adviser, leader = env.make_staff(Role.ADVISER), env.make_staff(Role.LEADERSHIP)
    sent = file_and_escalate(env.app, env.new_client, adviser=adviser, leaders=[leader])
    browser = env.new_client()
    login_staff(browser, leader)
    return browser, sent


def case_leadership_acknowledge(env: Env) -> None:
    browser, sent = leader_with_escalation(env)
    before = snapshot(env.app)

    response = browser.post(f"{sent.url}/acknowledge", base_url=BASE_URL)

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert snapshot(env.app) == before


def case_leadership_respond(env: Env) -> None:
    browser, sent = leader_with_escalation(env)
    before = snapshot(env.app)
    text = "Retraining of the evaluation team, planned for January."

    response = browser.post(
        f"{sent.url}/respond", data={"kind": "action_taken", "text": text}, base_url=BASE_URL
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "text") == text
    assert snapshot(env.app) == before


def case_oversight_respond(env: Env) -> None:
    adviser, leader = env.make_staff(Role.ADVISER), env.make_staff(Role.LEADERSHIP)
    member = env.make_staff(Role.OVERSIGHT)
    _case, escalation_id = escalated_case(
        env.app, env.mission_id, adviser=adviser, leaders=[leader], summary="Logs rewritten."
    )
    take_steps_at(env.app, days_after_sending(env.app, escalation_id, 15))
    with env.app.app_context():
        found = db.session.get(Escalation, escalation_id)
        url = f"/oversight/e/{found.mission.slug}/{found.ledger_number}/respond"
    browser = env.new_client()
    login_staff(browser, member)
    before = snapshot(env.app)
    text = "The inspectorate will audit the patrol logs."

    response = browser.post(
        url, data={"seen": "0", "kind": "action_taken", "text": text}, base_url=BASE_URL
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "text") == text
    assert snapshot(env.app) == before


def case_set_ladder(env: Env) -> None:
    browser, _ = env.staff(Role.ADMIN)
    before = snapshot(env.app)
    prefix = f"ladder-{env.mission_id}"

    response = browser.post(
        f"/admin/missions/{env.mission_id}/ladder",
        data={f"{prefix}-ack_days": "3", f"{prefix}-response_months": "1"},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, f"{prefix}-ack_days") == "3"
    assert snapshot(env.app) == before


def case_decide(env: Env) -> None:
    adviser, ref, browser = adviser_with_case(env, consent="ask_first")
    text = "Training hours in the quarterly figures are counted twice."
    checked = checked_hash(post_summary(adviser, ref, text, "check"))
    assert post_summary(adviser, ref, text, "propose", checked=checked).status_code == 303
    inbox = browser.get("/inbox", base_url=BASE_URL)
    proposal_id = re.search(rb"/inbox/proposals/(\d+)", inbox.data).group(1).decode()
    before = snapshot(env.app)
    comment = "Fine by me, but leave out the quarter."

    response = browser.post(
        f"/inbox/proposals/{proposal_id}",
        data={"decision": "approve", "comment": comment},
        base_url=BASE_URL,
    )

    assert response.status_code == 400
    assert_tells_the_user(response)
    assert field_text(response, "comment") == comment
    assert snapshot(env.app) == before


CASES: dict[str, Callable[[Env], None]] = {
    "source.submit": case_submit,
    "source.codename": case_codename,
    "source.login": case_login,
    "source.reply": case_source_reply,
    "source.leave": case_leave,
    "source.logout": case_source_logout,
    "staff.login": case_staff_login,
    "staff.second_factor": case_second_factor,
    "staff.logout": case_logout,
    "staff.enrol": case_enrol,
    "adviser.reply": case_adviser_reply,
    "adviser.acknowledge": case_acknowledge,
    "adviser.grant_access": case_grant_access,
    "adviser.confirm_key": case_confirm_key_adviser,
    "admin.confirm_key": case_confirm_key_admin,
    "admin.add_mission": case_add_mission,
    "admin.add_account": case_add_account,
    "admin.account_action": case_account_action,
    "admin.set_email": case_set_email,
    "admin.test_mail": case_test_mail,
    "admin.set_ladder": case_set_ladder,
    "staff.account": case_staff_account,
    "attachments.source_upload": case_source_upload,
    "attachments.source_remove": case_source_remove,
    "attachments.adviser_upload": case_adviser_upload,
    "adviser.add_note": case_add_note,
    "adviser.change_state": case_change_state,
    "adviser.update_triage": case_update_triage,
    "adviser.summary": case_summary,
    "adviser.revise": case_revise,
    "adviser.feedback": case_feedback,
    "adviser.names": case_names,
    "leadership.acknowledge": case_leadership_acknowledge,
    "leadership.respond": case_leadership_respond,
    "oversight.respond": case_oversight_respond,
    "source.decide": case_decide,
}


@pytest.fixture
def env(app, new_client, mission, make_staff) -> Env:
    """A mission with an adviser (so it takes observations), and browsers on demand."""
    make_staff(Role.ADVISER)
    return Env(app=app, new_client=new_client, make_staff=make_staff, mission_id=mission.id)


def test_every_post_route_has_a_case(app):
    posts = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in methods_of(rule)}

    assert posts == set(CASES), f"add a CSRF case for {sorted(posts - set(CASES))}"


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_post_without_token(env, endpoint):
    CASES[endpoint](env)


def forget_session(browser) -> None:
    """Drop the source cookie, as an idle timeout or a browser restart does."""
    browser.delete_cookie(SOURCE_COOKIE, domain="localhost")


def other_session_token(new_client) -> str:
    """Return a token issued to another browser."""
    return csrf_from(new_client().get("/submit", base_url=BASE_URL))


@pytest.mark.parametrize("stale", ["missing", "garbage", "other_session", "session_expired"])
def test_submit_with_a_stale_token_keeps_what_was_typed(env, new_client, stale):
    browser = new_client()
    page = browser.get("/submit", base_url=BASE_URL)
    typed = {
        "what": 'Figures were "rounded" <up> & doubled.\nSecond line: é — ü.',
        "where": "North region",
        "official_report": "Q3 progress report, table 2",
    }
    data = submit_data(page, **typed)
    if stale == "garbage":
        data["csrf_token"] = "not-a-token"
    elif stale == "other_session":
        data["csrf_token"] = other_session_token(new_client)
    elif stale == "session_expired":
        data["csrf_token"] = csrf_from(page)
        forget_session(browser)
    before = snapshot(env.app)

    response = browser.post("/submit", data=data, base_url=BASE_URL)

    assert response.status_code == 400
    assert EXPIRED in response.data
    for name, value in typed.items():
        assert field_text(response, name) == value, name
    assert snapshot(env.app) == before
    # The re-rendered form works: sending it again files the observation, once.
    again = browser.post(
        "/submit",
        data=submit_data(response, csrf_token=csrf_from(response), **typed),
        base_url=BASE_URL,
    )
    assert again.status_code == 200
    after = snapshot(env.app)
    assert len(after["observation"]) == len(before["observation"]) + 1


def test_revise_without_token_keeps_the_text_in_the_revise_form(env):
    browser, url = adviser_with_escalation(env)

    response = browser.post(url, data={"summary": REVISED}, base_url=BASE_URL)

    assert response.status_code == 400
    page = response.data.decode()
    forms = re.findall(rf'<form[^>]*action="{re.escape(url)}(?:#\w+)?".*?</form>', page, re.DOTALL)
    assert forms, "the page has no form to correct the summary"
    assert any(REVISED in html.unescape(form) for form in forms)


def test_acknowledge_without_token_says_why(env):
    env.source()
    ref = observation_ref(env.app, mission_id=env.mission_id)
    browser, _ = env.staff(Role.ADVISER)

    response = browser.post(f"/adviser/o/{ref}/acknowledge", base_url=BASE_URL)

    assert_tells_the_user(response)


@pytest.mark.parametrize("body", ["5", "[1, 2]", '{"codename": "x"}', "not json"])
@pytest.mark.parametrize(
    ("path", "status"),
    [("/login", 400), ("/submit", 400), ("/staff/login", 400), ("/leave", 200)],
)
def test_a_json_body_is_a_post_without_the_form_not_an_error(client, path, status, body):
    """Flask-WTF would read a JSON body as the form; a number or a list made that a 500.
    A JSON body carries no form token, so it is refused like any post without one (and
    /leave, which never refuses, still leaves)."""
    response = client.post(path, data=body, content_type="application/json", base_url=BASE_URL)

    assert response.status_code == status
    assert b"Traceback" not in response.data
