"""Observations closed long ago, for retention tests: what a purge takes and what it keeps."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select, update

from dissent.extensions import db
from dissent.models import Attachment, Message, Note, Observation, Role, Source, State, StateChange
from tests.helpers.blobs import part_files, stored_blobs
from tests.helpers.casework import file_and_escalate
from tests.helpers.files import random_bytes, source_upload
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import source_reply, submit_observation
from tests.helpers.staff import login_staff

LONG_AGO = date.today() - timedelta(days=400)


def file_closed_cases(app, new_client, make_staff) -> dict:
    """File three observations: an old closed one (with an attachment, a reply, a note
    and a state change), an old closed one that was escalated, and an open one.

    Returns their refs ("old", "escalated", "open"), the first's "codename" and the
    escalation ("sent"). The mission ``eupol`` must exist.
    """
    adviser = make_staff(Role.ADVISER)
    browser = new_client()
    codename = submit_observation(browser, what="The old finding.")
    with app.app_context():
        old_ref = db.session.scalar(select(Observation.ref))
    browser.ref = old_ref
    assert source_upload(browser, random_bytes(30_000), "annex.bin").status_code == 303
    assert source_reply(browser, old_ref, "And one more thing.").status_code == 303
    staff = new_client()
    login_staff(staff, adviser)
    page = staff.get(f"/adviser/o/{old_ref}", base_url=BASE_URL)
    noted = staff.post(
        f"/adviser/o/{old_ref}/notes",
        data={"note-csrf_token": csrf_from(page), "note-text": "Checked against the annex."},
        base_url=BASE_URL,
    )
    assert noted.status_code == 303
    changed = staff.post(
        f"/adviser/o/{old_ref}/state",
        data={"csrf_token": csrf_from(page), "to_state": "advice_only", "reason": "No case."},
        base_url=BASE_URL,
    )
    assert changed.status_code == 303
    sent = file_and_escalate(
        app, new_client, adviser=adviser, leaders=[make_staff(Role.LEADERSHIP)]
    )
    submit_observation(new_client(), what="Still open.")
    with app.app_context():
        refs = list(db.session.scalars(select(Observation.ref).order_by(Observation.id)))
        db.session.execute(
            update(Observation)
            .where(Observation.ref.in_(refs[:2]))
            .values(state=State.CLOSED, closed_on=LONG_AGO)
        )
        db.session.commit()
    return {
        "old": refs[0],
        "escalated": refs[1],
        "open": refs[2],
        "codename": codename,
        "sent": sent,
    }


def counts(app) -> dict[str, int]:
    """Return the number of rows of each kind an observation holds."""
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Observation, Message, Attachment, Source, Note, StateChange)
        }


def blob_count(app) -> int:
    """Return the number of blobs stored (files, or chunks on PostgreSQL) and part files."""
    return len(stored_blobs(app)) + len(part_files(app))
