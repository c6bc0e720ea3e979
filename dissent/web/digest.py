"""Notification mails as their readers get them: plain text, in the person's language,
saying how many things of each kind wait and where to log in, and nothing else.

No observation text, category, mission, ledger number or time of day is ever put in a
mail: a mail server (and whoever reads its logs) learns only that someone has something
to do. Where the instance names cases in mails, a case is named by its random mail
reference, which no page address contains.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit

from flask_babel import force_locale, lazy_gettext, ngettext
from flask_babel import gettext as _

from ..config import SmtpSettings
from ..extensions import current_context
from ..models import NotificationKind
from ..services.mailer import TEST_MAIL_TIMEOUT_SECONDS, Mailer, MailFailed, MailProblem
from ..services.notifications import Digest
from .i18n import LANGUAGES
from .links import public_url_for
from .templating import site_name

# One line per kind, for ``num`` of it (written out so that pybabel finds each pair).
_LINES: dict[NotificationKind, Callable[[int], str]] = {
    NotificationKind.NEW_OBSERVATION: lambda num: ngettext(
        "%(num)d new observation in your missions",
        "%(num)d new observations in your missions",
        num,
    ),
    NotificationKind.SOURCE_MESSAGE: lambda num: ngettext(
        "%(num)d case with news from the source (a message, a file or an answer to a proposal)",
        "%(num)d cases with news from the source (a message, a file or an answer to a proposal)",
        num,
    ),
    NotificationKind.ACK_DUE_SOON: lambda num: ngettext(
        "%(num)d observation to acknowledge within 2 days",
        "%(num)d observations to acknowledge within 2 days",
        num,
    ),
    NotificationKind.ACK_OVERDUE: lambda num: ngettext(
        "%(num)d observation not acknowledged in time",
        "%(num)d observations not acknowledged in time",
        num,
    ),
    NotificationKind.FEEDBACK_DUE_SOON: lambda num: ngettext(
        "%(num)d case where the source must hear what was done within 14 days",
        "%(num)d cases where the source must hear what was done within 14 days",
        num,
    ),
    NotificationKind.FEEDBACK_OVERDUE: lambda num: ngettext(
        "%(num)d case where the source has not heard what was done in time",
        "%(num)d cases where the source has not heard what was done in time",
        num,
    ),
    NotificationKind.RESPONSE_RECEIVED: lambda num: ngettext(
        "%(num)d response from leadership to an escalation",
        "%(num)d responses from leadership to escalations",
        num,
    ),
    NotificationKind.ACCESS_WAITING: lambda num: ngettext(
        "%(num)d colleague waiting for you to grant access to earlier files",
        "%(num)d colleagues waiting for you to grant access to earlier files",
        num,
    ),
    NotificationKind.ESCALATION_RECEIVED: lambda num: ngettext(
        "%(num)d escalation awaiting your acknowledgement",
        "%(num)d escalations awaiting your acknowledgement",
        num,
    ),
    NotificationKind.ESCALATION_REVISED: lambda num: ngettext(
        "%(num)d escalation with a new version of its summary",
        "%(num)d escalations with a new version of their summary",
        num,
    ),
    NotificationKind.RESPONSE_DUE_SOON: lambda num: ngettext(
        "%(num)d escalation awaiting your response within 14 days",
        "%(num)d escalations awaiting your response within 14 days",
        num,
    ),
    NotificationKind.RESPONSE_OVERDUE: lambda num: ngettext(
        "%(num)d escalation whose response is overdue",
        "%(num)d escalations whose response is overdue",
        num,
    ),
    NotificationKind.LADDER_STEP: lambda num: ngettext(
        "%(num)d escalation that leadership did not acknowledge or answer in time has "
        "come up to you",
        "%(num)d escalations that leadership did not acknowledge or answer in time have "
        "come up to you",
        num,
    ),
    NotificationKind.LADDER_STEP_ADVISER: lambda num: ngettext(
        "%(num)d escalation of your cases went up to oversight: leadership did not "
        "acknowledge or answer it in time",
        "%(num)d escalations of your cases went up to oversight: leadership did not "
        "acknowledge or answer them in time",
        num,
    ),
}
# What each kind is called where a person chooses what they receive.
KIND_LABELS = {
    NotificationKind.NEW_OBSERVATION: lazy_gettext("A new observation in my missions"),
    NotificationKind.SOURCE_MESSAGE: lazy_gettext("News from the source of a case"),
    NotificationKind.ACK_DUE_SOON: lazy_gettext("Acknowledgement due within 2 days"),
    NotificationKind.ACK_OVERDUE: lazy_gettext("Acknowledgement overdue"),
    NotificationKind.FEEDBACK_DUE_SOON: lazy_gettext("Feedback to the source due within 14 days"),
    NotificationKind.FEEDBACK_OVERDUE: lazy_gettext("Feedback to the source overdue"),
    NotificationKind.RESPONSE_RECEIVED: lazy_gettext("A response from leadership"),
    NotificationKind.ACCESS_WAITING: lazy_gettext("A colleague waiting for access"),
    NotificationKind.ESCALATION_RECEIVED: lazy_gettext("An escalation awaiting acknowledgement"),
    NotificationKind.ESCALATION_REVISED: lazy_gettext("A new version of an escalation's summary"),
    NotificationKind.RESPONSE_DUE_SOON: lazy_gettext("A response due within 14 days"),
    NotificationKind.RESPONSE_OVERDUE: lazy_gettext("A response overdue"),
    NotificationKind.LADDER_STEP: lazy_gettext("An escalation that came up the ladder to me"),
    NotificationKind.LADDER_STEP_ADVISER: lazy_gettext(
        "An escalation of my cases that went up to oversight"
    ),
}


def _language(language: str | None) -> str:
    return language if language in LANGUAGES else LANGUAGES[0]


def _envelope(
    smtp: SmtpSettings, *, to: str, subject: str, body: str, now: datetime
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    # The time of the run (on a fixed schedule), never of what the mail is about.
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, charset="utf-8")
    return message


def _line(kind: NotificationKind, count: int, references: tuple[str, ...]) -> str:
    line = "- " + _LINES[kind](count)
    return f"{line} ({', '.join(references)})" if references else line


def compose_digest(digest: Digest, smtp: SmtpSettings, *, now: datetime) -> EmailMessage:
    """Return the mail of one digest, in its reader's language (needs an app context)."""
    with force_locale(_language(digest.language)):
        site = site_name()
        lines = [
            _line(kind, count, digest.references.get(kind, ())) for kind, count in digest.counts
        ]
        body = "\n".join(
            [
                _("Hello,"),
                "",
                _("Waiting for you at %(site)s:", site=site),
                "",
                *lines,
                "",
                _("Log in to see it:"),
                public_url_for("staff.login"),
                "",
                _(
                    "This message says nothing about what was written, on purpose, and is "
                    "sent at fixed times. To choose what you are told, log in and open "
                    "“Notifications” from the top of any page."
                ),
            ]
        )
        subject = _("%(site)s: something is waiting for you", site=site)
    return _envelope(smtp, to=digest.email, subject=subject, body=body + "\n", now=now)


