"""A returning source: codename login, the inbox, replies, quick exit and idle expiry."""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from dissent.crypto.codename import codename_wordlist, generate_codename
from dissent.extensions import db
from dissent.models import Message, Observation, Role, Sender, State, utcnow
from dissent.services import context as service_context
from dissent.services.conversation import MESSAGE_MAX
from dissent.services.sources import SOURCE_LOGINS_PER_MINUTE
from tests.helpers.pages import BASE_URL, csrf_from, field_errors, input_value, textarea_value
from tests.helpers.source import ACK_TEXT, source_login, source_reply, submit_observation
from tests.helpers.staff import login_staff

NOT_FOUND = b"No observation was found for this codename. Check each word."
TOO_MANY = b"Too many attempts right now. Wait a minute and try again."


def inbox_ref(inbox) -> str:
    """Return the reference of the (first) observation in an inbox page."""
    return re.search(rb'id="thread-([A-Z0-9]{4}-[A-Z0-9]{4})"', inbox.data).group(1).decode()


def message_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Message))


@pytest.fixture
def codename(new_client, adviser) -> str:
    """The codename of a filed observation (filed in a browser that is then closed)."""
    return submit_observation(new_client(), what="Vehicle checks were signed off unseen.")


def shift_clock(monkeypatch) -> dict[str, timedelta]:
    """Let the test move the session store's clock forward; return the offset holder."""
    offset = {"by": timedelta(0)}

    def shifted():
        return utcnow() + offset["by"]

    monkeypatch.setattr("dissent.security.session_store.utcnow", shifted)
    monkeypatch.setattr("dissent.security.sessions.utcnow", shifted)
    return offset


# --- login ------------------------------------------------------------------------------------


def test_codename_login_forgives_case_and_spacing(client, codename):
    typed = "  " + "   ".join(word.upper() for word in codename.split()) + " \t"

    response = source_login(client, typed)

    assert response.status_code == 303
    assert response.headers["Location"] == "/inbox"
    inbox = client.get("/inbox", base_url=BASE_URL)
    assert b"Vehicle checks were signed off unseen." in inbox.data


def test_a_wrong_codename_is_not_found_and_kept_to_be_corrected(client, codename, caplog):
    wrong = generate_codename()
    assert wrong != codename

    response = source_login(client, wrong)

    assert response.status_code == 400
    assert NOT_FOUND in response.data
    # Kept, so one wrong word is corrected rather than seven retyped; never logged.
    assert input_value(response, "codename") == wrong
    assert response.headers["Cache-Control"] == "no-store"
    assert wrong not in caplog.text
    assert client.get("/inbox", base_url=BASE_URL).status_code == 302


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abacus " * 6, "A codename has 7 words separated by spaces; this has 6."),
        ("abacus  zoom " * 4, "A codename has 7 words separated by spaces; this has 8."),
        (
            "abacus abdomen Zzyzxq abide abiding ability ablaze",
            "Word 3, “Zzyzxq”, is not one of the codename words.",
        ),
        (
            "fiets kaas zomer vogel fluit kaaas abacus",
            "Word 6, “kaaas”, is not one of the codename words.",
        ),
        (
            "fiets kaas zomer vogel fluit abacus " + "x" * 60,
            f"Word 7, “{'x' * 39}…”, is not one of the codename words.",
        ),
    ],
    ids=["six-words", "eight-words", "unknown-word", "dutch-typo", "long-word"],
)
def test_a_typo_is_named_and_what_was_typed_is_kept(client, codename, typed, message, caplog):
    response = source_login(client, typed)

    assert response.status_code == 400
    assert field_errors(response, "codename") == [message]
    assert NOT_FOUND not in response.data
    assert input_value(response, "codename") == typed
    # The word reaches the page of the person who typed it, and no log.
    assert "zzyzxq" not in caplog.text.lower() and "kaaas" not in caplog.text


def test_the_codename_field_is_left_alone_by_phones_and_spell_checkers(client):
    field = re.search(rb'<input[^>]*name="codename"[^>]*>', client.get("/login").data).group(0)
    for attribute in (
        b'autocomplete="off"',
        b'autocapitalize="none"',
        b'autocorrect="off"',
        b'spellcheck="false"',
    ):
        assert attribute in field


