"""Filing observations straight through the submission service (no form, no browser)."""

from __future__ import annotations

import secrets
from dataclasses import replace

from sqlalchemy.orm import Session

from dissent.crypto.codename import generate_codename
from dissent.models import Category, Consent
from dissent.services import submission
from dissent.services.context import ServiceContext

WHAT = "The training attendance figures were inflated."


def draft(mission_id: int, **changes) -> submission.ObservationDraft:
    """Return a complete, valid draft for ``mission_id``; ``changes`` replace its answers."""
    base = submission.ObservationDraft(
        mission_id=mission_id,
        category=Category.REPORTING_ACCURACY,
        what=WHAT,
        when=submission.WhenPeriod.LAST_MONTH,
        where="Camp North",
        contradicts=submission.Contradiction.YES,
        official_report="Q3 progress report",
        consent=Consent.ASK_FIRST,
    )
    return replace(base, **changes)


def file_directly(
    session: Session,
    ctx: ServiceContext,
    mission_id: int,
    *,
    token: str | None = None,
    codename: str | None = None,
    **changes,
) -> tuple[str, submission.NewSubmission]:
    """File an observation through the service (the caller commits); return codename and result."""
    codename = codename or generate_codename()
    result = submission.submit_observation(
        session,
        ctx,
        draft=draft(mission_id, **changes),
        submit_token=token or secrets.token_urlsafe(24),
        codename=codename,
    )
    return codename, result
