"""Filing an observation: validation, atomicity, replays, the codename, who can read it."""

from __future__ import annotations

import html
import logging
import re
from datetime import timedelta

import pytest
from flask_babel import force_locale, format_date
from sqlalchemy import select

from dissent.crypto import DecryptionError, generate_identity, identity_from_secret, unwrap_identity
from dissent.crypto.codename import CODENAME_WORDS, codename_wordlist, derive_source_keys
from dissent.extensions import current_context, db
from dissent.models import Message, Observation, Role, Source, StaffUser, today
from dissent.models.mission import DEFAULT_ACK_DAYS, DEFAULT_FEEDBACK_MONTHS
from dissent.security.session_store import RedisSessionStore
from dissent.security.sessions import SOURCE_COOKIE
from dissent.services import accounts, conversation, submission
from dissent.services.content import open_document
from dissent.services.deadlines import add_months
from dissent.services.submission import WHAT_MAX, WHERE_MAX
from tests.helpers.outage import REDIS_URL, RedisRelay, flaky_store
from tests.helpers.pages import (
    BASE_URL,
    count,
    csrf_from,
    field_errors,
    form_fields,
    input_value,
    text_of,
    textarea_value,
)
from tests.helpers.proposals import pass_on, propose
from tests.helpers.source import (
    form_data,
    mission_choices,
    post_submission,
    shown_codename,
    source_login,
    source_reply,
    submit_observation,
)
from tests.helpers.staff import PASSWORD, adviser_keys

NO_MISSION = b"No mission can take observations yet"
BUSY = "The service is busy for a moment. Nothing you typed was stored yet."
EXPIRED = b"This form has expired"
EXPLAINED = b"This observation was already received"


# --- helpers shared with the staff tests ------------------------------------------------------


def checked_value(response, name: str) -> str | None:
    """Return the value of the checked radio button of a group."""
    for tag in re.findall(rf'<input[^>]*name="{name}"[^>]*>'.encode(), response.data):
        if b"checked" in tag:
            return re.search(rb'value="([^"]*)"', tag).group(1).decode()
    return None


# --- validation: a message next to the field, the typed text kept, nothing saved ---------------


def assert_nothing_saved(app) -> None:
    assert count(app, Observation) == 0
    assert count(app, Source) == 0


def test_missing_what_is_asked_for_and_the_other_answers_are_kept(app, client, adviser):
    response = post_submission(
        client, what="   ", where="Northern region", official_report="Annual figures"
    )

    assert response.status_code == 400
    assert field_errors(response, "what") == ["Describe what you observed."]
    assert b"Nothing was saved yet" in response.data
    assert input_value(response, "where") == "Northern region"
    assert input_value(response, "official_report") == "Annual figures"
    assert checked_value(response, "category") == "reporting_accuracy"
    assert checked_value(response, "contradicts") == "yes"
    assert_nothing_saved(app)


def test_what_over_the_limit_is_refused_and_the_whole_text_kept(app, client, adviser):
    text = "Figures were changed. " + "x" * (WHAT_MAX + 1 - len("Figures were changed. "))
    assert len(text) == WHAT_MAX + 1

    response = post_submission(client, what=text)

    assert response.status_code == 400
    assert field_errors(response, "what") == [f"At most {WHAT_MAX} characters."]
    assert textarea_value(response, "what") == text
    assert_nothing_saved(app)


def test_what_at_the_limit_is_accepted(app, client, adviser):
    response = post_submission(client, what="y" * WHAT_MAX)

    assert response.status_code == 200
    assert shown_codename(response)
    assert count(app, Observation) == 1


def test_what_as_long_as_the_browser_allows_is_accepted(app, client, adviser):
    # 19,990 letters and 10 line breaks: 20,000 characters in the browser's count.
    text = ("z" * 1999 + "\r\n") * 10
    assert len(text.replace("\r\n", "\n")) == WHAT_MAX

    response = post_submission(client, what=text)

    assert response.status_code == 200, field_errors(response, "what")


def test_where_over_the_limit_is_refused_and_kept(app, client, adviser):
    where = "w" * (WHERE_MAX + 1)

    response = post_submission(client, where=where, what="Kept text of the observation.")

    assert response.status_code == 400
    assert field_errors(response, "where") == [f"At most {WHERE_MAX} characters."]
    assert input_value(response, "where") == where
    assert textarea_value(response, "what") == "Kept text of the observation."
    assert_nothing_saved(app)


