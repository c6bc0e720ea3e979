"""A source's rows cannot be placed between staff rows by their order (issue 15, finding 6).

A source's messages and files are dated to the day; staff messages and the audit ledger
carry exact times (invariant 2). If every row took the next number of one sequence, a
database dump would place a source's message between two staff rows whose times are
exact. Message and attachment ids are therefore random, and a conversation keeps its
order in a counter of its own.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import has_request_context, request
from sqlalchemy import select, text

from dissent.extensions import db
from dissent.models import Attachment, Message, Role
from dissent.services import conversation
from tests.helpers.casework import observation_ref
from tests.helpers.files import adviser_upload, source_upload
from tests.helpers.http import HttpClient, serving
from tests.helpers.pages import BASE_URL, csrf_from
from tests.helpers.source import file_observation, source_reply
from tests.helpers.staff import login_staff

ROUNDS = 8  # 8 rounds of 4 rows: 32 rows written by a source and an adviser in turn


def all_ids(app, model) -> set[int]:
    with app.app_context():
        return set(db.session.scalars(select(model.id)))


def adviser_reply(staff, ref: str, text: str) -> None:
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    response = staff.post(
        f"/adviser/o/{ref}/reply",
        data={"csrf_token": csrf_from(page), "text": text},
        base_url=BASE_URL,
    )
    assert response.status_code == 303


def in_page_order(page: bytes, names: list[str]) -> list[str]:
    """Return ``names`` in the order in which the page first shows them."""
    found = {name: page.find(name.encode()) for name in names}
    assert all(at >= 0 for at in found.values()), [n for n, at in found.items() if at < 0]
    return sorted(names, key=found.__getitem__)


@pytest.fixture
def written(app, new_client, adviser, mission):
    """Two sources and an adviser writing and attaching in turn; returns what was written,
    in the order it was written, with the id each new row got."""
    sources = []
    for what in ("The fuel log was rewritten.", "The audit sample was hand-picked."):
        browser = new_client()
        file_observation(browser, what=what)
        browser.ref = observation_ref(app, mission_id=mission.id)
        sources.append(browser)
    staff = new_client()
    login_staff(staff, adviser)

    written: list[tuple[str, type, int, str]] = []  # (who, table, new id, text or file name)

    def record(who: str, model: type, before: set[int], name: str) -> None:
        [new] = all_ids(app, model) - before
        written.append((who, model, new, name))

    for n in range(ROUNDS):
        source = sources[n % 2]
        before = all_ids(app, Message)
        assert source_reply(source, source.ref, f"source-says-{n:02d}").status_code == 303
        record("source", Message, before, f"source-says-{n:02d}")
        before = all_ids(app, Message)
        adviser_reply(staff, source.ref, f"adviser-says-{n:02d}")
        record("adviser", Message, before, f"adviser-says-{n:02d}")
        before = all_ids(app, Attachment)
        sent = source_upload(source, b"from the source %d" % n, f"source-{n:02d}.bin")
        assert sent.status_code == 303
        record("source", Attachment, before, f"source-{n:02d}.bin")
        before = all_ids(app, Attachment)
        sent = adviser_upload(staff, source.ref, b"from the adviser %d" % n, f"adviser-{n:02d}.bin")
        assert sent.status_code == 303
        record("adviser", Attachment, before, f"adviser-{n:02d}.bin")
    return sources, staff, written


def test_row_ids_do_not_follow_the_order_in_which_rows_were_written(written):
    _, _, written = written
    ids = [row_id for _, _, row_id, _ in written]

    assert len(written) == 4 * ROUNDS
    # Sequential ids would come out sorted; random ones are sorted once in 32! tries.
    assert ids != sorted(ids)
    for model in (Message, Attachment):
        of_table = [row_id for _, table, row_id, _ in written if table is model]
        assert of_table != sorted(of_table), model.__name__
        # Nor may a source's rows be ordered against the adviser's rows of the same table.
        rows = [(who, row_id) for who, table, row_id, _ in written if table is model]
        assert [who for who, _ in sorted(rows, key=lambda row: row[1])] != [who for who, _ in rows]


def test_conversations_and_files_still_show_in_the_order_they_were_written(app, written):
    sources, staff, written = written

    for number, source in enumerate(sources):
        inbox = source.get("/inbox", base_url=BASE_URL).data
        case = staff.get(f"/adviser/o/{source.ref}", base_url=BASE_URL).data
        # This source wrote in the even rounds (the first) or the odd ones (the second).
        mine = [name for _, _, _, name in written if int(re.findall(r"\d+", name)[0]) % 2 == number]
        said = [name for name in mine if "-says-" in name]
        files = [name for name in mine if name.endswith(".bin")]
        for page in (inbox, case):
            assert in_page_order(page, said) == said
            assert in_page_order(page, files) == files


@pytest.mark.sqlite_only
def test_a_dump_of_the_session_table_does_not_list_sessions_in_the_order_they_began(
    app, new_client, make_staff, mission
):
    """SQLite lists a table with hidden row numbers in the order its rows were written:
    a source's session would sit between staff sessions whose expiry is exact."""
    for _ in range(8):
        login_staff(new_client(), make_staff(Role.ADVISER))
    with app.app_context():
        engine = db.engine(app)
        with engine.connect() as connection:
            dumped = [row[0] for row in connection.execute(text("SELECT * FROM stored_session"))]
    assert len(dumped) >= 8
    assert dumped == sorted(dumped)  # stored by its random key, not by when it began


def test_a_source_and_an_adviser_writing_at_once_get_a_place_each(
    app, adviser, mission, monkeypatch
):
    """Both messages read the thread before either is stored (on both databases): each
    still gets a place of its own, and neither request fails."""
    with serving(app) as url:
        source, staff = HttpClient(url), HttpClient(url)
        file_observation(source, what="The audit sample was hand-picked.")
        ref = observation_ref(app, mission_id=mission.id)
        login_staff(staff, adviser)
        inbox, case = source.get("/inbox"), staff.get(f"/adviser/o/{ref}")
        barrier = threading.Barrier(2, timeout=10)
        read_recipients = conversation.conversation_recipients

        def read_then_wait(*args, **kwargs):
            found = read_recipients(*args, **kwargs)
            if has_request_context() and request.method == "POST":
                barrier.wait()
            return found

        monkeypatch.setattr(conversation, "conversation_recipients", read_then_wait)
        with ThreadPoolExecutor(2) as pool:
            sent = [
                pool.submit(
                    source.post,
                    f"/inbox/{ref}/reply",
                    {"csrf_token": csrf_from(inbox), "text": "source-at-once"},
                ),
                pool.submit(
                    staff.post,
                    f"/adviser/o/{ref}/reply",
                    {"csrf_token": csrf_from(case), "text": "adviser-at-once"},
                ),
            ]
            statuses = [future.result(timeout=60).status_code for future in sent]

    assert statuses == [303, 303]
    assert not barrier.broken
    with app.app_context():
        places = db.session.scalars(select(Message.position).order_by(Message.position)).all()
    assert places == list(range(1, len(places) + 1))
    assert len(places) >= 2
