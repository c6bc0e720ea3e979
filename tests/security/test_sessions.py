"""The split-knowledge sessions (dissent.security.sessions): sealing, expiry, rotation, ending."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from flask import request

from dissent.security import sessions
from dissent.security.session_store import SessionStoreUnavailable
from dissent.security.sessions import (
    SOURCE_COOKIE,
    STAFF_COOKIE,
    TWIN_GRACE,
    ServerSession,
    SplitKnowledgeSessionInterface,
    day_expiry,
    is_staff_path,
)

SOURCE_TTL = timedelta(minutes=30)
STAFF_TTL = timedelta(minutes=60)
START = datetime(2024, 3, 5, 13, 47, 12, tzinfo=UTC)


class MemoryStore:
    """A session store on a dict, keeping the store's rule: only ``new`` creates.

    While ``down`` every call fails as an unreachable store does; while
    ``refusing_writes`` only saves and deletes do.
    """

    def __init__(self) -> None:
        self.records: dict[bytes, tuple[bytes, datetime]] = {}
        self.saves = 0
        self.calls = 0
        self.down = False
        self.refusing_writes = False

    def _reach(self, *, write: bool) -> None:
        self.calls += 1
        if self.down or (write and self.refusing_writes):
            raise SessionStoreUnavailable

    def load(self, id_hash: bytes) -> tuple[bytes, datetime] | None:
        self._reach(write=False)
        return self.records.get(id_hash)

    def save(self, id_hash: bytes, sealed: bytes, *, expires_at: datetime, new: bool) -> bool:
        self._reach(write=True)
        self.saves += 1
        if (id_hash in self.records) is new:
            return False
        self.records[id_hash] = (sealed, expires_at)
        return True

    def delete(self, id_hash: bytes) -> None:
        self._reach(write=True)
        self.records.pop(id_hash, None)


@pytest.fixture
def clock(monkeypatch) -> dict[str, datetime]:
    now = {"now": START}
    monkeypatch.setattr(sessions, "utcnow", lambda: now["now"])
    return now


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def interface(store) -> SplitKnowledgeSessionInterface:
    return SplitKnowledgeSessionInterface(store, staff_ttl=STAFF_TTL, source_ttl=SOURCE_TTL)


def read(session) -> None:
    """What a page that shows who is logged in does with the session."""
    session.get("source_id")


def request_cycle(app, interface, path="/submit", cookie=None, change=read):
    """Open the session of one request to ``path``, apply ``change``, save it.

    Return the session and the cookie value set (``""`` for a deleted cookie, ``None``
    when the response sets none).
    """
    name = STAFF_COOKIE if is_staff_path(path) else SOURCE_COOKIE
    headers = {"Cookie": f"{name}={cookie}"} if cookie else {}
    with app.test_request_context(path, headers=headers):
        session = interface.open_session(app, request)
        change(session)
        response = app.response_class()
        interface.save_session(app, session, response)
    set_cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    value = set_cookies[0].split(";")[0].split("=", 1)[1] if set_cookies else None
    return session, value


def peek(app, interface, cookie, path="/submit"):
    """Open the session ``cookie`` names, without saving it back."""
    name = STAFF_COOKIE if is_staff_path(path) else SOURCE_COOKIE
    with app.test_request_context(path, headers={"Cookie": f"{name}={cookie}"}):
        return interface.open_session(app, request)


def put(**values):
    return lambda session: session.update(values)


# --- helpers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "ttl", "expected"),
    [
        (START, SOURCE_TTL, datetime(2024, 3, 6, tzinfo=UTC)),
        (datetime(2024, 3, 5, 23, 45, tzinfo=UTC), SOURCE_TTL, datetime(2024, 3, 7, tzinfo=UTC)),
        (datetime(2024, 3, 5, 23, 30, tzinfo=UTC), SOURCE_TTL, datetime(2024, 3, 6, tzinfo=UTC)),
        (datetime(2024, 12, 31, 12, 0, tzinfo=UTC), SOURCE_TTL, datetime(2025, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_source_session_expires_at_the_first_midnight_after_its_lifetime(
    monkeypatch, now, ttl, expected
):
    monkeypatch.setattr(sessions, "utcnow", lambda: now)

    assert day_expiry(ttl) == expected


@pytest.mark.parametrize(
    ("path", "staff"),
    [
        ("/staff", True),
        ("/staff/login", True),
        ("/adviser/", True),
        ("/leadership/report", True),
        ("/admin/accounts", True),
        ("/", False),
        ("/submit", False),
        ("/staffing", False),
        ("/administrator", False),
        ("/inbox/adviser", False),
    ],
)
def test_only_the_staff_prefixes_and_what_is_below_them_are_staff_paths(path, staff):
    assert is_staff_path(path) is staff


def test_regenerate_moves_the_data_to_a_new_id_and_key_at_once_and_end_empties_it():
    session = ServerSession({"source_id": 1}, sid=b"s" * 32, key=b"k" * 32)
    token = session.token("csrf")

    session.regenerate()

    assert session.replaced == b"s" * 32  # its record goes at the next save
    assert (session.sid, session.key) != (b"s" * 32, b"k" * 32)
    assert dict(session) == {"source_id": 1} and session.modified
    assert not session.check_token("csrf", token)  # a page shown from now on gets new ones
    session.end()
    assert session.destroy
    assert dict(session) == {}


def test_a_token_is_made_from_the_key_and_its_purpose_and_value():
    session = ServerSession(sid=b"s" * 32, key=b"k" * 32)
    other = ServerSession(sid=b"s" * 32, key=b"K" * 32)

    token = session.token("csrf")

    assert session.bound
    assert session.check_token("csrf", token)
    assert not other.check_token("csrf", token)
    assert not session.check_token("submit-form", token)
    assert session.token("submit-form", "a") != session.token("submit-form", "b")
    assert not session.check_token("csrf", token + "x")


# --- the interface --------------------------------------------------------------------------


def test_a_session_nothing_was_put_in_stores_nothing_and_sets_no_cookie(
    app, interface, store, clock
):
    session, cookie = request_cycle(app, interface)

    assert session.is_new
    assert cookie is None
    assert store.records == {}


def show_a_form(session) -> None:
    """What a page with a form does: it shows the session's token, and stores nothing."""
    session.get("source_id")
    session.token("csrf")