@pytest.mark.parametrize("mission_id", ["9999", "abc", ""])
def test_unknown_mission_gets_a_message_not_an_error_page(app, client, adviser, mission_id):
    response = post_submission(client, mission=mission_id, what="Kept despite the bad mission.")

    assert response.status_code == 400
    assert field_errors(response, "mission"), response.data.decode()[:3000]
    assert textarea_value(response, "what") == "Kept despite the bad mission."
    assert_nothing_saved(app)


def test_category_not_in_the_list_is_refused(app, client, adviser):
    response = post_submission(client, category="gossip", what="Kept with a bad category.")

    assert response.status_code == 400
    assert field_errors(response, "category")
    assert textarea_value(response, "what") == "Kept with a bad category."
    assert_nothing_saved(app)


def test_missing_category_asks_what_it_is_about(app, client, adviser):
    page = client.get("/submit", base_url=BASE_URL)
    data = form_data(page)
    del data["category"]

    response = client.post("/submit", data=data, base_url=BASE_URL)

    assert response.status_code == 400
    assert field_errors(response, "category") == ["Choose what your observation is about."]
    assert_nothing_saved(app)


@pytest.mark.parametrize("consent", ["always", ""])
def test_invalid_consent_is_refused(app, client, adviser, consent):
    response = post_submission(client, consent=consent, what="Kept with a bad consent.")

    assert response.status_code == 400
    assert field_errors(response, "consent")
    assert textarea_value(response, "what") == "Kept with a bad consent."
    assert_nothing_saved(app)


def test_a_failure_while_saving_leaves_no_half_record(app, client, adviser, monkeypatch):
    first = submit_observation(client, what="The first observation.")
    assert first
    with app.app_context():
        taken = db.session.scalar(select(Observation.ref))
    # The second observation collides on its reference, so its insert fails after the
    # source row was written in the same transaction.
    monkeypatch.setattr("dissent.services.submission.new_ref", lambda: taken)
    other = app.test_client()

    response = post_submission(other, what="The second observation.")

    assert response.status_code != 200
    assert count(app, Observation) == 1
    assert count(app, Source) == 1
    assert b'id="codename"' not in response.data


def test_untouched_fields_are_not_announced_as_invalid(client, adviser):
    page = client.get("/submit", base_url=BASE_URL)

    assert b'aria-invalid="None"' not in page.data
    assert b'aria-describedby="None"' not in page.data


# --- which missions are offered ---------------------------------------------------------------


def test_one_mission_is_not_offered_as_a_choice(client, adviser):
    page = client.get("/submit", base_url=BASE_URL)

    assert not re.search(rb'<select[^>]*name="mission"', page.data)
    assert b"<strong>EUPOL Test Mission</strong>" in page.data
    assert len(mission_choices(page)) == 1


def test_two_missions_are_offered_as_a_choice(app, client, make_staff, mission):
    make_staff(Role.ADVISER)
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="eutm", name="EUTM Training Mission")
    make_staff(Role.ADVISER, missions=["eutm"])

    page = client.get("/submit", base_url=BASE_URL)

    assert re.search(rb'<select[^>]*name="mission"', page.data)
    assert b"EUTM Training Mission" in page.data
    assert b"EUPOL Test Mission" in page.data
    assert len(mission_choices(page)) == 2


def test_a_mission_without_an_enrolled_adviser_is_not_offered(app, client, make_staff, mission):
    make_staff(Role.ADVISER)
    with app.app_context(), db.unit():
        other = accounts.create_mission(db.session, slug="eutm", name="EUTM Training Mission")
        # An adviser who has not enrolled has no key: nobody could read the observation.
        accounts.create_account(
            db.session, username="pending", role=Role.ADVISER, mission_slugs=["eutm"]
        )
        other_id = other.id
    # Leaders cannot read observations either.
    make_staff(Role.LEADERSHIP, missions=["eutm"])

    page = client.get("/submit", base_url=BASE_URL)

    assert b"EUTM Training Mission" not in page.data
    assert mission_choices(page) != [str(other_id)]
    response = post_submission(client, mission=str(other_id))
    assert response.status_code == 400
    assert field_errors(response, "mission")
    assert count(app, Observation) == 0


