"""Sending mail over SMTP with the standard library: the one place that talks to the
mail server.

``smtps://`` is TLS from the first byte; ``smtp://`` must be upgraded with STARTTLS, and
a server that does not offer it gets nothing (``DISSENT_SMTP_ALLOW_PLAIN_LOOPBACK``
allows a plain connection, to a loopback address only). Certificates are checked as a
browser would. Every failure becomes one :class:`MailFailed` with a code of
:class:`MailProblem`; nothing here logs, and nothing keeps a server's words, which may
echo an address.
"""

from __future__ import annotations

import enum
import smtplib
import ssl
from email.message import EmailMessage
from types import TracebackType

from ..config import SmtpSecurity, SmtpSettings

# How long one exchange with the mail server may take. A run sends one digest after
# another, and a request sending the operator's test mail waits for it.
SMTP_TIMEOUT_SECONDS = 30.0
TEST_MAIL_TIMEOUT_SECONDS = 10.0


class MailProblem(enum.StrEnum):
    """Why mail could not be sent."""

    NOT_CONFIGURED = "not_configured"  # no DISSENT_SMTP_URL
    NO_ADDRESS = "no_address"  # the person has no mail address
    UNREACHABLE = "unreachable"  # no connection, a timeout, or the server hung up
    NO_STARTTLS = "no_starttls"  # smtp:// to a server that does not offer STARTTLS
    TLS = "tls"  # the TLS handshake failed (often: a certificate that does not check out)
    AUTHENTICATION = "authentication"  # the user name or password was refused
    REFUSED = "refused"  # the server refused the sender, the recipient or the message


class MailFailed(Exception):
    """A mail was not sent. ``connection_lost``: nothing more can go over this
    connection (try again in a later run); otherwise only this message was refused.

    Not a refusal of a service (``ServiceError``): no request meets it but the operator's
    test mail, whose page names each ``problem`` in its own words (``web.digest``)."""

    def __init__(self, problem: MailProblem, *, connection_lost: bool = True) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.connection_lost = connection_lost


class Mailer:
    """One connection to the mail server, opened at the first message, for many."""

    def __init__(
        self,
        smtp: SmtpSettings,
        *,
        local_hostname: str = "localhost",
        timeout: float = SMTP_TIMEOUT_SECONDS,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._smtp = smtp
        self._local_hostname = local_hostname
        self._timeout = timeout
        # Tests pass a context that trusts their own certificate authority.
        self._tls = tls_context or ssl.create_default_context()
        self._connection: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        smtp = self._smtp
        connection: smtplib.SMTP
        if smtp.security is SmtpSecurity.TLS:
            connection = smtplib.SMTP_SSL(
                smtp.host,
                smtp.port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=self._tls,
            )
        else:
            connection = smtplib.SMTP(
                smtp.host, smtp.port, local_hostname=self._local_hostname, timeout=self._timeout
            )
        try:
            connection.ehlo()
            if smtp.security is SmtpSecurity.STARTTLS:
                if not connection.has_extn("starttls"):
                    raise MailFailed(MailProblem.NO_STARTTLS)
                connection.starttls(context=self._tls)
                connection.ehlo()
            if smtp.username is not None and smtp.password is not None:
                try:
                    connection.login(smtp.username, smtp.password)
                except smtplib.SMTPNotSupportedError as exc:  # no AUTH offered at all
                    raise MailFailed(MailProblem.AUTHENTICATION) from exc
        except BaseException:
            _close_quietly(connection)
            raise
        return connection

    def send(self, message: EmailMessage, *, to: str) -> None:
        """Send ``message`` to ``to`` (and nobody else), connecting first if need be;
        raise :class:`MailFailed` if it was not accepted."""
        try:
            if self._connection is None:
                self._connection = self._connect()
            self._connection.send_message(message, from_addr=self._smtp.sender, to_addrs=[to])
        except MailFailed:
            self.close()
            raise
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            raise MailFailed(MailProblem.AUTHENTICATION) from exc
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
            # This message only: the connection is fine for the next one.
            raise MailFailed(MailProblem.REFUSED, connection_lost=False) from exc
        except smtplib.SMTPSenderRefused as exc:
            self.close()
            raise MailFailed(MailProblem.REFUSED) from exc
        except ssl.SSLError as exc:
            self.close()
            raise MailFailed(MailProblem.TLS) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Includes timeouts, refused connections and a server that hung up.
            self.close()
            raise MailFailed(MailProblem.UNREACHABLE) from exc

    def close(self) -> None:
        """Say goodbye to the server, if connected (never raises)."""
        if self._connection is not None:
            _close_quietly(self._connection)
            self._connection = None


def _close_quietly(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()
