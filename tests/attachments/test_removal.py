"""A source removes a file they sent, until staff have opened or exported it.

Confirmed on a page of its own (no JavaScript), removed with its ciphertext in one
transaction, noted in the conversation for source and adviser; after an adviser's
download the button is gone, the page says why, and a forged request is refused (409).
"""

from __future__ import annotations

import re

from sqlalchemy import select

from dissent.extensions import db
from dissent.models import Attachment, AuditEntry
from dissent.services import audit
from tests.helpers.blobs import stored_blobs
from tests.helpers.files import adviser_upload, random_bytes, rows, source_upload
from tests.helpers.pages import BASE_URL, csrf_from, text_of
from tests.helpers.source import file_observation

OPENED = "Staff have opened this file or exported its observation, so it can no longer be removed."


def remove_url(attachment_id: int) -> str:
    return f"/inbox/attachments/{attachment_id}/remove"


def remove(source, attachment_id: int):
    """Open the confirmation page and confirm; return the response."""
    page = source.get(remove_url(attachment_id), base_url=BASE_URL)
    return source.post(
        remove_url(attachment_id), data={"csrf_token": csrf_from(page)}, base_url=BASE_URL
    )


def test_the_source_removes_an_unopened_file_with_its_ciphertext(app, source, staff):
    source_upload(source, random_bytes(5000), "duty roster.xlsx")
    [row] = rows(app)
    inbox = source.get("/inbox", base_url=BASE_URL)
    assert remove_url(row.id).encode() in inbox.data

    confirm = source.get(remove_url(row.id), base_url=BASE_URL)
    assert confirm.status_code == 200
    assert "duty roster.xlsx" in text_of(confirm) and "cannot be undone" in text_of(confirm)
    done = source.post(
        remove_url(row.id), data={"csrf_token": csrf_from(confirm)}, base_url=BASE_URL
    )

    assert done.status_code == 303
    assert done.headers["Location"] == f"/inbox?removed={source.ref}#attachments-{source.ref}"
    assert rows(app) == []
    assert row.blob_name not in stored_blobs(app)
    after = text_of(source.get(done.headers["Location"], base_url=BASE_URL))
    assert "The file was removed." in after
    assert "You removed the file “duty roster.xlsx”." in after
    case = text_of(staff.get(f"/adviser/o/{source.ref}", base_url=BASE_URL))
    assert "The source removed the file “duty roster.xlsx” before anyone opened it." in case


def test_after_an_adviser_opened_it_the_file_stays_and_the_page_says_why(app, source, staff):
    source_upload(source, random_bytes(3000), "map.bin")
    [row] = rows(app)
    assert staff.get(f"/adviser/attachments/{row.id}", base_url=BASE_URL).status_code == 200

    inbox = source.get("/inbox", base_url=BASE_URL)
    assert remove_url(row.id).encode() not in inbox.data
    assert OPENED in text_of(inbox)
    token = csrf_from(inbox)
    forged = source.post(remove_url(row.id), data={"csrf_token": token}, base_url=BASE_URL)

    assert forged.status_code == 409
    assert "This file can no longer be removed." in text_of(forged)
    assert "Staff have opened it, or exported its observation" in text_of(forged)
    assert [r.id for r in rows(app)] == [row.id]
    assert row.blob_name in stored_blobs(app)


def test_an_export_counts_as_opened(app, source):
    source_upload(source, random_bytes(3000), "map.bin")
    [row] = rows(app)
    with app.app_context(), db.unit():
        audit.record(db.session, actor="adviser", action=audit.Action.EXPORT, subject=source.ref)

    assert OPENED in text_of(source.get("/inbox", base_url=BASE_URL))
    assert source.get(remove_url(row.id), base_url=BASE_URL).status_code == 409