def test_without_any_open_mission_the_page_says_so(app, client, mission):
    page = client.get("/submit", base_url=BASE_URL)

    assert page.status_code == 200
    assert NO_MISSION in page.data
    assert b'name="what"' not in page.data
    assert b'href="/channels"' in page.data


def test_a_mission_whose_only_adviser_left_is_not_offered(app, client, adviser):
    with app.app_context(), db.unit():
        accounts.set_active(db.session, staff_id=adviser.id, active=False)

    page = client.get("/submit", base_url=BASE_URL)

    assert NO_MISSION in page.data


# --- double clicks and replays ----------------------------------------------------------------


def test_a_double_clicked_submit_creates_one_observation_with_one_codename(app, client, adviser):
    page = client.get("/submit", base_url=BASE_URL)
    data = form_data(page, what="Submitted twice by a nervous double click.")

    first = client.post("/submit", data=data, base_url=BASE_URL)
    second = client.post("/submit", data=data, base_url=BASE_URL)

    assert first.status_code == second.status_code == 200
    assert shown_codename(first) == shown_codename(second)
    assert count(app, Observation) == 1
    assert count(app, Source) == 1


def test_a_real_double_click_sends_both_requests_with_the_old_cookie(app, client, adviser):
    page = client.get("/submit", base_url=BASE_URL)
    data = form_data(page, what="Both requests left before the first answer came back.")
    old_cookie = client.get_cookie(SOURCE_COOKIE).value

    first = client.post("/submit", data=data, base_url=BASE_URL)
    client.set_cookie(SOURCE_COOKIE, old_cookie, domain="localhost")
    second = client.post("/submit", data=data, base_url=BASE_URL)

    assert count(app, Observation) == 1
    assert first.status_code == 200
    # The browser shows the answer to the second request: the same codename.
    assert second.status_code == 200, second.data.decode()[:2000]
    assert shown_codename(first) == shown_codename(second)


def test_a_replay_after_the_codename_was_confirmed_creates_nothing(app, client, adviser):
    page = client.get("/submit", base_url=BASE_URL)
    data = form_data(page, what="Submitted, then replayed from history.")
    client.post("/submit", data=data, base_url=BASE_URL)
    codename_page = client.get("/submit/codename", base_url=BASE_URL)
    client.post(
        "/submit/codename",
        data={"csrf_token": csrf_from(codename_page), "saved": "y"},
        base_url=BASE_URL,
    )

    response = client.post("/submit", data=data, base_url=BASE_URL)

    assert_clear_refusal(response)
    assert count(app, Observation) == 1


def assert_clear_refusal(response) -> None:
    """A replay is refused with a page that says why, shows no codename and is no 500."""
    assert 400 <= response.status_code < 500
    assert EXPLAINED in response.data or EXPIRED in response.data, response.data.decode()[:3000]
    assert b'id="codename"' not in response.data


@pytest.mark.parametrize("own_csrf", [True, False], ids=["own-csrf", "replayed-csrf"])
def test_a_replay_from_another_browser_creates_nothing(app, new_client, adviser, own_csrf):
    original = new_client()
    page = original.get("/submit", base_url=BASE_URL)
    data = form_data(page, what="Typed in the first browser.")
    assert original.post("/submit", data=data, base_url=BASE_URL).status_code == 200

    other = new_client()
    other_page = other.get("/submit", base_url=BASE_URL)
    if own_csrf:
        data = {**data, "csrf_token": csrf_from(other_page)}
    response = other.post("/submit", data=data, base_url=BASE_URL)

    assert_clear_refusal(response)
    assert count(app, Observation) == 1
    assert count(app, Source) == 1
    # The other browser is not logged in as the source.
    assert other.get("/inbox", base_url=BASE_URL).status_code == 302


def test_a_form_from_another_browser_that_was_never_sent_is_kept(app, new_client, adviser):
    original = new_client()
    data = form_data(original.get("/submit", base_url=BASE_URL), what="Never sent from here.")
    other = new_client()
    data["csrf_token"] = csrf_from(other.get("/submit", base_url=BASE_URL))

    response = other.post("/submit", data=data, base_url=BASE_URL)

    assert response.status_code == 400
    assert EXPIRED in response.data
    assert textarea_value(response, "what") == "Never sent from here."
    assert_nothing_saved(app)


# --- the codename page ------------------------------------------------------------------------