def test_a_page_with_a_form_gives_a_cookie_and_stores_nothing(app, interface, store, clock):
    session, cookie = request_cycle(app, interface, change=show_a_form)
    token = session.token("csrf")

    assert cookie
    assert store.records == {} and store.saves == 0
    # The next request with that cookie checks the token without any record...
    again, set_again = request_cycle(app, interface, cookie=cookie, change=show_a_form)
    assert again.check_token("csrf", token)
    assert set_again is None and store.records == {}
    # ... and a browser without it cannot.
    assert not request_cycle(app, interface)[0].check_token("csrf", token)


def test_what_is_first_stored_for_a_cookie_without_a_record_gets_an_id_of_its_own(
    app, interface, store, clock
):
    """A cookie planted in a browser never names what is stored later (fixation)."""
    _, planted = request_cycle(app, interface, change=show_a_form)

    _, cookie = request_cycle(app, interface, cookie=planted, change=put(secret="mine"))

    assert cookie and cookie != planted
    assert dict(peek(app, interface, planted)) == {}
    assert peek(app, interface, cookie)["secret"] == "mine"


def test_the_store_holds_only_ciphertext_and_the_cookie_opens_it(app, interface, store, clock):
    _, cookie = request_cycle(app, interface, change=put(source_secret="canary-0815"))

    [(id_hash, (sealed, _))] = store.records.items()
    raw = base64.urlsafe_b64decode(cookie + "==")
    assert b"canary-0815" not in sealed
    assert raw[:32] != id_hash  # the store is keyed by a hash of the id, not the id
    again, _ = request_cycle(app, interface, cookie=cookie)
    assert dict(again) == {"source_secret": "canary-0815"}
    assert not again.is_new


def test_a_cookie_with_another_key_opens_an_empty_session(app, interface, store, clock):
    _, cookie = request_cycle(app, interface, change=put(source_id=7))
    raw = base64.urlsafe_b64decode(cookie + "==")
    forged = base64.urlsafe_b64encode(raw[:32] + bytes(32)).decode().rstrip("=")

    session, _ = request_cycle(app, interface, cookie=forged)

    assert dict(session) == {}
    assert session.is_new
    assert len(store.records) == 1  # the real session is untouched


