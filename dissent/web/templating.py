"""What every template may use: dates and numbers in the reader's language, file sizes,
the upload limits, the CSRF token and the language switch."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, request
from flask_babel import format_date, format_datetime, format_decimal, format_number, get_locale
from flask_babel import gettext as _

from ..security.sessions import is_staff_path
from ..services import attachments
from .error_summary import page_errors
from .forms import csrf_token
from .i18n import LANGUAGE_NAMES

MIB = 1024 * 1024


def filesize(size: int) -> str:
    """Return a size for people: bytes, KB or MB (powers of 1024, as most systems show)."""
    if size < 1024:
        text = _("%(n)s bytes", n=format_decimal(size))
    elif size < MIB:
        text = _("%(n)s KB", n=format_decimal(round(size / 1024, 1)))
    else:
        text = _("%(n)s MB", n=format_decimal(round(size / MIB, 1)))
    return str(text)


# Staff times are exact to the minute and say their zone (the configured one, UTC
# unless BABEL_DEFAULT_TIMEZONE says otherwise): advisers and leaders in several time
# zones read the same record. A source's dates stay to the day (invariant 2).
STAFF_TIME_PATTERN = "d MMM y HH:mm z"


def staff_time(value: datetime) -> str:
    """Return a staff-side moment as "5 Dec 2026 14:03 UTC", in the reader's language."""
    return str(format_datetime(value, STAFF_TIME_PATTERN))


def attachment_limits() -> dict[str, int]:
    """Return the limits, for the upload form's text (one source of truth)."""
    return {
        "file": attachments.MAX_ATTACHMENT_BYTES,
        "count": attachments.MAX_ATTACHMENTS_PER_OBSERVATION,
        "total": attachments.MAX_TOTAL_BYTES_PER_OBSERVATION,
    }


def site_name() -> str:
    """Return the name pages show: the instance's own, else a neutral one in the
    reader's language."""
    configured: str | None = current_app.extensions["dissent.settings"].site_name
    return configured or str(_("Confidential channel"))


def mail_references() -> bool:
    """Return whether notification mails name cases by their mail reference (then the
    case's pages show it, so a reader can find the case a mail is about)."""
    return bool(current_app.extensions["dissent.settings"].notify_references)


def idle_minutes() -> int:
    """Return after how many idle minutes the session of this page's interface ends
    (staff or source), as configured: pages say it before it runs out (WCAG 2.2.1)."""
    settings = current_app.extensions["dissent.settings"]
    staff = is_staff_path(request.path)
    return int(settings.staff_idle_minutes if staff else settings.source_idle_minutes)


def install_template_helpers(app: Flask) -> None:
    """Make the helpers above available in every template of ``app``."""
    app.jinja_env.globals.update(
        get_locale=get_locale,
        csrf_token=csrf_token,
        languages=LANGUAGE_NAMES,
        attachment_limits=attachment_limits,
        site_name=site_name,
        page_errors=page_errors,
        idle_minutes=idle_minutes,
        mail_references=mail_references,
    )
    app.jinja_env.filters.update(
        format_date=format_date,
        format_datetime=format_datetime,
        staff_time=staff_time,
        format_number=format_number,
        filesize=filesize,
    )