def test_the_codename_is_seven_list_words_and_must_be_confirmed(app, client, adviser):
    page = post_submission(client)
    codename = shown_codename(page)

    words = codename.split(" ")
    assert len(words) == CODENAME_WORDS == 7
    assert set(words) <= set(codename_wordlist())
    unticked = client.post(
        "/submit/codename", data={"csrf_token": csrf_from(page)}, base_url=BASE_URL
    )
    assert unticked.status_code in {200, 400}
    assert field_errors(unticked, "saved") == ["Please confirm that you wrote it down."]
    assert shown_codename(unticked) == codename
    # Still shown until confirmed.
    assert shown_codename(client.get("/submit/codename", base_url=BASE_URL)) == codename


def test_after_confirming_the_codename_is_shown_nowhere(app, client, adviser):
    page = post_submission(client, what="An observation whose codename is then hidden.")
    codename = shown_codename(page)

    confirmed = client.post(
        "/submit/codename", data={"csrf_token": csrf_from(page), "saved": "y"}, base_url=BASE_URL
    )

    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == "/inbox"
    again = client.get("/submit/codename", base_url=BASE_URL)
    assert again.status_code == 302
    assert again.headers["Location"] == "/inbox"
    inbox = client.get("/inbox", base_url=BASE_URL)
    assert b"An observation whose codename is then hidden." in inbox.data
    for path in ("/inbox", "/submit", "/", "/login"):
        assert codename.encode() not in client.get(path, base_url=BASE_URL).data, path


def test_two_forms_get_different_codenames(client, new_client, adviser):
    first = submit_observation(new_client(), what="One.")
    second = submit_observation(new_client(), what="Two.")

    assert first != second


# --- invariant 4: readable by at least two independent key holders ----------------------------


def test_the_observation_opens_for_recovery_adviser_and_source(
    app, client, adviser, recovery_identity
):
    canary = "canary-7f3a9 the literacy figures were changed"
    codename = submit_observation(client, what=canary, where="Capital district")
    settings = app.extensions["dissent.settings"]
    with app.app_context():
        content = db.session.scalars(select(Observation.content)).one()
        wrapped = db.session.get(StaffUser, adviser.id).wrapped_identity
    adviser_identity = unwrap_identity(wrapped, passphrase=PASSWORD)
    keys = derive_source_keys(codename, salt=settings.source_salt, params=settings.kdf_params)
    source_identity = identity_from_secret(keys.identity_seed, kind=settings.key_kind)

    for holder in (recovery_identity, adviser_identity, source_identity):
        document = open_document(content, identities=[holder])
        assert document["what"] == canary
        assert document["where"] == "Capital district"
    assert canary.encode() not in content
    with pytest.raises(DecryptionError):
        open_document(content, identities=[generate_identity(settings.key_kind)])


# --- the session store (Redis) down: nothing typed is lost, and it comes back by itself ------


class StandInOutage:
    """The app's session store on a Redis stand-in that goes down on request."""

    def __init__(self, app) -> None:
        self.backend = flaky_store(app)

    def down(self) -> None:
        self.backend.down = True

    def refuse_writes(self) -> None:
        self.backend.refusing_writes = True

    def up(self) -> None:
        self.backend.down = self.backend.refusing_writes = False

    def close(self) -> None:
        pass


class RealRedisOutage:
    """The app's session store on the real Redis, through a relay that can be cut."""

    def __init__(self, app) -> None:
        self.relay = RedisRelay(REDIS_URL)
        self.store = RedisSessionStore(self.relay.url)
        app.session_interface.store = self.store

    def down(self) -> None:
        self.relay.cut()

    def up(self) -> None:
        self.relay.restore()

    def close(self) -> None:
        self.relay.cut()
        self.store._redis.close()


@pytest.fixture(params=["stand-in", "real-redis"])
def outage(request, app):
    if request.param == "real-redis" and not REDIS_URL:
        pytest.skip("DISSENT_TEST_REDIS_URL is not set (CI sets it; .ci/run)")
    made = StandInOutage(app) if request.param == "stand-in" else RealRedisOutage(app)
    yield made
    made.close()


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


TYPED = {
    "what": 'Figures were "rounded" <up> & doubled.\nSecond line: é — ü.',
    "where": "North region",
    "official_report": "Q3 progress report, table 2",
}