def test_the_store_learns_only_the_day_of_a_source_session_but_a_staff_expiry_exactly(
    app, interface, store, clock
):
    request_cycle(app, interface, "/submit", change=put(source_id=7))
    request_cycle(app, interface, "/staff/login", change=put(pending_staff_id=3))

    expiries = sorted(expires_at for _, expires_at in store.records.values())
    assert expiries == [START + STAFF_TTL, datetime(2024, 3, 6, tzinfo=UTC)]


def test_an_idle_session_past_its_deadline_is_empty_and_deleted(app, interface, store, clock):
    _, cookie = request_cycle(app, interface, change=put(source_id=7))

    clock["now"] += SOURCE_TTL
    session, _ = request_cycle(app, interface, cookie=cookie)

    assert dict(session) == {}
    assert store.records == {}


def test_reading_pages_does_not_rewrite_the_session_until_a_minute_has_passed(
    app, interface, store, clock
):
    _, cookie = request_cycle(app, interface, change=put(source_id=7))
    assert store.saves == 1

    clock["now"] += timedelta(seconds=59)
    request_cycle(app, interface, cookie=cookie)
    assert store.saves == 1

    clock["now"] += timedelta(seconds=2)
    request_cycle(app, interface, cookie=cookie)
    assert store.saves == 2
    # The deadline moved: 29 minutes later the session is still there.
    clock["now"] += SOURCE_TTL - timedelta(minutes=1)
    session, _ = request_cycle(app, interface, cookie=cookie)
    assert session["source_id"] == 7


def test_a_regenerated_session_gets_a_new_cookie_and_the_old_one_opens_nothing(
    app, interface, store, clock
):
    _, old = request_cycle(app, interface, "/staff/login", change=put(pending_staff_id=3))

    _, new = request_cycle(
        app, interface, "/staff/2fa", cookie=old, change=lambda s: s.regenerate()
    )

    assert new and new != old
    assert len(store.records) == 1
    assert dict(request_cycle(app, interface, "/staff/2fa", cookie=old)[0]) == {}
    assert request_cycle(app, interface, "/staff/2fa", cookie=new)[0]["pending_staff_id"] == 3


def share(app, interface, cookie, proof: bytes, value: str):
    """Run share_with_twin in a request to /submit with ``cookie``."""
    with app.test_request_context("/submit", headers={"Cookie": f"{SOURCE_COOKIE}={cookie}"}):
        return interface.share_with_twin(interface.open_session(app, request), proof, value)


def test_twins_share_the_first_value_and_nobody_else_gets_it(app, interface, store, clock):
    _, cookie = request_cycle(app, interface, change=show_a_form)
    _, other_cookie = request_cycle(app, interface, change=show_a_form)

    first = share(app, interface, cookie, b"form and answers", "first value")
    twin = share(app, interface, cookie, b"form and answers", "second value")

    assert first.value == twin.value == "first value"
    assert first.sid == twin.sid
    # Another form (or other answers) from the same browser is no twin; nor is the same
    # form from another browser.
    assert share(app, interface, cookie, b"other answers", "third").value == "third"
    assert share(app, interface, other_cookie, b"form and answers", "fourth").value == "fourth"
    # The store holds ciphertext only, and only the day it may be dropped.
    for sealed, expires_at in store.records.values():
        assert b"value" not in sealed
        assert expires_at == datetime(2024, 3, 6, tzinfo=UTC)


def test_a_twin_after_the_grace_period_gets_a_value_of_its_own(app, interface, store, clock):
    _, cookie = request_cycle(app, interface, change=show_a_form)
    first = share(app, interface, cookie, b"form", "first")

    clock["now"] += TWIN_GRACE

    assert share(app, interface, cookie, b"form", "late").value == "late"
    interface.forget_twin(first.sid)
    assert store.records == {}