def test_every_login_costs_exactly_one_derivation_whatever_the_answer(
    app, client, codename, monkeypatch
):
    """The 'same time whether it exists or not' property, counted rather than timed."""
    real = service_context.derive_source_keys
    calls: list[object] = []

    def counting(*args, **kwargs):
        calls.append(kwargs["params"])
        return real(*args, **kwargs)

    monkeypatch.setattr(service_context, "derive_source_keys", counting)
    words = list(codename_wordlist()[:6])
    attempts = {
        "right": (codename, 303),
        "wrong": (generate_codename(), 400),
        "six words": (" ".join(words), 400),
        "unknown word": (" ".join([*words, "zzyzxq"]), 400),
    }

    for name, (typed, status) in attempts.items():
        calls.clear()
        response = source_login(app.test_client(), typed)
        assert response.status_code == status, name
        assert calls == [app.extensions["dissent.settings"].kdf_params], name


def test_too_many_logins_get_a_clear_message_then_recover(app, new_client, codename, monkeypatch):
    assert SOURCE_LOGINS_PER_MINUTE >= 10
    monkeypatch.setattr("dissent.services.sources.SOURCE_LOGINS_PER_MINUTE", 3)
    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(
        "dissent.security.ratelimit.time", SimpleNamespace(time=lambda: clock["now"])
    )
    for _ in range(3):
        assert NOT_FOUND in source_login(new_client(), generate_codename()).data

    refused = source_login(new_client(), codename)

    assert refused.status_code == 400
    assert TOO_MANY in refused.data
    assert input_value(refused, "codename") == codename  # kept for the try a minute later
    clock["now"] += 60
    assert source_login(new_client(), codename).status_code == 303


# --- the inbox --------------------------------------------------------------------------------


def test_inbox_shows_state_thread_reply_and_acknowledgement(app, client, new_client, adviser):
    codename = submit_observation(client, what="Stores were reported full but were empty.")
    inbox = client.get("/inbox", base_url=BASE_URL)
    ref = inbox_ref(inbox)
    assert b"Received; waiting for an adviser to acknowledge it" in inbox.data
    assert b"No messages yet." in inbox.data
    assert b"Stores were reported full but were empty." in inbox.data

    staff = new_client()
    login_staff(staff, adviser)
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL)
    staff.post(
        f"/adviser/o/{ref}/acknowledge", data={"csrf_token": csrf_from(page)}, base_url=BASE_URL
    )
    staff.post(
        f"/adviser/o/{ref}/reply",
        data={"csrf_token": csrf_from(page), "text": "Which storehouse, roughly?"},
        base_url=BASE_URL,
    )

    returning = new_client()
    assert source_login(returning, codename).status_code == 303
    inbox = returning.get("/inbox", base_url=BASE_URL)
    assert b"Acknowledged by an adviser" in inbox.data
    assert b"Received; waiting" not in inbox.data
    assert ACK_TEXT in inbox.data
    assert b"Which storehouse, roughly?" in inbox.data
    assert inbox.data.index(ACK_TEXT) < inbox.data.index(b"Which storehouse, roughly?")
    # The source is not told which adviser wrote: the thread names no one (the
    # mission's readers are listed apart, under "Who can read it").
    thread = inbox.data[inbox.data.index(b'<ol class="thread">') :]
    thread = thread[: thread.index(b"</ol>")]
    assert adviser.username.encode() not in thread


def test_a_reply_from_the_inbox_reaches_the_thread(app, client, new_client, adviser):
    submit_observation(client, what="Patrol logs were backfilled.")
    ref = inbox_ref(client.get("/inbox", base_url=BASE_URL))

    response = source_reply(client, ref, "It happened again this week.")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/inbox#thread-{ref}"
    assert b"It happened again this week." in client.get("/inbox", base_url=BASE_URL).data
    with app.app_context():
        assert db.session.scalars(select(Message.sender)).all() == [Sender.SOURCE]
    staff = new_client()
    login_staff(staff, adviser)
    assert b"It happened again this week." in staff.get(f"/adviser/o/{ref}", base_url=BASE_URL).data


def test_an_adviser_who_joins_later_reads_the_messages_sent_after(
    app, client, new_client, adviser, make_staff
):
    """Who can read a message is looked up when it is written, in every worker, never
    remembered: an adviser enrolled a moment ago reads the next message at once."""
    submit_observation(client, what="Rations were signed for twice.")
    ref = inbox_ref(client.get("/inbox", base_url=BASE_URL))
    assert source_reply(client, ref, "Before the new adviser came.").status_code == 303

    newcomer = make_staff(Role.ADVISER, username="newcomer")
    assert source_reply(client, ref, "After the new adviser came.").status_code == 303

    staff = new_client()
    login_staff(staff, newcomer)
    page = staff.get(f"/adviser/o/{ref}", base_url=BASE_URL).data
    assert b"After the new adviser came." in page


