"""``dissent notify``: send what is due, one content-free digest per person.

Run on a fixed schedule (``deploy/systemd/dissent-notify.timer``: on the hour and the
half hour), never at the moment something happens, so that a mail's time says nothing
about when a source wrote. Each run takes these steps, each its own transaction:

0. the ladder above leadership: escalations past their mission's ladder limits go up
   to oversight (``services/ladder.py``), which writes their notifications; taken even
   when no mail server is set up, as the step itself matters more than the mail;
1. plan, under the run lock: remove rows that no longer apply, write the deadline
   reminders (and other kinds a run writes) that have come due;
2. for each person with something waiting: claim their rows, make the digest, send it
   with no transaction open, and mark the rows sent, or keep them for a later run after
   a backoff;
3. record the run: a success, or the failure's code.

A server that cannot be reached stops the run after the first failure (the rest wait
for the next run rather than each waiting out the timeout).
"""

from __future__ import annotations

import secrets
import ssl
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

import click
from flask.cli import with_appcontext

from .age import CommandError


@dataclass(frozen=True)
class RunOutcome:
    """What one run did."""

    sent: int  # digests sent
    failed: int  # digests kept for a later run
    problem: str | None  # the first failure's code (services/mailer.py MailProblem)
    steps: int = 0  # steps taken up the ladder above leadership


def climb_ladder(*, now: datetime) -> int:
    """Take the ladder's steps due at ``now`` in a transaction of their own (inside an
    app context), mail server or not; return how many were taken."""
    from ..extensions import db
    from ..services import ladder

    with db.unit():
        return len(ladder.take_steps(db.session, now=now))


def deliver(*, now: datetime, tls_context: ssl.SSLContext | None = None) -> RunOutcome:
    """Run once at ``now`` (inside an app context): the ladder's steps, then the digests;
    return what was done."""
    steps = climb_ladder(now=now)
    return replace(send_digests(now=now, tls_context=tls_context), steps=steps)


def send_digests(*, now: datetime, tls_context: ssl.SSLContext | None = None) -> RunOutcome:
    """Plan and send the digests due at ``now`` (inside an app context); return what was
    sent."""
    from ..extensions import current_context, db
    from ..services import notifications, outbox
    from ..services.mailer import Mailer, MailFailed
    from ..web.digest import compose_digest

    settings = current_context().settings
    if settings.smtp is None:
        raise CommandError("notifications are off: set DISSENT_SMTP_URL (docs/operations.md)")
    if settings.public_url is None:
        raise CommandError("no public address for the login link in mails: set DISSENT_PUBLIC_URL")
    token = secrets.token_hex(16)
    with db.unit():
        notifications.plan(db.session, now=now)
    with db.unit():
        people = outbox.due_people(db.session, now=now)
    sent = failed = 0
    problem: str | None = None
    host = urlsplit(settings.public_url).hostname or "localhost"
    with Mailer(settings.smtp, local_hostname=host, tls_context=tls_context) as mailer:
        for staff_id in people:
            with db.unit():
                claim = outbox.claim(db.session, staff_id=staff_id, token=token, now=now)
                digest = (
                    notifications.digest_for(
                        db.session, claim, references=settings.notify_references
                    )
                    if claim is not None
                    else None
                )
                if claim is not None and digest is None:
                    outbox.drop(db.session, claim)
            if claim is None or digest is None:
                continue  # another run has them, or nobody to send them to
            message = compose_digest(digest, settings.smtp, now=now)
            try:
                mailer.send(message, to=digest.email)
            except MailFailed as exc:
                with db.unit():
                    outbox.mark_failed(db.session, claim, now=now)
                failed += 1
                problem = problem or exc.problem.value
                if exc.connection_lost:
                    break
                continue
            with db.unit():
                outbox.mark_sent(db.session, claim, on=now.date())
            sent += 1
    with db.unit():
        outbox.record_run(db.session, now=now, problem=problem)
    return RunOutcome(sent=sent, failed=failed, problem=problem)


@click.command()
@with_appcontext
def notify() -> None:
    """Send staff what is due by mail: one digest per person, counts only, no content.

    Writes the deadline reminders that came due, then sends each person's digest over
    DISSENT_SMTP_URL. A digest that fails is kept and tried again in a later run, after
    a pause that grows with each failure. Exits 1 when a digest could not be sent.
    Run it on a fixed schedule (deploy/systemd/dissent-notify.timer).
    """
    from ..models import utcnow

    now = utcnow()
    # Said before the digests, which may stop the run (no mail server): the steps are
    # committed by then, and the operator should know they were taken.
    steps = climb_ladder(now=now)
    if steps:
        click.echo(f"{steps} escalation step(s) up the ladder to oversight")
    outcome = send_digests(now=now)
    click.echo(f"{outcome.sent} digest(s) sent")
    if outcome.problem is not None:
        raise CommandError(
            f"{outcome.failed} digest(s) not sent ({outcome.problem}); "
            "they are kept and tried again in a later run"
        )
