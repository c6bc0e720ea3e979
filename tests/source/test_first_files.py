"""Files sent with a new observation: one form, one transaction, neutral names.

The observation form takes files (multipart), received as later uploads are (never in
clear on disk, cleaned where the type allows) and stored with the observation and its
codename in one transaction: everything or nothing. A refused file keeps what was typed
and says that files must be chosen again.
"""

from __future__ import annotations

import re
import uuid
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from dissent.extensions import db
from dissent.models import Attachment, Observation, Source
from dissent.security.sessions import SOURCE_COOKIE
from dissent.services import budget, first_files, uploads
from dissent.services.budget import Budget
from dissent.services.content import open_document
from tests.helpers.blobs import folder_dated_to_the_day, part_files, read_blob, stored_blobs
from tests.helpers.files import jpeg_with_gps, random_bytes
from tests.helpers.pages import BASE_URL, count, field_errors, text_of, textarea_value
from tests.helpers.source import form_data, shown_codename

DOCX_LIKE = b"PK\x03\x04" + random_bytes(3000, seed=7)  # a ZIP, as office documents are


def submit_with_files(client, files, *, headers=None, **overrides):
    """Open the form in ``client`` and send it with ``files`` ([(data, name)]) as a
    browser sends a multipart form; return the response."""
    page = client.get("/submit", base_url=BASE_URL, headers=headers or {})
    return send_with_files(client, page, files, headers=headers, **overrides)


def send_with_files(client, page, files, *, headers=None, **overrides):
    """Send the form of ``page`` with ``files``, as :func:`submit_with_files` does."""
    fields = form_data(page, **overrides)
    boundary = "----dissent" + uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for data, filename in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + data
            + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return client.post(
        "/submit",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        base_url=BASE_URL,
        headers=headers or {},
    )


def stored_files(app, identity) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(select(Attachment).order_by(Attachment.position)).all()
        return [open_document(row.meta, identities=[identity]) for row in rows]


def assert_nothing_stored(app) -> None:
    assert count(app, Observation) == 0
    assert count(app, Source) == 0
    assert count(app, Attachment) == 0
    assert stored_blobs(app) == set()
    assert part_files(app) == []


def test_files_come_with_the_observation_under_neutral_names(
    app, client, adviser, recovery_identity
):
    photo = jpeg_with_gps()

    page = submit_with_files(
        client, [(photo, "IMG_20261204_jdoe.jpg"), (DOCX_LIKE, "verslag J. de Vries.docx")]
    )

    assert page.status_code == 200, text_of(page)[:500]
    shown = text_of(page)
    assert "Your codename" in shown
    [image, document] = stored_files(app, recovery_identity)
    assert re.fullmatch(r"Image \(JPEG, \d+(\.\d)? (KB|bytes)\)\.jpg", image["filename"])
    assert image["stripped"] is True and image["neutral_name"] is True
    assert re.fullmatch(r"File \(DOCX, \d+(\.\d)? KB\)\.docx", document["filename"])
    assert document["stripped"] is False and document["warning"] is True
    # The codename page names them as stored, with what happened to their metadata.
    assert image["filename"] in shown and document["filename"] in shown
    assert "metadata removed" in shown and "metadata may remain" in shown
    assert "jdoe" not in shown and "Vries" not in shown
    assert part_files(app) == []


def test_the_stored_file_is_cleaned_and_opens_for_the_readers(
    app, client, adviser, recovery_identity
):
    from dissent.crypto import decrypt

    submit_with_files(client, [(jpeg_with_gps(), "photo.jpg")])

    with app.app_context():
        row = db.session.scalars(select(Attachment)).one()
        observation = db.session.get(Observation, row.observation_id)
    plain = decrypt(read_blob(app, row.blob_name), identities=[recovery_identity], padded=True)
    assert plain.startswith(b"\xff\xd8\xff")
    assert b"CanaryCam" not in plain and b"J. Doe" not in plain
    # The source reads it in their inbox, after the codename is confirmed.
    inbox = client.get("/inbox", base_url=BASE_URL)
    assert f"/inbox/attachments/{row.id}".encode() in inbox.data
    download = client.get(f"/inbox/attachments/{row.id}", base_url=BASE_URL)
    assert download.status_code == 200 and download.data == plain
    assert observation is not None and row.position == 1


def test_keep_the_file_names_keeps_them(app, client, adviser, recovery_identity):
    page = submit_with_files(client, [(DOCX_LIKE, "rapport.docx")], keep_names="y")

    assert page.status_code == 200
    [document] = stored_files(app, recovery_identity)
    assert document["filename"] == "rapport.docx" and document["neutral_name"] is False
    assert "rapport.docx" in text_of(page)


def test_a_dutch_page_names_files_in_dutch(app, client, adviser, recovery_identity):
    page = submit_with_files(
        client, [(random_bytes(1536 * 1024), "film.mp4")], headers={"Accept-Language": "nl"}
    )

    assert page.status_code == 200
    [video] = stored_files(app, recovery_identity)
    assert video["filename"] == "Bestand (MP4, 1,5 MB).mp4"


