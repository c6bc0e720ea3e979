"""The mailer talks to a real SMTP server: TLS as configured or nothing, one code per failure."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import pytest

from dissent.config import SmtpSecurity, SmtpSettings
from dissent.services.mailer import Mailer, MailFailed, MailProblem
from tests.helpers.smtp import PASSWORD, USERNAME, MailServer

SENDER = "dissent@example.org"
TO = "adviser@example.org"


def message(subject: str = "hello") -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = SENDER, TO, subject
    mail.set_content("a notification\n")
    return mail


def settings_for(server: MailServer, security: SmtpSecurity, **more) -> SmtpSettings:
    return SmtpSettings(
        host=server.host, port=server.port, security=security, sender=SENDER, **more
    )


def test_a_plain_connection_to_a_loopback_server_delivers_to_the_one_recipient(mail_servers):
    server = mail_servers()
    with Mailer(settings_for(server, SmtpSecurity.PLAIN)) as mailer:
        mailer.send(message(), to=TO)

    [mail] = server.all()
    assert mail.sender == SENDER
    assert mail.recipients == (TO,)
    assert mail.message["Subject"] == "hello"


@pytest.mark.parametrize(
    ("mode", "security"), [("starttls", SmtpSecurity.STARTTLS), ("tls", SmtpSecurity.TLS)]
)
def test_starttls_and_implicit_tls_with_a_password(mail_servers, mode, security):
    server = mail_servers(mode=mode, password=True)
    smtp = settings_for(server, security, username=USERNAME, password=PASSWORD)
    with Mailer(smtp, tls_context=server.client_tls) as mailer:
        mailer.send(message("one"), to=TO)
        mailer.send(message("two"), to=TO)

    assert [mail.message["Subject"] for mail in server.to(TO)] == ["one", "two"]


def test_a_server_without_starttls_gets_nothing_when_tls_is_required(mail_servers):
    server = mail_servers()  # plain only
    with (
        Mailer(settings_for(server, SmtpSecurity.STARTTLS)) as mailer,
        pytest.raises(MailFailed) as failed,
    ):
        mailer.send(message(), to=TO)

    assert failed.value.problem is MailProblem.NO_STARTTLS
    assert server.all() == []


def test_a_certificate_nobody_vouches_for_is_refused(mail_servers):
    server = mail_servers(mode="starttls")
    # The system's authorities only: the test server's own authority is not among them.
    with (
        Mailer(
            settings_for(server, SmtpSecurity.STARTTLS), tls_context=ssl.create_default_context()
        ) as mailer,
        pytest.raises(MailFailed) as failed,
    ):
        mailer.send(message(), to=TO)

    assert failed.value.problem is MailProblem.TLS
    assert server.all() == []


def test_a_wrong_password_is_named(mail_servers):
    server = mail_servers(mode="starttls", password=True)
    smtp = settings_for(server, SmtpSecurity.STARTTLS, username=USERNAME, password="wrong")
    with Mailer(smtp, tls_context=server.client_tls) as mailer, pytest.raises(MailFailed) as failed:
        mailer.send(message(), to=TO)

    assert failed.value.problem is MailProblem.AUTHENTICATION
    assert failed.value.connection_lost


def test_a_server_that_is_down_is_unreachable(mail_servers):
    server = mail_servers()
    server.stop()
    with (
        Mailer(settings_for(server, SmtpSecurity.PLAIN), timeout=5) as mailer,
        pytest.raises(MailFailed) as failed,
    ):
        mailer.send(message(), to=TO)

    assert failed.value.problem is MailProblem.UNREACHABLE
    assert failed.value.connection_lost


def test_a_refused_message_leaves_the_connection_usable_for_the_next(mail_servers):
    server = mail_servers(refuse="451 4.3.0 try again later")
    with Mailer(settings_for(server, SmtpSecurity.PLAIN)) as mailer:
        with pytest.raises(MailFailed) as failed:
            mailer.send(message("first"), to=TO)
        server.refuse = None
        mailer.send(message("second"), to=TO)

    assert failed.value.problem is MailProblem.REFUSED
    assert not failed.value.connection_lost
    assert [mail.message["Subject"] for mail in server.all()] == ["second"]