def compose_test(
    smtp: SmtpSettings, *, to: str, language: str | None, now: datetime
) -> EmailMessage:
    """Return the operator's test mail (needs an app context)."""
    with force_locale(_language(language)):
        site = site_name()
        body = "\n".join(
            [
                _("Hello,"),
                "",
                _(
                    "This is a test message from %(site)s. It shows that notification "
                    "mails reach you; nothing else is in it.",
                    site=site,
                ),
                "",
                public_url_for("staff.login"),
            ]
        )
        subject = _("%(site)s: test message", site=site)
    return _envelope(smtp, to=to, subject=subject, body=body + "\n", now=now)


# What the operator's page says when its test mail did not go (and why).
PROBLEM_LABELS = {
    MailProblem.NOT_CONFIGURED: lazy_gettext(
        "No mail server is set up: set DISSENT_SMTP_URL and DISSENT_SMTP_FROM (docs/operations.md)."
    ),
    MailProblem.NO_ADDRESS: lazy_gettext(
        "Your account has no mail address: give it one under “Notifications”."
    ),
    MailProblem.UNREACHABLE: lazy_gettext(
        "The mail server could not be reached, or did not answer in time."
    ),
    MailProblem.NO_STARTTLS: lazy_gettext(
        "The mail server does not offer STARTTLS, so nothing was sent in clear. Use "
        "smtps:// if it takes TLS from the start."
    ),
    MailProblem.TLS: lazy_gettext(
        "The secure connection to the mail server failed: its certificate may not be "
        "valid for its name."
    ),
    MailProblem.AUTHENTICATION: lazy_gettext(
        "The mail server refused the user name or password (DISSENT_SMTP_USERNAME, "
        "DISSENT_SMTP_PASSWORD)."
    ),
    MailProblem.REFUSED: lazy_gettext(
        "The mail server refused the sender, the address or the mail."
    ),
}


def mailer_for_instance(*, timeout: float | None = None) -> Mailer | None:
    """Return a mailer for the instance's mail server (``None`` when none is set up)."""
    settings = current_context().settings
    if settings.smtp is None:
        return None
    host = urlsplit(settings.public_url or "").hostname or "localhost"
    if timeout is None:
        return Mailer(settings.smtp, local_hostname=host)
    return Mailer(settings.smtp, local_hostname=host, timeout=timeout)


def send_test_mail(*, to: str | None, language: str | None, now: datetime) -> MailProblem | None:
    """Send the operator's test mail to their own address; return why it did not go, or
    ``None`` when the server took it. Never raises for a mail server's trouble."""
    mailer = mailer_for_instance(timeout=TEST_MAIL_TIMEOUT_SECONDS)
    settings = current_context().settings
    if mailer is None or settings.smtp is None:
        return MailProblem.NOT_CONFIGURED
    if not to:
        return MailProblem.NO_ADDRESS
    message = compose_test(settings.smtp, to=to, language=language, now=now)
    try:
        with mailer:
            mailer.send(message, to=to)
    except MailFailed as exc:
        return exc.problem
    return None