def test_a_file_field_left_empty_files_the_observation_alone(app, client, adviser):
    page = submit_with_files(client, [(b"", "")])

    assert page.status_code == 200
    assert count(app, Observation) == 1 and count(app, Attachment) == 0
    assert "Your files" not in text_of(page)


def test_files_over_the_limit_store_nothing_and_keep_the_text(app, client, adviser, monkeypatch):
    monkeypatch.setattr(first_files, "MAX_FIRST_FILES_BYTES", 100_000)
    what = "The ammunition count in the weekly report was copied from last month."

    page = submit_with_files(
        client, [(random_bytes(60_000), "a.bin"), (random_bytes(60_000), "b.bin")], what=what
    )

    assert page.status_code == 413
    assert field_errors(page, "files"), "the reason is next to the files field"
    assert "larger than 97.7 KB together" in " ".join(field_errors(page, "files"))
    assert textarea_value(page, "what") == what
    assert "choose them again" in text_of(page)
    assert_nothing_stored(app)


def test_too_many_files_are_refused_with_a_message(app, client, adviser):
    files = [
        (random_bytes(100, seed=n), f"{n}.bin") for n in range(first_files.MAX_FIRST_FILES + 1)
    ]

    page = submit_with_files(client, files)

    assert page.status_code == 400
    assert field_errors(page, "files")
    assert_nothing_stored(app)


def test_an_empty_file_is_refused(app, client, adviser):
    page = submit_with_files(client, [(b"", "empty.txt")])

    assert page.status_code == 400
    assert field_errors(page, "files")
    assert_nothing_stored(app)


def test_a_form_error_drops_the_files_and_says_so(app, client, adviser):
    page = submit_with_files(client, [(jpeg_with_gps(), "photo.jpg")], what="")

    assert page.status_code == 400
    assert "Describe what you observed." in " ".join(field_errors(page, "what"))
    assert "The files you chose were not stored: choose them again" in text_of(page)
    assert_nothing_stored(app)
    # Its spool was removed: the folder's time says the day, not the moment.
    assert folder_dated_to_the_day(app)


def test_a_full_volume_budget_stores_neither_the_observation_nor_its_files(
    app, client, adviser, monkeypatch
):
    from dissent.services import budget

    def refuse(*_args, **kwargs):
        raise budget.BudgetReached(budget.Budget.VOLUME, retry_at=budget._window_end(0))

    real_spend = budget.spend
    monkeypatch.setattr(
        budget,
        "spend",
        lambda conn, settings, kind, **kw: (refuse if kind is budget.Budget.VOLUME else real_spend)(
            conn, settings, kind, **kw
        ),
    )
    what = "Fuel figures were rounded up."

    page = submit_with_files(client, [(DOCX_LIKE, "f.docx")], what=what)

    assert page.status_code == 503
    assert textarea_value(page, "what") == what
    assert_nothing_stored(app)


