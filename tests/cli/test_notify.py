"""`dissent notify` against a real SMTP server, on a controlled clock: each kind once, to
the right people, one digest per person, never a word of what was written; failures kept
and tried again after a pause; two runs at once never send a digest twice."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask_babel import force_locale
from sqlalchemy import select

from dissent.app import create_app
from dissent.cli import cli
from dissent.cli.notify import deliver
from dissent.extensions import current_context, db
from dissent.models import Category, Consent, Mission, Observation, ResponseKind, Role, StaffUser
from dissent.services import accounts, leadership, outbox
from dissent.web.templating import site_name
from tests.helpers.cli import CLEAN_ENV
from tests.helpers.files import store_file, upload
from tests.helpers.instances import run_in, run_without_mail
from tests.helpers.notify import address_of, days_after_receipt, give_address, rows
from tests.helpers.pages import BASE_URL
from tests.helpers.services import acknowledge, escalate, file_case, revise
from tests.helpers.smtp import mail_config
from tests.helpers.source import submit_observation
from tests.helpers.staff import login_staff

# Words of the observation, its mission and its category that no mail may contain.
WHAT = "Quartermaster Brightwater falsified diesel ledgers near Kandahar CANARY-WHAT-7Q2"
MISSION_NAME = "Zephyr Training Mission CANARY-MISSION-5K9"
TIME_OF_DAY = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
# A file a source adds later: its name and its words must stay out of every mail too.
FILE_NAME = "Brightwater-diesel-ledger-CANARY-FILE-3M8.txt"
FILE_CONTENT = b"Ledger page 14, signed by Quartermaster Brightwater: CANARY-CONTENT-8J4"
FILE_WORDS = ["Brightwater-diesel-ledger", "CANARY-FILE-3M8", "CANARY-CONTENT-8J4", "Ledger"]
NEWS_FROM_THE_SOURCE = (
    "- 1 case with news from the source (a message, a file or an answer to a proposal)"
)


@pytest.fixture
def config(config, mail_server):
    return {**config, **mail_config(mail_server)}


@pytest.fixture
def zephyr(app) -> Mission:
    with app.app_context(), db.unit():
        return accounts.create_mission(db.session, slug="zephyr", name=MISSION_NAME)


@pytest.fixture
def team(app, zephyr, make_staff):
    """Two advisers and a leader of the mission, each with a mail address."""
    people = {
        "first": make_staff(Role.ADVISER, missions=["zephyr"]),
        "second": make_staff(Role.ADVISER, missions=["zephyr"]),
        "leader": make_staff(Role.LEADERSHIP, missions=["zephyr"]),
    }
    for login in people.values():
        give_address(app, login)
    return people


def run_at(app, now: datetime, **options):
    with app.app_context():
        return deliver(now=now, **options)


def forbidden_words(app, observation_id: int) -> list[str]:
    """Return what a mail about this observation must never contain."""
    with app.app_context():
        observation = db.session.get(Observation, observation_id)
        usernames = list(db.session.scalars(select(StaffUser.username)))
        words = [w for w in WHAT.split() if len(w) > 5]
        return [
            *words,
            *MISSION_NAME.split()[0:1],
            "CANARY-MISSION-5K9",
            "zephyr",
            "ZEPHYR-0001",
            "Safety and security",
            "safety_security",
            observation.ref,
            observation.mail_ref,
            *usernames,
        ]


def assert_content_free(mail, forbidden: list[str]) -> None:
    text = mail.text
    for word in forbidden:
        assert word.lower() not in text.lower(), word
        assert word.encode() not in mail.raw, word
        assert word.lower() not in str(mail.message["Subject"]).lower(), word
    assert not TIME_OF_DAY.search(text), text


def lines_of(mail) -> list[str]:
    return [line for line in mail.text.splitlines() if line.startswith("- ")]


# --- what is sent, to whom, once --------------------------------------------------------------


def test_a_new_observation_reaches_each_adviser_once_without_a_word_of_it(
    app, zephyr, team, mail_server
):
    case = file_case(app, zephyr.id, what=WHAT, category=Category.SAFETY_SECURITY)
    now = datetime.now(UTC)

    outcome = run_at(app, now)
    again = run_at(app, now + timedelta(minutes=30))

    assert (outcome.sent, outcome.problem, again.sent) == (2, None, 0)
    leader = address_of(team["leader"])
    assert mail_server.to(leader) == []
    forbidden = forbidden_words(app, case.observation_id)
    for who in ("first", "second"):
        [mail] = mail_server.to(address_of(team[who]))
        assert lines_of(mail) == ["- 1 new observation in your missions"]
        assert f"{BASE_URL}/staff/login" in mail.text
        assert mail.message["From"] == "dissent@example.org"
        assert_content_free(mail, forbidden)


def test_one_digest_per_person_counts_what_waits(app, zephyr, team, mail_server):
    for _ in range(3):
        file_case(app, zephyr.id, what=WHAT)

    run_at(app, datetime.now(UTC))

    [mail] = mail_server.to(address_of(team["first"]))
    assert lines_of(mail) == ["- 3 new observations in your missions"]
    assert len(mail_server.all()) == 2  # one each for the two advisers


def test_reminders_follow_the_clock_and_each_is_sent_once(app, zephyr, team, mail_server):
    case = file_case(app, zephyr.id, what=WHAT)
    first = address_of(team["first"])
    run_at(app, days_after_receipt(app, case.observation_id, 0))

    for day in (5, 5, 6, 8, 9):
        run_at(app, days_after_receipt(app, case.observation_id, day))

    assert [lines_of(m) for m in mail_server.to(first)] == [
        ["- 1 new observation in your missions"],
        ["- 1 observation to acknowledge within 2 days"],
        ["- 1 observation not acknowledged in time"],
    ]


def test_an_escalation_reaches_its_leader_and_the_response_the_adviser_who_has_the_case(
    app, zephyr, team, mail_server
):
    case = file_case(app, zephyr.id, what=WHAT, consent=Consent.SUMMARY_ALLOWED)
    acknowledge(app, case, team["first"])
    run_at(app, datetime.now(UTC))  # the new observation, to both advisers
    mail_server.received.clear()
    escalation_id = escalate(
        app, case, adviser=team["first"], leaders=[team["leader"]], summary="CANARY-SUMMARY"
    )

    run_at(app, datetime.now(UTC) + timedelta(minutes=30))
    with app.app_context(), db.unit():
        leadership.respond(
            db.session,
            current_context(),
            staff=db.session.get(StaffUser, team["leader"].id),
            escalation=db.session.get(leadership.Escalation, escalation_id),
            kind=ResponseKind.ACTION_TAKEN,
            text="CANARY-RESPONSE",
        )
    run_at(app, datetime.now(UTC) + timedelta(minutes=60))

    forbidden = [*forbidden_words(app, case.observation_id), "CANARY-SUMMARY", "CANARY-RESPONSE"]
    [to_leader] = mail_server.to(address_of(team["leader"]))
    assert lines_of(to_leader) == ["- 1 escalation awaiting your acknowledgement"]
    [to_adviser] = mail_server.to(address_of(team["first"]))
    assert lines_of(to_adviser) == ["- 1 response from leadership to an escalation"]
    assert mail_server.to(address_of(team["second"])) == []  # the case is first's
    for mail in (to_leader, to_adviser):
        assert_content_free(mail, forbidden)


def test_a_new_version_of_an_escalation_reaches_its_leader_without_a_word_of_it(
    app, zephyr, team, mail_server
):
    case = file_case(app, zephyr.id, what=WHAT, consent=Consent.SUMMARY_ALLOWED)
    acknowledge(app, case, team["first"])
    escalation_id = escalate(
        app, case, adviser=team["first"], leaders=[team["leader"]], summary="CANARY-SUMMARY"
    )
    run_at(app, datetime.now(UTC))
    mail_server.received.clear()

    revise(app, team["first"], escalation_id, "CANARY-REVISED corrected figures")
    run_at(app, datetime.now(UTC) + timedelta(minutes=30))

    [mail] = mail_server.all()
    assert mail.recipients == (address_of(team["leader"]),)
    assert lines_of(mail) == ["- 1 escalation with a new version of its summary"]
    forbidden = [*forbidden_words(app, case.observation_id), "CANARY-SUMMARY", "CANARY-REVISED"]
    assert_content_free(mail, forbidden)


def test_a_file_the_source_adds_reaches_the_advisers_without_its_name_or_content(
    app, zephyr, team, mail_server
):
    case = file_case(app, zephyr.id, what=WHAT)
    run_at(app, datetime.now(UTC))  # the new observation
    mail_server.received.clear()

    store_file(app, case.observation_id, FILE_CONTENT, FILE_NAME)
    run_at(app, datetime.now(UTC) + timedelta(minutes=30))

    forbidden = [*forbidden_words(app, case.observation_id), *FILE_WORDS]
    for who in ("first", "second"):
        [mail] = mail_server.to(address_of(team[who]))
        assert lines_of(mail) == [NEWS_FROM_THE_SOURCE]
        assert_content_free(mail, forbidden)
    assert mail_server.to(address_of(team["leader"])) == []


def test_a_digest_is_in_its_readers_language(app, zephyr, team, mail_server):
    give_address(app, team["second"], language="nl")
    file_case(app, zephyr.id)

    run_at(app, datetime.now(UTC))

    [dutch] = mail_server.to(address_of(team["second"]))
    [english] = mail_server.to(address_of(team["first"]))
    with app.app_context():
        with force_locale("nl"):
            dutch_site = site_name()
        with force_locale("en"):
            english_site = site_name()
    assert dutch_site != english_site  # the catalogue has the channel's name in Dutch
    assert str(dutch.message["Subject"]).startswith(f"{dutch_site}:")
    assert str(english.message["Subject"]).startswith(f"{english_site}:")


def test_references_name_the_case_by_its_mail_reference_only_when_turned_on(
    app, zephyr, team, mail_server, config
):
    case = file_case(app, zephyr.id, what=WHAT)
    with app.app_context():
        observation = db.session.get(Observation, case.observation_id)
        mail_ref, ref = observation.mail_ref, observation.ref
    named = create_app({**config, "NOTIFY_REFERENCES": True})
    try:
        run_at(named, datetime.now(UTC))
    finally:
        db.engine(named).dispose()

    [mail] = mail_server.to(address_of(team["first"]))
    assert lines_of(mail) == [f"- 1 new observation in your missions ({mail_ref})"]
    assert ref not in mail.text and mail_ref != ref


def test_the_case_page_shows_its_mail_reference_only_when_mails_name_cases(
    app, zephyr, team, config
):
    case = file_case(app, zephyr.id, what=WHAT)
    with app.app_context():
        mail_ref = db.session.get(Observation, case.observation_id).mail_ref
    named = create_app({**config, "NOTIFY_REFERENCES": True})
    pages = {}
    try:
        for name, instance, who in (("plain", app, "first"), ("named", named, "second")):
            browser = instance.test_client()
            login_staff(browser, team[who])
            pages[name] = browser.get(f"/adviser/o/{case.ref}", base_url=BASE_URL)
    finally:
        db.engine(named).dispose()

    assert pages["plain"].status_code == pages["named"].status_code == 200
    assert mail_ref not in pages["plain"].get_data(as_text=True)
    assert f"Named {mail_ref} in notification mails." in pages["named"].get_data(as_text=True)


# --- failures, retries and overlapping runs ---------------------------------------------------


def test_a_server_that_is_down_keeps_the_digest_for_a_later_run_after_a_pause(
    app, zephyr, team, mail_server
):
    file_case(app, zephyr.id, what=WHAT)
    mail_server.stop()
    now = datetime.now(UTC)

    failed = run_at(app, now)
    mail_server.start()
    too_soon = run_at(app, now + timedelta(minutes=10))
    tried_too_soon = mail_server.to(address_of(team["first"]))
    later = run_at(app, now + timedelta(minutes=30))
    after = run_at(app, now + timedelta(minutes=60))

    # The run stopped at the first failure (the first adviser's digest); the second's
    # was never tried, and goes at the next run. The first waits out its pause.
    assert (failed.sent, failed.failed, failed.problem) == (0, 1, "unreachable")
    assert too_soon.sent == 1 and tried_too_soon == []
    assert later.sent == 1 and after.sent == 0
    for who in ("first", "second"):
        assert len(mail_server.to(address_of(team[who]))) == 1
    with app.app_context():
        state = outbox.state(db.session)
    assert state.queued == 0
    assert state.last_problem == "unreachable"
    assert state.last_success_at is not None and state.last_success_at > state.last_failure_at


def test_a_refused_digest_does_not_hold_up_the_others(app, zephyr, team, mail_server):
    mail_server.unknown.add(address_of(team["first"]))
    file_case(app, zephyr.id)

    outcome = run_at(app, datetime.now(UTC))

    assert (outcome.sent, outcome.failed, outcome.problem) == (1, 1, "refused")
    assert [m.recipients for m in mail_server.all()] == [(address_of(team["second"]),)]
    assert {row[0] for row in rows(app, pending=True)} == {team["first"].id}


def test_two_runs_at_once_send_each_digest_once(app, zephyr, team, make_staff, mail_server):
    more = [make_staff(Role.ADVISER, missions=["zephyr"]) for _ in range(3)]
    for login in more:
        give_address(app, login)
    file_case(app, zephyr.id)
    mail_server.delay = 0.3  # each mail takes a while: the runs overlap
    now = datetime.now(UTC)
    outcomes = []
    start = threading.Barrier(2)

    def one_run():
        start.wait()
        outcomes.append(run_at(app, now))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    advisers = [team["first"], team["second"], *more]
    assert sorted(len(mail_server.to(address_of(a))) for a in advisers) == [1] * 5
    assert sum(o.sent for o in outcomes) == 5
    assert all(o.problem is None for o in outcomes)


def test_requests_only_write_rows_and_never_wait_on_the_mail_server(
    app, zephyr, team, mail_server, new_client, monkeypatch
):
    mail_server.stop()
    opened = []

    def no_connection(*args, **kwargs):
        opened.append(args)
        raise OSError("no mail server during a request")

    monkeypatch.setattr("smtplib.SMTP.__init__", no_connection)
    source = new_client()

    codename = submit_observation(source, what=WHAT, mission=str(zephyr.id))

    assert codename
    assert opened == []
    assert {row[0] for row in rows(app)} == {team["first"].id, team["second"].id}


# --- the command ------------------------------------------------------------------------------


def test_the_command_sends_and_says_how_many(app, zephyr, team, mail_server):
    file_case(app, zephyr.id)

    result = run_in(app, "notify")

    assert result.exit_code == 0, result.output
    assert "2 digest(s) sent" in result.output
    assert len(mail_server.all()) == 2


def test_the_command_fails_when_a_digest_could_not_be_sent(app, zephyr, team, mail_server):
    file_case(app, zephyr.id)
    mail_server.stop()

    result = run_in(app, "notify")

    assert result.exit_code == 1
    assert "not sent (unreachable)" in result.output
    assert "example.org" not in result.output  # no address in the output


def test_without_a_mail_server_the_command_says_notifications_are_off(config):
    result = run_without_mail(config, "notify")

    assert result.exit_code == 1
    assert "DISSENT_SMTP_URL" in result.output


@pytest.mark.sqlite_only
@pytest.mark.slow
def test_the_demo_instance_mails_its_adviser_after_a_source_files(tmp_path, mail_server):
    path = tmp_path / "demo"
    env = {**CLEAN_ENV, "DISSENT_INSTANCE": str(path)}
    made = CliRunner().invoke(cli, ["demo", "--no-serve", "--instance", str(path)], env=env)
    assert made.exit_code == 0, made.output
    demo = create_app({"INSTANCE_PATH": str(path)})
    source = demo.test_client()
    mail_env = {**env, "DISSENT_SMTP_URL": f"smtp://127.0.0.1:{mail_server.port}"}
    try:
        submit_observation(source, what=WHAT)
        result = CliRunner().invoke(cli, ["notify"], env=mail_env)
        # The source comes back with a file; the next run tells the adviser of that too.
        with demo.app_context():
            ref = db.session.scalar(select(Observation.ref))
        uploaded = upload(
            source, f"/inbox/{ref}/attachments", FILE_CONTENT, FILE_NAME, token_page="/inbox"
        )
        later = CliRunner().invoke(cli, ["notify"], env=mail_env)
    finally:
        db.engine(demo).dispose()

    assert result.exit_code == 0, result.output
    assert uploaded.status_code == 303
    assert later.exit_code == 0, later.output
    [mail, news] = mail_server.to("adviser@demo.invalid")
    assert mail.message["From"] == "dissent@demo.invalid"
    for word in WHAT.split():
        assert word.lower() not in mail.text.lower()
    assert lines_of(mail) == ["- 1 new observation in your missions"]
    assert lines_of(news) == [NEWS_FROM_THE_SOURCE]
    for word in [*WHAT.split(), *FILE_WORDS]:
        assert word.lower() not in news.text.lower(), word
        assert word.encode() not in news.raw, word
    assert mail_server.to("leader@demo.invalid") == []
