"""Filing a new observation: the source's first and most fragile moment."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..crypto import identity_from_secret
from ..models import Category, Consent, Mission, NotificationKind, Observation, Source, State
from . import budget, notifications
from .attachments import AttachmentView, FileNamer
from .budget import Budget
from .content import seal_document
from .context import ServiceContext
from .errors import MissionUnavailable, NotFound, SubmissionReplayed
from .first_files import FirstFiles
from .keyring import adviser_recipients, conversation_recipients

# Limits, stated on the form next to each field.
WHAT_MAX = 20_000
WHERE_MAX = 200
OFFICIAL_REPORT_MAX = 500
# Crockford's base32 without look-alikes: a reference is read aloud on the phone.
_REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class WhenPeriod:
    """Coarse answers to "when did it happen": a date can name a person."""

    THIS_WEEK = "this_week"
    LAST_WEEK = "last_week"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    LAST_3_MONTHS = "last_3_months"
    EARLIER = "earlier"
    NOT_SAID = "not_said"
    ALL = (THIS_WEEK, LAST_WEEK, THIS_MONTH, LAST_MONTH, LAST_3_MONTHS, EARLIER, NOT_SAID)


class Contradiction:
    """Whether the observation contradicts an official report or figure."""

    YES = "yes"
    NO = "no"
    UNSURE = "unsure"
    ALL = (YES, NO, UNSURE)


@dataclass(frozen=True)
class ObservationDraft:
    """What a source typed, validated by the form."""

    mission_id: int
    category: Category
    what: str
    when: str
    where: str
    contradicts: str
    official_report: str
    consent: Consent


@dataclass(frozen=True)
class NewSubmission:
    """The committed source: its id and identity secret (for the session), and the
    files that came with the observation."""

    source_id: int
    identity_secret: bytes = field(repr=False)
    files: tuple[AttachmentView, ...] = ()


def draft_fingerprint(draft: ObservationDraft, submit_token: str) -> bytes:
    """Return a digest of a sent form: its one-time token and every answer in it.

    A double click sends the same form twice, so both requests have the same
    fingerprint; a copy of the form's token without what the source typed does not.
    """
    answers = {name: str(value) for name, value in dataclasses.asdict(draft).items()}
    answers["submit_token"] = submit_token
    encoded = json.dumps(answers, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(b"dissent/v1/submitted-form\x00" + encoded).digest()


def token_hash(token: str) -> bytes:
    """Return the stored form of a one-time form token."""
    return hashlib.sha256(b"dissent/v1/submit-token" + token.encode()).digest()


def new_ref() -> str:
    """Return a random observation reference such as ``K7QM-4XPD``."""
    chars = "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def open_missions(session: Session) -> list[Mission]:
    """Return the missions that can take observations: active, with an adviser."""
    missions = session.scalars(
        select(Mission).where(Mission.active.is_(True)).order_by(Mission.name)
    ).all()
    return [m for m in missions if adviser_recipients(session, m.id)]


def was_submitted(session: Session, submit_token: str) -> bool:
    """Return whether a form with this token already created an observation."""
    found = session.scalar(
        select(Observation.id).where(Observation.submit_token_hash == token_hash(submit_token))
    )
    return found is not None


def submit_observation(
    session: Session,
    ctx: ServiceContext,
    *,
    draft: ObservationDraft,
    submit_token: str,
    codename: str,
    files: FirstFiles | None = None,
    naming: FileNamer | None = None,
) -> NewSubmission:
    """Add a source and their observation, with its ``files``, to the request's transaction.

    ``codename`` was generated when the form was shown and is kept with its one-time
    token in the source's sealed session, so a replayed submit can show it again. The
    caller commits before it shows the codename, so a source who sees one always has a
    decryptable record. Raises :class:`SubmissionReplayed` if this form was already
    submitted (the twin's transaction is then rolled back), and
    :class:`~dissent.services.budget.BudgetReached` when this hour's budget of new
    observations (or, with files, of volume) is used up, and an
    :class:`~dissent.services.attachments.AttachmentError` when a file cannot be
    stored (the caller rolls back: nothing of it is kept). ``naming`` gives the files'
    stored names (see :func:`~dissent.services.attachments.store_upload`).
    """
    if was_submitted(session, submit_token):
        raise SubmissionReplayed
    mission = session.get(Mission, draft.mission_id)
    if mission is None or not mission.active or not adviser_recipients(session, mission.id):
        raise MissionUnavailable
    try:
        # Before the costly derivation: a used-up budget refuses at once.
        budget.check(session.connection(), ctx.settings, Budget.OBSERVATIONS, mission_id=mission.id)
        if files is not None and files.files:
            budget.check(session.connection(), ctx.settings, Budget.VOLUME, mission_id=mission.id)
    except budget.BudgetReached:
        if was_submitted(session, submit_token):
            # The twin of a double click took the hour's last place a moment ago: this
            # is its replay, which shows the same codename.
            raise SubmissionReplayed from None
        raise
    keys = ctx.kdf_gate.derive(codename, ctx.settings)
    identity = identity_from_secret(keys.identity_seed, kind=ctx.settings.key_kind)
    source_recipient = identity.recipient.encode()
    recipients = conversation_recipients(
        session, ctx.settings, mission_id=mission.id, source_recipient=source_recipient
    )
    document = {
        "what": draft.what,
        "when": draft.when,
        "where": draft.where,
        "contradicts": draft.contradicts,
        "official_report": draft.official_report,
    }
    source = Source(lookup_id=keys.lookup_id, recipient=source_recipient)
    observation = Observation(
        ref=new_ref(),
        mission_id=mission.id,
        source=source,
        category=draft.category,
        consent=draft.consent,
        state=State.RECEIVED,
        content=seal_document(document, recipients=recipients),
        submit_token_hash=token_hash(submit_token),
    )
    session.add_all([source, observation])
    try:
        session.flush()
    except IntegrityError as exc:
        # A twin of this form (a double click) was stored a moment ago. The failed
        # transaction must be rolled back before anything can be read to tell.
        session.rollback()
        if was_submitted(session, submit_token):
            raise SubmissionReplayed from exc
        raise
    # Last, after the twin check: the counter's row stays locked until the commit, and a
    # double click must not count twice.
    budget.spend(
        session.connection(), ctx.settings, Budget.OBSERVATIONS, mission_id=mission.id, amount=1
    )
    notifications.notify(session.connection(), NotificationKind.NEW_OBSERVATION, observation.id)
    stored = files.store(session, ctx, observation, naming=naming) if files is not None else []
    return NewSubmission(
        source_id=source.id, identity_secret=keys.identity_seed, files=tuple(stored)
    )


def replayed_submission(session: Session, ctx: ServiceContext, *, codename: str) -> NewSubmission:
    """Return the source a replayed form already created, found by its codename."""
    keys = ctx.kdf_gate.derive(codename, ctx.settings)
    source = session.scalar(select(Source).where(Source.lookup_id == keys.lookup_id))
    if source is None:
        raise NotFound
    return NewSubmission(source_id=source.id, identity_secret=keys.identity_seed)