def test_a_deactivated_adviser_is_not_a_recipient_of_the_next_message(
    app, client, adviser, make_staff
):
    """Deactivation counts from the next message on: it is encrypted to the remaining
    adviser, the recovery key and the source, and to nobody else."""
    from dissent.services import accounts

    leaving = make_staff(Role.ADVISER, username="leaving")
    submit_observation(client, what="Fuel logs were rewritten.")
    ref = inbox_ref(client.get("/inbox", base_url=BASE_URL))
    assert source_reply(client, ref, "While both advisers serve.").status_code == 303
    with app.app_context(), db.unit():
        accounts.set_active(db.session, staff_id=leaving.id, active=False)
    assert source_reply(client, ref, "After one adviser left.").status_code == 303

    with app.app_context():
        bodies = db.session.scalars(select(Message.body).order_by(Message.position)).all()
    # Each recipient is one stanza line in the age header: advisers + recovery + source.
    assert [body.count(b"\n-> mlkem768x25519 ") for body in bodies] == [4, 3]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "Write a message first."), ("  \r\n ", "Write a message first.")],
    ids=["empty", "blank"],
)
def test_an_empty_reply_is_refused(app, client, adviser, text, message):
    submit_observation(client, what="Something to reply to.")
    ref = inbox_ref(client.get("/inbox", base_url=BASE_URL))

    response = source_reply(client, ref, text)

    assert response.status_code == 400
    assert field_errors(response, "text") == [message]
    assert message_count(app) == 0


def test_an_over_long_reply_is_refused_and_kept(app, client, adviser):
    submit_observation(client, what="Something to reply to at length.")
    ref = inbox_ref(client.get("/inbox", base_url=BASE_URL))
    text = "Details. " + "d" * (MESSAGE_MAX + 1 - len("Details. "))

    response = source_reply(client, ref, text)

    assert response.status_code == 400
    assert field_errors(response, "text") == [f"At most {MESSAGE_MAX} characters."]
    assert textarea_value(response, "text") == text
    assert message_count(app) == 0


def test_a_source_cannot_reply_to_another_sources_observation(app, new_client, adviser):
    victim = new_client()
    submit_observation(victim, what="The victim's observation.")
    victim_ref = inbox_ref(victim.get("/inbox", base_url=BASE_URL))
    intruder = new_client()
    submit_observation(intruder, what="The intruder's own observation.")

    response = source_reply(intruder, victim_ref, "Injected into someone else's thread.")

    assert response.status_code == 404
    assert b"Injected into someone else's thread." not in response.data
    assert b"The victim's observation." not in response.data
    assert message_count(app) == 0


@pytest.mark.parametrize("ref", ["NOPE-NOPE", "x" * 200, "..%2F..%2Fetc", "%C3%A9"])
def test_replying_to_a_made_up_reference_is_404(app, client, adviser, ref):
    submit_observation(client, what="Something real.")

    response = source_reply(client, ref, "Lost message.")

    assert response.status_code == 404
    assert message_count(app) == 0


def test_a_reference_with_a_nul_character_is_refused(app, client, adviser):
    # No browser sends a NUL; it is refused up front (PostgreSQL would reject the query).
    submit_observation(client, what="Something real.")

    response = source_reply(client, "ABCD-EFG%00", "Lost message.")

    assert response.status_code == 400
    assert message_count(app) == 0


# --- quick exit and expiry --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post"])
def test_leave_ends_the_session_at_once_on_a_neutral_page(app, client, adviser, method):
    submit_observation(client, what="Then someone walked in.")
    assert client.get("/inbox", base_url=BASE_URL).status_code == 200
    store = app.session_interface.store
    # The logged-in session (the record kept for a double click went when the source
    # confirmed the codename).
    assert store.count() == 1

    page = getattr(client, method)("/leave", base_url=BASE_URL)

    assert page.status_code == 200
    assert b"dissent" not in page.data.lower()
    assert b"observation" not in page.data.lower()
    assert store.count() == 0
    again = client.get("/inbox", base_url=BASE_URL)
    assert again.status_code == 302
    assert again.headers["Location"] == "/login"


