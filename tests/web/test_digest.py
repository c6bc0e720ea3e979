"""A digest mail is counts and a login link, in its reader's language; the test mail
never fails a request, whatever the mail server does."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
from flask_babel import force_locale

from dissent.app import create_app
from dissent.config import SmtpSecurity, SmtpSettings
from dissent.extensions import db
from dissent.models import NotificationKind
from dissent.services.mailer import MailProblem
from dissent.services.notifications import KINDS, Digest
from dissent.web.digest import (
    KIND_LABELS,
    PROBLEM_LABELS,
    compose_digest,
    compose_test,
    send_test_mail,
)
from tests.helpers.pages import BASE_URL
from tests.helpers.smtp import mail_config

K = NotificationKind
SMTP = SmtpSettings(
    host="mail.example.org", port=587, security=SmtpSecurity.STARTTLS, sender="dissent@example.org"
)
NOW = datetime(2027, 3, 4, 15, 30, tzinfo=UTC)


def digest(**changes) -> Digest:
    values = {
        "staff_id": 1,
        "email": "person@example.org",
        "language": "en",
        "counts": ((K.NEW_OBSERVATION, 1), (K.ACK_OVERDUE, 3)),
        "references": {},
    }
    return Digest(**(values | changes))


def test_a_digest_lists_each_kind_with_its_count_and_links_to_the_login(app):
    with app.app_context():
        mail = compose_digest(digest(), SMTP, now=NOW)

    body = mail.get_content()
    assert (
        "- 1 new observation in your missions\n- 3 observations not acknowledged in time\n" in body
    )
    assert f"{BASE_URL}/staff/login" in body
    assert mail["To"] == "person@example.org" and mail["From"] == "dissent@example.org"
    assert mail["Bcc"] is None and mail["Cc"] is None
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"].endswith("@example.org>")
    assert parsedate_to_datetime(mail["Date"]) == NOW  # the run's time, nothing else's


def test_references_follow_their_line(app):
    with app.app_context():
        mail = compose_digest(
            digest(references={K.ACK_OVERDUE: ("AB12-CD34", "EF56-GH78")}), SMTP, now=NOW
        )
    assert "- 3 observations not acknowledged in time (AB12-CD34, EF56-GH78)" in mail.get_content()


def test_every_kind_has_a_line_and_a_label(app):
    with app.app_context():
        for kind in KINDS:
            body = compose_digest(digest(counts=((kind, 2),)), SMTP, now=NOW).get_content()
            assert body.count("\n- 2 ") == 1, kind
            with force_locale("en"):
                assert str(KIND_LABELS[kind])
    assert set(PROBLEM_LABELS) == set(MailProblem)


def test_an_unknown_language_falls_back_to_english(app):
    with app.app_context():
        mail = compose_digest(digest(language="xx"), SMTP, now=NOW)
        test = compose_test(SMTP, to="me@example.org", language=None, now=NOW)
    assert "new observation" in mail.get_content()
    assert "test message" in test.get_content()


def test_without_a_mail_server_the_test_mail_says_so(app):
    with app.app_context():
        problem = send_test_mail(to="me@example.org", language="en", now=NOW)
    assert problem is MailProblem.NOT_CONFIGURED


@pytest.fixture
def mailing(config, mail_server):
    made = create_app({**config, **mail_config(mail_server)})
    yield made, mail_server
    db.engine(made).dispose()


def test_the_test_mail_reaches_the_operator_or_names_the_problem(mailing):
    app, server = mailing
    with app.app_context():
        missing = send_test_mail(to=None, language="en", now=NOW)
        sent = send_test_mail(to="me@example.org", language="en", now=NOW)
        server.stop()
        down = send_test_mail(to="me@example.org", language="en", now=NOW)

    assert (missing, sent, down) == (MailProblem.NO_ADDRESS, None, MailProblem.UNREACHABLE)
    [mail] = server.to("me@example.org")
    assert "test message" in mail.text