def test_with_the_session_store_down_pages_without_a_session_still_work(client, adviser, outage):
    client.get("/submit", base_url=BASE_URL)  # the browser holds a session cookie
    outage.down()

    for path in ("/", "/anonymity", "/healthz", "/static/style.css"):
        response = client.get(path, base_url=BASE_URL)
        assert response.status_code == 200, path
        response.close()


def test_with_the_session_store_down_the_form_is_busy_and_shows_back_what_was_typed(
    app, client, adviser, outage
):
    page = client.get("/submit", base_url=BASE_URL)
    outage.down()

    busy = client.get("/submit", base_url=BASE_URL)
    sent = client.post("/submit", data=form_data(page, **TYPED), base_url=BASE_URL)

    assert busy.status_code == 503  # the form needs a session to file it once
    assert BUSY in page_text(busy)
    assert sent.status_code == 503
    assert BUSY in page_text(sent)
    for name, value in TYPED.items():
        assert value in page_text(sent), name
    assert_nothing_saved(app)
    outage.up()
    # The same browser files it once the store is back: no restart, nothing to clear.
    assert shown_codename(post_submission(client, **TYPED))
    assert count(app, Observation) == 1


def test_a_form_sent_by_a_browser_without_a_session_is_shown_back_too(
    app, client, new_client, adviser, outage
):
    data = form_data(client.get("/submit", base_url=BASE_URL), **TYPED)
    outage.down()

    sent = new_client().post("/submit", data=data, base_url=BASE_URL)

    # Its token is not this browser's: refused as expired, without asking the store.
    assert sent.status_code == 400
    assert EXPIRED in sent.data
    assert TYPED["what"] in page_text(sent)
    assert_nothing_saved(app)


def test_with_the_session_store_down_a_reply_is_shown_back_not_lost(app, client, adviser, outage):
    submit_observation(client, what="The audit sample was hand-picked.")
    inbox = client.get("/inbox", base_url=BASE_URL)
    ref = re.search(rb'id="thread-([A-Z0-9]{4}-[A-Z0-9]{4})"', inbox.data).group(1).decode()
    messages = count(app, Message)
    outage.down()

    sent = client.post(
        f"/inbox/{ref}/reply",
        data={"csrf_token": csrf_from(inbox), "text": "One more thing: the <b>dates</b> too."},
        base_url=BASE_URL,
    )

    assert sent.status_code == 503
    assert "One more thing: the <b>dates</b> too." in page_text(sent)
    assert count(app, Message) == messages
    outage.up()
    assert source_reply(client, ref, "One more thing.").status_code == 303


def test_the_codename_is_shown_even_if_the_session_cannot_be_saved(
    app, client, new_client, adviser, caplog, monkeypatch
):
    outage = StandInOutage(app)
    page = client.get("/submit", base_url=BASE_URL)
    filing = submission.submit_observation

    def store_dies_while_filing(*args, **kwargs):
        # The store dies after the form was taken, before the session is saved.
        outage.refuse_writes()
        return filing(*args, **kwargs)

    monkeypatch.setattr(submission, "submit_observation", store_dies_while_filing)

    with caplog.at_level(logging.WARNING, logger="dissent"):
        shown = client.post(
            "/submit", data=form_data(page, what="Filed as Redis died."), base_url=BASE_URL
        )

    assert shown.status_code == 200
    codename = shown_codename(shown)
    assert count(app, Observation) == 1
    assert "SessionStoreUnavailable (from ConnectionError)" in caplog.text
    outage.up()
    # The session was not kept, so this browser is simply not logged in; the codename is.
    assert client.get("/inbox", base_url=BASE_URL).headers["Location"] == "/login"
    returning = new_client()
    assert source_login(returning, codename).status_code == 303
    assert b"Filed as Redis died." in returning.get("/inbox", base_url=BASE_URL).data


def _shown_day(day) -> str:
    with force_locale("en"):
        return format_date(day)


def test_the_codename_page_says_what_happens_next_and_by_when(app, client, adviser):
    ack_by = today() + timedelta(days=DEFAULT_ACK_DAYS)
    hear_by = add_months(ack_by, DEFAULT_FEEDBACK_MONTHS)

    page = post_submission(client, what="The audit was postponed twice.")

    text = text_of(page)
    assert page.status_code == 200 and "What happens next" in text
    with app.test_request_context():
        assert f"acknowledges it by {_shown_day(ack_by)}" in text
        assert f"By {_shown_day(hear_by)} at the latest you hear what was done" in text
    # Paper kept on the source, or memory: nothing on the page suggests printing it.
    assert "keep the paper on you, or learn the seven words by heart" in text
    assert "print" not in text.lower()