def test_a_request_in_flight_cannot_bring_back_a_session_that_was_left(
    app, client, new_client, adviser
):
    """Quick exit in one tab while another tab's request, which had already opened the
    session, changes it: the session stays ended (the late save used to re-create it,
    with the source logged in)."""
    from flask import session

    from dissent.security.sessions import SOURCE_COOKIE, _id_hash

    submit_observation(client, what="Someone came in while the other tab loaded.")
    cookie = client.get_cookie(SOURCE_COOKIE, domain="localhost").value
    store = app.session_interface.store

    def quick_exit_meanwhile():
        # The other tab has opened the session; now the quick exit deletes it.
        store.delete(_id_hash(session.sid))

    app.before_request_funcs.setdefault(None, []).insert(0, quick_exit_meanwhile)
    other_tab = new_client()
    other_tab.set_cookie(SOURCE_COOKIE, cookie, domain="localhost")
    # A page that writes to the session (a new form token) and saves it at the end.
    assert other_tab.get("/submit", base_url=BASE_URL).status_code == 200
    app.before_request_funcs[None].remove(quick_exit_meanwhile)

    after = new_client()
    after.set_cookie(SOURCE_COOKIE, cookie, domain="localhost")
    response = after.get("/inbox", base_url=BASE_URL)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


def test_a_source_session_ends_after_30_idle_minutes(client, codename, monkeypatch):
    offset = shift_clock(monkeypatch)
    assert source_login(client, codename).status_code == 303

    offset["by"] = timedelta(minutes=29)
    assert client.get("/inbox", base_url=BASE_URL).status_code == 200
    # Activity restarts the idle timer: 31 minutes after the last page, not the login.
    offset["by"] = timedelta(minutes=29 + 31)
    expired = client.get("/inbox", base_url=BASE_URL)

    assert expired.status_code == 302
    assert expired.headers["Location"] == "/login"


def test_a_staff_session_ends_after_15_idle_minutes(client, adviser, monkeypatch):
    offset = shift_clock(monkeypatch)
    login_staff(client, adviser)

    offset["by"] = timedelta(minutes=14)
    assert client.get("/adviser/", base_url=BASE_URL).status_code == 200
    offset["by"] = timedelta(minutes=14 + 16)
    expired = client.get("/adviser/", base_url=BASE_URL)

    assert expired.status_code == 302
    assert expired.headers["Location"] == "/staff/login"


def close_all(app) -> None:
    with app.app_context():
        db.session.execute(update(Observation).values(state=State.CLOSED))
        db.session.commit()


def test_a_closed_observation_takes_no_more_messages(app, client, adviser):
    submit_observation(client, what="Dealt with and closed.")
    old_tab = client.get("/inbox", base_url=BASE_URL)
    ref = inbox_ref(old_tab)
    close_all(app)

    inbox = client.get("/inbox", base_url=BASE_URL)
    response = client.post(
        f"/inbox/{ref}/reply",
        data={"csrf_token": csrf_from(old_tab), "text": "One more thing, from an old tab."},
        base_url=BASE_URL,
    )

    assert b"Closed" in inbox.data
    assert f'action="/inbox/{ref}/reply"'.encode() not in inbox.data
    assert response.status_code == 400
    assert message_count(app) == 0


def test_a_message_to_a_closed_observation_is_explained_and_kept(app, client, adviser):
    submit_observation(client, what="Closed while a tab was open.")
    page = client.get("/inbox", base_url=BASE_URL)
    ref = inbox_ref(page)
    close_all(app)

    response = client.post(
        f"/inbox/{ref}/reply",
        data={"csrf_token": csrf_from(page), "text": "Typed in the old tab."},
        base_url=BASE_URL,
    )

    assert b"This observation is closed; it takes no more messages." in response.data
    assert b"Typed in the old tab." in response.data


def test_the_codename_field_is_not_remembered_capitalised_or_spell_checked(client):
    page = client.get("/login", base_url=BASE_URL)

    field = re.search(rb'<input[^>]*name="codename"[^>]*>', page.data).group(0).decode()
    for attribute in (
        'autocomplete="off"',
        'autocapitalize="none"',
        'autocorrect="off"',
        'spellcheck="false"',
    ):
        assert attribute in field
