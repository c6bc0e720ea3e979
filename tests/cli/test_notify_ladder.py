"""`dissent notify` takes the ladder's steps: against a real SMTP server on a controlled
clock, oversight and the case's adviser are mailed once, after the limit and not before,
with no word of what was escalated; two runs at once take and mail a step once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from dissent.cli.notify import deliver
from dissent.extensions import db
from dissent.models import Escalation, today
from tests.helpers.instances import run_without_mail
from tests.helpers.ladder import days_after_sending, escalated_case, ladder_team, steps_of
from tests.helpers.notify import address_of
from tests.helpers.races import at_once
from tests.helpers.smtp import MailServer, mail_config

SUMMARY = "Quartermaster Brightwater falsified diesel ledgers CANARY-LADDER-8X1"
TIME_OF_DAY = re.compile(r"\b\d{1,2}[:.]\d{2}\b")


@pytest.fixture
def mail_server(tmp_path):
    server = MailServer(certificates=tmp_path / "tls").start()
    yield server
    server.stop()


@pytest.fixture
def config(config, mail_server):
    return {**config, **mail_config(mail_server)}


@pytest.fixture
def team(app, mission, make_staff):
    return ladder_team(app, make_staff, mailed=True)


def run_at(app, now):
    with app.app_context():
        return deliver(now=now)


def lines_of(mail) -> list[str]:
    return [line for line in mail.text.splitlines() if line.startswith("- ")]


def test_after_the_limit_oversight_and_the_adviser_are_told_once_without_content(
    app, mission, team, mail_server
):
    _case, escalation_id = escalated_case(
        app, mission.id, adviser=team["adviser"], leaders=[team["leader"]], summary=SUMMARY
    )
    run_at(app, days_after_sending(app, escalation_id, 0))
    mail_server.received.clear()

    before = run_at(app, days_after_sending(app, escalation_id, 14))
    assert before.steps == 0
    assert mail_server.to(address_of(team["oversight"])) == []
    after = run_at(app, days_after_sending(app, escalation_id, 15))
    again = run_at(app, days_after_sending(app, escalation_id, 16))

    assert (after.steps, again.steps) == (1, 0)
    [to_oversight] = mail_server.to(address_of(team["oversight"]))
    assert lines_of(to_oversight) == [
        "- 1 escalation that leadership did not acknowledge or answer in time has come up to you"
    ]
    [to_adviser] = mail_server.to(address_of(team["adviser"]))
    assert lines_of(to_adviser) == [
        "- 1 escalation of your cases went up to oversight: leadership did not acknowledge "
        "or answer it in time"
    ]
    # The leader is reminded as before, never told of the ladder.
    for mail in mail_server.to(address_of(team["leader"])):
        assert "oversight" not in mail.text
    for mail in (to_oversight, to_adviser):
        for word in ("Brightwater", "CANARY-LADDER-8X1", "EUPOL", "eupol", team["leader"].username):
            assert word.lower() not in mail.text.lower(), word
            assert word.encode() not in mail.raw, word
        assert not TIME_OF_DAY.search(mail.text)


def test_two_runs_at_once_take_the_step_and_mail_it_once(app, mission, team, mail_server):
    _case, escalation_id = escalated_case(
        app, mission.id, adviser=team["adviser"], leaders=[team["leader"]], summary=SUMMARY
    )
    mail_server.delay = 0.3
    now = days_after_sending(app, escalation_id, 15)

    outcomes = at_once(lambda: run_at(app, now), lambda: run_at(app, now))

    assert sorted(o.steps for o in outcomes) == [0, 1]
    assert len(steps_of(app, escalation_id)) == 1
    assert len(mail_server.to(address_of(team["oversight"]))) == 1
    assert len(mail_server.to(address_of(team["adviser"]))) == 1


def test_without_a_mail_server_the_steps_are_taken_and_said_before_the_error(
    app, config, mission, team
):
    _case, escalation_id = escalated_case(
        app, mission.id, adviser=team["adviser"], leaders=[team["leader"]], summary=SUMMARY
    )
    with app.app_context(), db.unit():
        # Leadership's days ran out before today's run.
        db.session.get(Escalation, escalation_id).ladder_ack_due = today() - timedelta(2)
    result = run_without_mail(config, "notify")

    assert result.exit_code == 1
    said = "1 escalation step(s) up the ladder to oversight"
    assert said in result.output
    assert result.output.index(said) < result.output.index("DISSENT_SMTP_URL")
    assert [reason for reason, _day in steps_of(app, escalation_id)] == ["not_acknowledged"]