def test_a_removal_without_its_token_changes_nothing(app, source):
    source_upload(source, random_bytes(3000), "map.bin")
    [row] = rows(app)

    refused = source.post(remove_url(row.id), data={}, base_url=BASE_URL)

    assert refused.status_code == 400
    assert "This form has expired" in text_of(refused)
    assert len(rows(app)) == 1


def test_an_adviser_s_file_has_no_remove_button_and_cannot_be_removed(app, source, staff):
    adviser_upload(staff, source.ref, random_bytes(2000), "advice.pdf")
    [row] = rows(app)

    inbox = source.get("/inbox", base_url=BASE_URL)
    assert remove_url(row.id).encode() not in inbox.data
    forged = source.post(
        remove_url(row.id), data={"csrf_token": csrf_from(inbox)}, base_url=BASE_URL
    )

    assert forged.status_code == 409
    assert "Only files you sent yourself can be removed." in text_of(forged)
    assert len(rows(app)) == 1


def test_another_source_gets_404(app, source, new_client):
    source_upload(source, random_bytes(2000), "a.bin")
    [row] = rows(app)
    other = new_client()
    file_observation(other, what="Another observation altogether.")

    assert other.get(remove_url(row.id), base_url=BASE_URL).status_code == 404
    page = other.get("/inbox", base_url=BASE_URL)
    forged = other.post(remove_url(row.id), data={"csrf_token": csrf_from(page)}, base_url=BASE_URL)
    assert forged.status_code == 404
    assert len(rows(app)) == 1


def test_a_removed_file_is_a_404_to_download_and_to_remove_again(app, source):
    source_upload(source, random_bytes(2000), "a.bin")
    [row] = rows(app)
    page = source.get(remove_url(row.id), base_url=BASE_URL)
    token = csrf_from(page)
    assert (
        source.post(remove_url(row.id), data={"csrf_token": token}, base_url=BASE_URL).status_code
        == 303
    )

    again = source.post(remove_url(row.id), data={"csrf_token": token}, base_url=BASE_URL)

    assert again.status_code == 404
    assert source.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL).status_code == 404


def test_positions_stay_unique_and_a_new_file_never_takes_a_removed_one_s_place(app, source):
    for n in range(3):
        source_upload(source, random_bytes(1000, seed=n), f"{n}.bin")
    first, second, last = rows(app)
    source.get("/inbox", base_url=BASE_URL)  # the source is shown all three

    assert remove(source, second.id).status_code == 303
    assert remove(source, last.id).status_code == 303
    source_upload(source, random_bytes(1000, seed=9), "new.bin")

    positions = [r.position for r in rows(app)]
    assert positions[0] == first.position
    assert positions[1] > last.position, "a removed file's place is not handed out again"


def test_a_later_upload_gets_a_neutral_name_unless_kept(app, source, staff):
    source_upload(source, random_bytes(1500), "Jan de Vries notes.txt", keep_name=False)
    adviser_upload(staff, source.ref, random_bytes(1500), "advice for you.txt")

    inbox = text_of(source.get("/inbox", base_url=BASE_URL))
    assert re.search(r"File \(TXT, 1\.5 KB\)\.txt", inbox)
    assert "Jan de Vries" not in inbox
    assert "advice for you.txt" in inbox, "an adviser's file keeps its name"
    case = text_of(staff.get(f"/adviser/o/{source.ref}", base_url=BASE_URL))
    assert "File (TXT, 1.5 KB).txt" in case


def test_the_download_is_recorded_in_the_ledger_under_the_file_s_subject(app, source, staff):
    source_upload(source, random_bytes(1500), "a.bin")
    [row] = rows(app)
    staff.get(f"/adviser/attachments/{row.id}", base_url=BASE_URL)

    with app.app_context():
        subjects = db.session.scalars(
            select(AuditEntry.subject).where(AuditEntry.action == audit.Action.ATTACHMENT_DOWNLOAD)
        ).all()
    assert subjects == [f"{source.ref}/{row.id}"]
    with app.app_context():
        assert db.session.get(Attachment, row.id) is not None