def test_an_ended_or_emptied_session_is_deleted_with_its_cookie(app, interface, store, clock):
    _, first = request_cycle(app, interface, change=put(source_id=7))
    _, second = request_cycle(app, interface, change=put(source_id=8))

    _, ended = request_cycle(app, interface, cookie=first, change=lambda s: s.end())
    _, emptied = request_cycle(app, interface, cookie=second, change=lambda s: s.clear())

    assert ended == emptied == ""
    assert store.records == {}


def test_a_late_save_does_not_bring_back_a_session_deleted_meanwhile(app, interface, store, clock):
    _, cookie = request_cycle(app, interface, change=put(source_id=7))

    def quick_exit_in_another_tab(session):
        read(session)
        store.records.clear()
        session["csrf_token"] = "new"

    _, set_again = request_cycle(app, interface, cookie=cookie, change=quick_exit_in_another_tab)

    assert set_again is None
    assert store.records == {}


def test_the_staff_and_source_interfaces_never_share_a_session(app, interface, store, clock):
    _, staff_cookie = request_cycle(app, interface, "/adviser/", change=put(staff_id=1))

    with app.test_request_context("/inbox", headers={"Cookie": f"{STAFF_COOKIE}={staff_cookie}"}):
        on_source_side = interface.open_session(app, request)

    assert dict(on_source_side) == {}
    assert on_source_side.is_new


# --- a store that is down -------------------------------------------------------------------


def untouched(session) -> None:
    """What a page that needs no session (the landing page, a static file) does with it."""


def test_a_request_that_does_not_use_its_session_never_asks_the_store(app, interface, store, clock):
    _, cookie = request_cycle(app, interface, change=put(source_id=7))
    store.down = True
    calls = store.calls

    session, set_cookie = request_cycle(app, interface, cookie=cookie, change=untouched)

    assert store.calls == calls
    assert set_cookie is None  # the browser keeps its cookie
    assert not session.loaded


def test_reading_a_session_while_the_store_is_down_fails_and_keeps_the_cookie(
    app, interface, store, clock
):
    _, cookie = request_cycle(app, interface, change=put(source_id=7))
    store.down = True

    with app.test_request_context("/inbox", headers={"Cookie": f"{SOURCE_COOKIE}={cookie}"}):
        session = interface.open_session(app, request)
        with pytest.raises(SessionStoreUnavailable):
            session.get("source_id")
        response = app.response_class()
        interface.save_session(app, session, response)

    assert "Set-Cookie" not in response.headers  # neither replaced nor deleted
    store.down = False
    assert peek(app, interface, cookie)["source_id"] == 7  # back, with the same cookie


def test_a_changed_session_that_cannot_be_saved_fails_the_request(app, interface, store, clock):
    store.down = True

    with pytest.raises(SessionStoreUnavailable):
        request_cycle(app, interface, change=put(csrf_token="t"))


def test_a_session_that_allowed_it_goes_out_unsaved_without_a_cookie(app, interface, store, clock):
    _, cookie = request_cycle(app, interface, change=put(csrf_token="t"))
    store.refusing_writes = True

    def log_in(session):
        session["source_id"] = 7
        session.regenerate()
        session.allow_unsaved()

    session, set_cookie = request_cycle(app, interface, cookie=cookie, change=log_in)

    assert isinstance(session.unsaved, SessionStoreUnavailable)
    assert set_cookie is None
    store.refusing_writes = False
    assert "source_id" not in peek(app, interface, cookie)  # simply not logged in


def test_an_idle_deadline_that_cannot_be_moved_does_not_fail_the_page(app, interface, store, clock):
    _, cookie = request_cycle(app, interface, change=put(source_id=7))
    clock["now"] += timedelta(seconds=61)  # due for a rewrite (see the test above)
    store.refusing_writes = True

    session, _ = request_cycle(app, interface, cookie=cookie)

    assert session["source_id"] == 7
    assert isinstance(session.unsaved, SessionStoreUnavailable)


def test_ending_a_session_while_the_store_is_down_still_deletes_the_cookie(
    app, interface, store, clock
):
    _, cookie = request_cycle(app, interface, change=put(source_id=7))
    store.down = True

    def quick_exit(session):
        session.end()
        session.allow_unsaved()

    _, set_cookie = request_cycle(app, interface, cookie=cookie, change=quick_exit)

    assert set_cookie == ""
