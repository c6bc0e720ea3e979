"""Granting a later adviser access to a mission's earlier files."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import LargeBinary, delete, select, update

from dissent.crypto import DecryptionError, decrypt, encrypt, generate_identity
from dissent.extensions import current_context, db
from dissent.models import (
    AccessGrant,
    Attachment,
    AuditEntry,
    Base,
    Observation,
    ResponseKind,
    Role,
    StaffUser,
)
from dissent.services import access, accounts, leadership
from dissent.services.storage import blob_dir
from tests.helpers.casework import checked_hash, file_and_escalate, find, post_summary, refs
from tests.helpers.files import adviser_upload, random_bytes
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import source_login, source_reply, submit_observation
from tests.helpers.staff import adviser_keys, login_staff

AGE_MAGIC = b"age-encryption.org/v1\n"
WHAT = "canary-7301 the water audit was postponed twice"
CANNOT_OPEN = b"Your key cannot open this observation"


@pytest.fixture
def first(mission, make_staff):
    """The adviser who was there from the start."""
    return make_staff(Role.ADVISER, username="first")


def logged_in(new_client, login):
    browser = new_client()
    login_staff(browser, login)
    return browser


def grant(browser, grant_id: int):
    inbox = browser.get("/adviser/", base_url=BASE_URL)
    return browser.post(
        f"/adviser/access/{grant_id}", data={"csrf_token": csrf_from(inbox)}, base_url=BASE_URL
    )


def grant_ids(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(AccessGrant.id).order_by(AccessGrant.id)))


def unreadable_by(app, login) -> list[str]:
    """Return every stored age file (database column or blob file) ``login`` cannot open.

    Found by looking at every binary column of every table, not by the code under test's
    own list of what to grant. Staff keys (passphrase files) are not content.
    """
    missing = []
    with app.app_context():
        _, identity = adviser_keys(login)
        for table in Base.metadata.sorted_tables:
            if table.name == "staff_user":
                continue
            columns = [c for c in table.columns if isinstance(c.type, LargeBinary)]
            for row in db.session.execute(select(table)).mappings():
                for column in columns:
                    value = row[column.name]
                    if isinstance(value, bytes) and value.startswith(AGE_MAGIC):
                        try:
                            decrypt(value, identities=[identity], padded=True)
                        except DecryptionError:
                            missing.append(f"{table.name}.{column.name}")
        for blob in blob_dir(current_context().settings).iterdir():
            try:
                decrypt(blob.read_bytes(), identities=[identity], padded=True)
            except DecryptionError:
                missing.append(f"blob {blob.name}")
    return missing


def test_a_later_adviser_reads_everything_once_a_colleague_grants_it(
    app, new_client, first, make_staff, recovery_identity, monkeypatch
):
    # One step must do it all: on a loaded machine the step's time budget could end it
    # early (test_a_large_mission_is_granted_in_steps covers that).
    monkeypatch.setattr(access, "STEP_SECONDS", 600.0)
    # A mission with a history: an observation with a message, an acknowledgement, a
    # note, an attachment, the mission's list of names, and an escalated summary with
    # a leadership response.
    source = new_client()
    codename = submit_observation(source, what=WHAT)
    (ref,) = refs(app)
    source_reply(source, ref, "canary-7302 and a follow-up from the source")
    first_browser = logged_in(new_client, first)
    page = first_browser.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    first_browser.post(
        f"/adviser/o/{ref}/acknowledge", data={"csrf_token": csrf_from(page)}, base_url=BASE_URL
    )
    page = first_browser.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    first_browser.post(
        f"/adviser/o/{ref}/notes",
        data={"note-csrf_token": csrf_from(page), "note-text": "canary-7303 check the annex"},
        base_url=BASE_URL,
    )
    page = first_browser.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    changed = first_browser.post(
        f"/adviser/o/{ref}/state",
        data={"csrf_token": csrf_from(page), "to_state": "in_review", "reason": "canary-7305"},
        base_url=BASE_URL,
    )
    assert changed.status_code == 303
    checked = post_summary(first_browser, ref, "canary-7306 a summary", "check")
    proposed = post_summary(
        first_browser, ref, "canary-7306 a summary", "propose", checked=checked_hash(checked)
    )
    assert proposed.status_code == 303
    attachment = random_bytes(150_000, seed=7)
    assert adviser_upload(first_browser, ref, attachment, "annex.bin").status_code == 303
    page = first_browser.get("/adviser/names/eupol", base_url=BASE_URL)
    names = first_browser.post(
        "/adviser/names/eupol",
        data={"csrf_token": csrf_from(page), "names": "Jansen\nPetrova"},
        base_url=BASE_URL,
    )
    assert names.status_code == 303
    leader = make_staff(Role.LEADERSHIP)
    sent = file_and_escalate(app, new_client, adviser=first, leaders=[leader])
    with app.app_context(), db.unit():
        leadership.respond(
            db.session,
            current_context(),
            staff=db.session.get(StaffUser, leader.id),
            escalation=find(sent),
            kind=ResponseKind.DECLINED,
            text="canary-7304 not this quarter",
        )

    later = make_staff(Role.ADVISER, username="later")
    later_browser = logged_in(new_client, later)
    assert CANNOT_OPEN in later_browser.get(f"/adviser/o/{ref}", base_url=BASE_URL).data
    assert (
        b"Another adviser of the mission must grant you access"
        in later_browser.get("/adviser/", base_url=BASE_URL).data
    )
    assert unreadable_by(app, later)  # nothing was readable before the grant

    inbox = first_browser.get("/adviser/", base_url=BASE_URL)
    assert b"Colleagues waiting for access" in inbox.data
    assert b"Grant access to later" in inbox.data
    (grant_id,) = grant_ids(app)
    response = grant(first_browser, grant_id)

    assert response.status_code == 303
    assert "access=done" in response.headers["Location"]
    done = first_browser.get(response.headers["Location"], base_url=BASE_URL)
    assert b"Access granted" in done.data
    assert b"Colleagues waiting for access" not in done.data
    assert unreadable_by(app, later) == []
    page = later_browser.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    assert WHAT.encode() in page.data
    assert b"canary-7302" in page.data
    assert b"canary-7303" in page.data
    assert CANNOT_OPEN not in page.data
    with app.app_context():
        row = db.session.scalars(select(Attachment)).one()
        audited = db.session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.subject)
        ).all()
    download = later_browser.get(f"/adviser/attachments/{row.id}", base_url=BASE_URL)
    assert download.data == attachment
    assert ("first", "access_grant", "later:eupol") in audited
    assert b"canary-7305" in page.data and b"canary-7306" in page.data
    assert grant_ids(app) == []
    # Nobody lost anything: the first adviser, the source and the recovery key still read.
    assert unreadable_by(app, first) == []
    assert WHAT.encode() in first_browser.get(f"/adviser/o/{ref}", base_url=BASE_URL).data
    returning = new_client()
    assert source_login(returning, codename).status_code == 303
    assert b"canary-7302" in returning.get("/inbox", base_url=BASE_URL).data
    with app.app_context():
        content = db.session.scalar(select(Observation.content).where(Observation.ref == ref))
    assert WHAT.encode() in decrypt(content, identities=[recovery_identity], padded=True)


def test_a_large_mission_is_granted_in_steps(app, new_client, first, make_staff, monkeypatch):
    monkeypatch.setattr(access, "STEP_OBSERVATIONS", 2)
    monkeypatch.setattr(access, "STEP_SECONDS", 600.0)  # steps end by count, not by time
    for n in range(5):
        submit_observation(new_client(), what=f"{WHAT} number {n}")
    later = make_staff(Role.ADVISER, username="later")
    first_browser = logged_in(new_client, first)
    (grant_id,) = grant_ids(app)

    steps = []
    while True:
        response = grant(first_browser, grant_id)
        assert response.status_code == 303
        steps.append(response.headers["Location"])
        if "access=done" in response.headers["Location"]:
            break
        page = first_browser.get(response.headers["Location"], base_url=BASE_URL)
        assert b"Continue granting access" in page.data
        left = re.search(rb"<td>(\d+)</td>", page.data).group(1)
        assert int(left) == 5 - 2 * len(steps)
        assert len(steps) < 5, "the grant does not finish"

    assert len(steps) == 3
    later_browser = logged_in(new_client, later)
    for ref in refs(app):
        assert CANNOT_OPEN not in later_browser.get(f"/adviser/o/{ref}", base_url=BASE_URL).data


def test_who_can_grant_and_what_a_colleague_without_the_files_gives(
    app, new_client, mission, first, make_staff
):
    submit_observation(new_client(), what=WHAT)
    later = make_staff(Role.ADVISER, username="later")
    also_later = make_staff(Role.ADVISER, username="also-later")
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="other", name="Other Mission")
    elsewhere = make_staff(Role.ADVISER, missions=["other"])
    later_grant, also_later_grant = grant_ids(app)

    # Nobody grants themselves, and an adviser of another mission grants nothing here.
    waiting = logged_in(new_client, later)
    first_browser = logged_in(new_client, first)
    assert grant(waiting, later_grant).status_code == 404
    assert grant(logged_in(new_client, elsewhere), later_grant).status_code == 404
    assert grant(first_browser, 9999).status_code == 404
    # A colleague who is waiting too may go through a grant, but gives nothing their
    # key does not open: the grant stays for someone who can, and is no longer offered
    # to them.
    assert b"Grant access to also-later" in waiting.get("/adviser/", base_url=BASE_URL).data
    response = grant(waiting, also_later_grant)
    assert "unopened=1" in response.headers["Location"]
    assert grant_ids(app) == [later_grant, also_later_grant]
    assert unreadable_by(app, also_later)
    assert b"Grant access to also-later" not in waiting.get("/adviser/", base_url=BASE_URL).data
    assert grant(waiting, also_later_grant).status_code == 404
    # The colleague with the files finishes both.
    assert grant(first_browser, later_grant).status_code == 303
    assert grant(first_browser, also_later_grant).status_code == 303
    assert unreadable_by(app, later) == [] and unreadable_by(app, also_later) == []
    assert grant_ids(app) == []


def test_a_file_nobody_can_open_does_not_stop_granting_the_rest(app, new_client, first, make_staff):
    submit_observation(new_client(), what=f"{WHAT} lost")
    submit_observation(new_client(), what=f"{WHAT} kept")
    lost, kept = refs(app)
    with app.app_context():
        db.session.execute(
            update(Observation)
            .where(Observation.ref == lost)
            .values(content=encrypt(b"{}", recipients=[generate_identity().recipient]))
        )
        db.session.commit()
    later = make_staff(Role.ADVISER, username="later")
    first_browser = logged_in(new_client, first)
    (later_grant,) = grant_ids(app)

    assert "unopened=1" in grant(first_browser, later_grant).headers["Location"]

    later_browser = logged_in(new_client, later)
    assert (
        f"{WHAT} kept".encode() in later_browser.get(f"/adviser/o/{kept}", base_url=BASE_URL).data
    )
    # The first adviser is on the waiting list too now (their key does not open the
    # lost file) but still grants a newcomer everything else.
    newcomer = make_staff(Role.ADVISER, username="newcomer")
    inbox = first_browser.get("/adviser/", base_url=BASE_URL)
    assert b"Grant access to newcomer" in inbox.data
    assert b"Grant access to later" not in inbox.data  # gone through already
    newcomer_grant = max(grant_ids(app))
    assert grant(first_browser, newcomer_grant).status_code == 303
    assert (
        f"{WHAT} kept".encode()
        in logged_in(new_client, newcomer).get(f"/adviser/o/{kept}", base_url=BASE_URL).data
    )


def test_a_deactivated_adviser_is_not_offered_or_granted(app, new_client, first, make_staff):
    submit_observation(new_client(), what=WHAT)
    later = make_staff(Role.ADVISER, username="later")
    (grant_id,) = grant_ids(app)
    with app.app_context(), db.unit():
        accounts.set_active(db.session, staff_id=later.id, active=False)
    first_browser = logged_in(new_client, first)

    assert b"Colleagues waiting" not in first_browser.get("/adviser/", base_url=BASE_URL).data
    assert grant(first_browser, grant_id).status_code == 404
    assert unreadable_by(app, later)


def test_an_adviser_reactivated_waits_for_what_was_written_meanwhile(
    app, new_client, first, make_staff
):
    colleague = make_staff(Role.ADVISER, username="colleague")
    with app.app_context(), db.unit():
        accounts.set_active(db.session, staff_id=colleague.id, active=False)
    submit_observation(new_client(), what=WHAT)
    assert grant_ids(app) == []
    with app.app_context(), db.unit():
        accounts.set_active(db.session, staff_id=colleague.id, active=True)
    (grant_id,) = grant_ids(app)
    assert unreadable_by(app, colleague)

    assert grant(logged_in(new_client, first), grant_id).status_code == 303

    assert unreadable_by(app, colleague) == []


def test_an_adviser_of_a_new_mission_waits_for_nothing(app, new_client, first):
    # ``first`` enrolled before anything was filed: every file is theirs already.
    submit_observation(new_client(), what=WHAT)

    assert grant_ids(app) == []
    assert unreadable_by(app, first) == []
    page = logged_in(new_client, first).get("/adviser/", base_url=BASE_URL)
    assert b"must grant you access" not in page.data
    assert b"Colleagues waiting" not in page.data


def test_the_operator_sees_who_waits_for_access_but_cannot_grant(
    app, new_client, first, make_staff
):
    submit_observation(new_client(), what=WHAT)
    make_staff(Role.ADVISER, username="later")
    (grant_id,) = grant_ids(app)
    operator = logged_in(new_client, make_staff(Role.ADMIN))

    page = operator.get("/admin/", base_url=BASE_URL)

    assert b"cannot open earlier files of eupol until another adviser grants access" in page.data
    assert WHAT.encode() not in page.data
    assert operator.post(f"/adviser/access/{grant_id}", base_url=BASE_URL).status_code == 403
    assert grant_ids(app) == [grant_id]


def test_files_the_granter_cannot_open_are_left_for_a_colleague_who_can(
    app, new_client, first, make_staff
):
    # "second" was enrolled after the first observation and never granted it (as an
    # adviser enrolled before grants existed); then both advisers see a second one.
    submit_observation(new_client(), what=f"{WHAT} one")
    second = make_staff(Role.ADVISER, username="second")
    with app.app_context():
        db.session.execute(delete(AccessGrant))
        db.session.commit()
    submit_observation(new_client(), what=f"{WHAT} two")
    later = make_staff(Role.ADVISER, username="later")
    (grant_id,) = grant_ids(app)

    response = grant(logged_in(new_client, second), grant_id)

    assert response.status_code == 303
    assert "unopened=1" in response.headers["Location"]
    with app.app_context():
        waiting = {
            (g.staff.username, g.next_observation_id)
            for g in db.session.scalars(select(AccessGrant))
        }
    # The newcomer still waits (from the start, for someone who can open the rest), and
    # the granter now waits too: the files showed they lack access.
    assert waiting == {("later", 0), ("second", 0)}
    assert unreadable_by(app, later)
    first_browser = logged_in(new_client, first)
    inbox = first_browser.get("/adviser/", base_url=BASE_URL)
    assert b"Grant access to later" in inbox.data and b"Grant access to second" in inbox.data

    assert grant(first_browser, grant_id).status_code == 303

    assert unreadable_by(app, later) == []


def test_an_adviser_whose_key_does_not_open_a_file_is_put_on_the_waiting_list(
    app, new_client, first, make_staff
):
    """Advisers enrolled after files existed but before grants did have no request yet;
    the first file they cannot open makes one, and their colleagues see it."""
    submit_observation(new_client(), what=WHAT)
    (ref,) = refs(app)
    older = make_staff(Role.ADVISER, username="older")
    with app.app_context():
        db.session.execute(delete(AccessGrant))
        db.session.commit()
    older_browser = logged_in(new_client, older)

    page = older_browser.get(f"/adviser/o/{ref}", base_url=BASE_URL)

    assert CANNOT_OPEN in page.data
    assert b"must grant you access" in older_browser.get("/adviser/", base_url=BASE_URL).data
    first_browser = logged_in(new_client, first)
    assert b"Grant access to older" in first_browser.get("/adviser/", base_url=BASE_URL).data
    (grant_id,) = grant_ids(app)
    assert grant(first_browser, grant_id).status_code == 303
    assert WHAT.encode() in older_browser.get(f"/adviser/o/{ref}", base_url=BASE_URL).data


def test_every_step_of_a_grant_is_audited(app, new_client, first, make_staff, monkeypatch):
    monkeypatch.setattr(access, "STEP_OBSERVATIONS", 1)
    monkeypatch.setattr(access, "STEP_SECONDS", 600.0)  # steps end by count, not by time
    for n in range(2):
        submit_observation(new_client(), what=f"{WHAT} {n}")
    make_staff(Role.ADVISER, username="later")
    (grant_id,) = grant_ids(app)
    first_browser = logged_in(new_client, first)

    first_step = grant(first_browser, grant_id)
    with app.app_context():
        after_one = db.session.scalars(
            select(AuditEntry.subject).where(AuditEntry.action == "access_grant")
        ).all()
    grant(first_browser, grant_id)

    assert "access=continue" in first_step.headers["Location"]
    assert after_one == ["later:eupol"]  # the first step opened a file: it is on record
    with app.app_context():
        assert db.session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "access_grant")
        ).all() == ["first", "first"]