def test_a_failure_after_the_files_leaves_nothing(app, client, adviser, monkeypatch):
    from dissent.services import notifications

    def broken(*_args, **_kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(notifications, "notify", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    page = submit_with_files(client, [(jpeg_with_gps(), "p.jpg"), (DOCX_LIKE, "d.docx")])

    assert page.status_code == 500
    assert_nothing_stored(app)


def test_a_double_click_with_files_stores_them_once(app, client, adviser):
    page = client.get("/submit", base_url=BASE_URL)
    fields = form_data(page)
    boundary = "----dissent" + uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="d.docx"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
        + DOCX_LIKE
        + f"\r\n--{boundary}--\r\n".encode()
    )
    send = lambda: client.post(  # noqa: E731
        "/submit",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        base_url=BASE_URL,
    )

    first, second = send(), send()

    assert first.status_code == second.status_code == 200
    assert count(app, Observation) == 1 and count(app, Attachment) == 1
    assert len(stored_blobs(app)) == 1 and part_files(app) == []


@pytest.mark.parametrize("language", ["en", "nl"])
def test_the_form_offers_files_and_the_keep_names_box(client, adviser, language):
    page = client.get("/submit", base_url=BASE_URL, headers={"Accept-Language": language})

    html = page.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html
    assert re.search(r'<input type="file" id="files" name="files" multiple', html)
    box = re.search(r'<input[^>]*name="keep_names"[^>]*>', html).group(0)
    assert 'type="checkbox"' in box and "checked" not in box


# --- refused before the body is read -----------------------------------------------------

HALF_PAST = 1_800_000_000 + 1800  # 08:30 UTC: the next hour's budget in 30 minutes
WHAT = "The water tanks in the report were never delivered to the camp."


@pytest.fixture
def receiving(monkeypatch) -> list[int]:
    """Record every file part received into an upload sink (held to be cleaned, or
    encrypted into a part file)."""
    received: list[int] = []
    real_init = uploads.UploadSink.__init__

    def counting(self, **kwargs):
        received.append(kwargs["max_bytes"])
        real_init(self, **kwargs)

    monkeypatch.setattr(uploads.UploadSink, "__init__", counting)
    return received


@pytest.fixture
def hour(monkeypatch) -> None:
    """The budgets' clock, at half past an hour."""
    monkeypatch.setattr(budget, "time", SimpleNamespace(time=lambda: float(HALF_PAST)))


def use_up_instance(app, kind: Budget, *, leave: int = 0) -> None:
    """Use this hour's instance-wide budget of ``kind`` up to ``leave``, spent by other
    missions (so the form's own mission still has room)."""
    settings = app.extensions["dissent.settings"]
    instance, per_mission = budget.limits(settings, kind)
    with app.app_context(), db.unit():
        for n, start in enumerate(range(0, instance - leave, per_mission)):
            budget.spend(
                db.session.connection(),
                settings,
                kind,
                mission_id=100_000 + n,
                amount=min(per_mission, instance - leave - start),
            )


def test_a_form_from_a_browser_without_its_session_is_refused_before_its_files(
    app, client, adviser, receiving
):
    page = client.get("/submit", base_url=BASE_URL)
    client.delete_cookie(SOURCE_COOKIE, domain="localhost")  # a browser restarted, say

    refused = send_with_files(
        client, page, [(DOCX_LIKE, "d.docx"), (jpeg_with_gps(), "p.jpg")], what=WHAT
    )

    assert refused.status_code == 400
    assert "This form has expired" in text_of(refused)
    assert textarea_value(refused, "what") == WHAT
    assert "choose them again" in text_of(refused)
    assert receiving == [], "no file was received, held or encrypted"
    assert_nothing_stored(app)
    # The form it shows works, files and all.
    again = send_with_files(client, refused, [(DOCX_LIKE, "d.docx")], what=WHAT)
    assert again.status_code == 200 and "Your codename" in text_of(again)
    assert receiving and count(app, Attachment) == 1


def test_a_used_up_hour_refuses_the_form_before_its_files(app, client, adviser, receiving, hour):
    use_up_instance(app, Budget.OBSERVATIONS)

    refused = submit_with_files(client, [(DOCX_LIKE, "d.docx")], what=WHAT)

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1800"
    assert textarea_value(refused, "what") == WHAT
    assert "choose them again" in text_of(refused)
    assert receiving == [], "no file was received, held or encrypted"
    assert_nothing_stored(app)


def test_a_used_up_volume_refuses_files_before_reading_them_but_not_a_form_without(
    app, new_client, adviser, receiving, hour
):
    use_up_instance(app, Budget.VOLUME)
    large = random_bytes(first_files.FORM_BYTES + 4096)

    refused = submit_with_files(new_client(), [(large, "film.bin")], what=WHAT)

    assert refused.status_code == 503
    assert textarea_value(refused, "what") == WHAT
    assert receiving == [] and part_files(app) == []
    assert count(app, Observation) == 0
    # A form without files stores no volume: it is filed.
    filed = submit_with_files(new_client(), [(b"", "")], what=WHAT)
    assert filed.status_code == 200 and count(app, Observation) == 1


def test_a_double_click_on_the_hour_s_last_place_shows_the_codename_twice(
    app, client, adviser, hour
):
    use_up_instance(app, Budget.OBSERVATIONS, leave=1)
    page = client.get("/submit", base_url=BASE_URL)
    old_cookie = client.get_cookie(SOURCE_COOKIE).value

    first = send_with_files(client, page, [(DOCX_LIKE, "d.docx")], what=WHAT)
    # The twin left with the old cookie, before the first answer came back, and finds
    # the budget used up by the first.
    client.set_cookie(SOURCE_COOKIE, old_cookie, domain="localhost")
    second = send_with_files(client, page, [(DOCX_LIKE, "d.docx")], what=WHAT)

    assert first.status_code == second.status_code == 200, text_of(second)[:500]
    assert shown_codename(first) == shown_codename(second)
    assert count(app, Observation) == 1 and count(app, Attachment) == 1


def test_an_outage_before_the_body_shows_the_text_back_and_keeps_no_file(
    app, client, adviser, receiving, monkeypatch
):
    import sqlalchemy.exc

    def down(*_args, **_kwargs):
        raise sqlalchemy.exc.TimeoutError("no connection free")

    monkeypatch.setattr(first_files, "check_budgets", down)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    # Larger than any form without files may be: read under the ordinary limit, the
    # body would be refused and the text lost.
    photo = random_bytes(1024 * 1024)

    busy = submit_with_files(client, [(photo, "p.bin")], what=WHAT)

    assert busy.status_code == 503
    assert WHAT in busy.get_data(as_text=True), "the busy page shows the text back"
    assert receiving == [], "the file was neither received nor encrypted"
    assert part_files(app) == []