@pytest.mark.parametrize(("language", "own", "other"), [("nl", "nl", "en"), ("en", "en", "nl")])
def test_the_codename_is_in_the_words_of_the_page_s_language(
    app, client, adviser, language, own, other
):
    client.set_cookie("lang", language, domain="localhost")

    page = post_submission(client, what="Een melding in het Nederlands.")

    words = shown_codename(page).split(" ")
    assert page.status_code == 200
    assert len(words) == CODENAME_WORDS
    assert set(words) <= set(codename_wordlist(own))
    assert not set(words) & set(codename_wordlist(other))
    # And it opens the inbox, typed in capitals, from another browser.
    returning = app.test_client()
    assert source_login(returning, shown_codename(page).upper()).status_code == 303


def test_the_inbox_says_by_when_an_adviser_acknowledges_and_then_when_they_did(
    app, client, adviser
):
    submit_observation(client, what="The audit was postponed twice.")
    with app.test_request_context():
        ack_by = _shown_day(today() + timedelta(days=DEFAULT_ACK_DAYS))
        shown_today = _shown_day(today())

    before = text_of(client.get("/inbox", base_url=BASE_URL))
    with app.app_context(), db.unit():
        observation = db.session.scalar(select(Observation))
        user, _ = adviser_keys(adviser)
        conversation.acknowledge(db.session, current_context(), staff=user, observation=observation)
    after = text_of(client.get("/inbox", base_url=BASE_URL))

    assert f"an adviser acknowledges it by {ack_by}" in before
    assert "you hear what was done by" in before
    assert f"acknowledged on {shown_today}" in after
    assert "an adviser acknowledges it by" not in after


def test_a_source_can_log_out_plainly_and_is_told_so(app, client, adviser):
    submit_observation(client, what="The audit was postponed twice.")
    inbox = client.get("/inbox", base_url=BASE_URL)
    assert 'action="/logout"' in inbox.get_data(as_text=True)  # beside the inbox link

    response = client.post("/logout", data={"csrf_token": csrf_from(inbox)}, base_url=BASE_URL)

    assert response.status_code == 303
    assert response.headers["Location"] == "/login?logged_out=1"
    page = client.get(response.headers["Location"], base_url=BASE_URL)
    assert "You are logged out." in text_of(page)
    assert client.get("/inbox", base_url=BASE_URL).status_code in (302, 303)  # session gone


@pytest.mark.parametrize(("language", "jargon"), [("en", "escalat"), ("nl", "escala")])
def test_source_pages_say_pass_on_not_escalate(app, client, adviser, leader, language, jargon):
    """Every page a source sees, the whole way to a summary passed on, says "pass on"
    ("doorgeven"), never the staff word."""
    client.get(f"/lang/{language}", base_url=BASE_URL)
    information = ("/", "/after", "/anonymity", "/channels", "/login", "/submit")
    pages = [client.get(path, base_url=BASE_URL) for path in information]
    codename_page = post_submission(client, what="The audit was postponed twice.")
    pages.append(codename_page)
    client.post(
        "/submit/codename",
        data={"csrf_token": csrf_from(codename_page), "saved": "y"},
        base_url=BASE_URL,
    )
    proposal_id = propose(app, adviser)
    waiting = client.get("/inbox", base_url=BASE_URL)
    pages.append(waiting)
    answered = client.post(
        f"/inbox/proposals/{proposal_id}",
        data=form_fields(waiting, f"/inbox/proposals/{proposal_id}", decision="approve"),
        base_url=BASE_URL,
    )
    pages.append(client.get(answered.headers["Location"], base_url=BASE_URL))
    pass_on(app, adviser, leader)
    pages.append(client.get("/inbox", base_url=BASE_URL))
    pages.append(client.get("/leave", base_url=BASE_URL))

    assert "Passed on as" in text_of(pages[-2]) or "Doorgegeven als" in text_of(pages[-2])
    for page in pages:
        assert page.status_code == 200
        assert jargon not in text_of(page).lower(), page.request.path
