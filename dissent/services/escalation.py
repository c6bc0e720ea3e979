"""Consent, proposals and escalation: a summary reaches leadership unsoftened.

A sent summary is immutable and signed (Ed25519) by the adviser over the mission, its
ledger number, the version and the SHA-256 of the text. A correction is a new version;
the versions' differences are shown to everyone who can read them.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..crypto import (
    DecryptionError,
    Identity,
    KeyFormatError,
    PublicKeyRecipient,
    SignatureError,
    VerifyKey,
    parse_recipient,
    signing_key_from_secret,
)
from ..models import (
    Consent,
    Escalation,
    EscalationVersion,
    Message,
    MessageKind,
    Mission,
    MissionNames,
    Observation,
    Proposal,
    ProposalStatus,
    Role,
    Sender,
    StaffUser,
    State,
    today,
    utcnow,
)
from . import access, audit
from .content import open_document, seal_document
from .context import ServiceContext
from .errors import InvalidState, NotFound, ObservationClosed, ServiceError
from .identifiers import parse_names
from .keyring import adviser_recipients
from .triage import mission_staff, record_transition, staff_recipients
from .workflow import action_allowed, action_target

SUMMARY_MAX = 10_000
NAMES_MAX = 20_000
SIGNATURE_PURPOSE = "escalation-summary"
ESCALATION_NOTICE_MARKER = "escalated"


class ConsentRefused(ServiceError):
    """The source's consent does not allow this (never, or not yet approved)."""


def summary_hash(text: str) -> str:
    """Return the SHA-256 (hex) of a summary's exact text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def signed_message(
    *, mission_slug: str, ledger_number: int, version: int, sha256_hex: str
) -> bytes:
    """Return the bytes an adviser signs for one version of an escalation."""
    return f"{mission_slug}\n{ledger_number}\n{version}\n{sha256_hex}".encode("ascii")


def _check_summary(text: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ValueError("the summary is empty")
    if len(text) > SUMMARY_MAX:
        raise ValueError(f"the summary is longer than {SUMMARY_MAX} characters")
    return text


# --- the mission's list of names --------------------------------------------------------


def read_names(session: Session, mission_id: int, identity: Identity) -> list[str]:
    """Return the mission's names to flag (empty if none, or not readable by us)."""
    row = session.get(MissionNames, mission_id)
    if row is None:
        return []
    try:
        return parse_names(str(open_document(row.body, identities=[identity]).get("text", "")))
    except DecryptionError:
        return []


def save_names(
    session: Session, ctx: ServiceContext, *, staff: StaffUser, mission_id: int, text: str
) -> None:
    """Replace the mission's list of names (encrypted to its advisers and recovery)."""
    if len(text) > NAMES_MAX:
        raise ValueError(f"the list is longer than {NAMES_MAX} characters")
    # A grant step may be adding a stanza to the old list: wait for it (access).
    access.lock_mission(session, mission_id)
    body = seal_document(
        {"text": "\n".join(parse_names(text))},
        recipients=staff_recipients(session, ctx.settings, mission_id),
    )
    row = session.get(MissionNames, mission_id, populate_existing=True)
    if row is None:
        session.add(MissionNames(mission_id=mission_id, body=body, updated_by_id=staff.id))
    else:
        row.body, row.updated_at, row.updated_by_id = body, utcnow(), staff.id
    audit.record(
        session, actor=staff.username, action=audit.Action.NAMES_CHANGE, subject=str(mission_id)
    )
    session.commit()


# --- proposals (consent "ask me first") -------------------------------------------------


def _source_recipients(
    session: Session, ctx: ServiceContext, observation: Observation
) -> list[PublicKeyRecipient]:
    return list(
        dict.fromkeys(
            [
                *adviser_recipients(session, observation.mission_id),
                ctx.settings.recovery_recipient,
                parse_recipient(observation.source.recipient),
            ]
        )
    )


def propose(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    observation: Observation,
    summary: str,
) -> Proposal:
    """Put a proposed summary in the source's inbox for approval."""
    if observation.consent is not Consent.ASK_FIRST:
        raise ConsentRefused("proposals are for sources who asked to be asked first")
    summary = _check_summary(summary)
    for pending in session.scalars(
        select(Proposal).where(
            Proposal.observation_id == observation.id, Proposal.status == ProposalStatus.PENDING
        )
    ):
        pending.status = ProposalStatus.WITHDRAWN
    proposal = Proposal(
        observation_id=observation.id,
        adviser_id=staff.id,
        body=seal_document(
            {"summary": summary}, recipients=_source_recipients(session, ctx, observation)
        ),
    )
    session.add(proposal)
    audit.record(
        session, actor=staff.username, action=audit.Action.PROPOSE, subject=observation.ref
    )
    session.commit()
    return proposal


def source_decides(
    session: Session,
    *,
    source_id: int,
    proposal_id: int,
    approve: bool,
) -> Proposal:
    """Record the source's approval or refusal of a pending proposal."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None or proposal.observation.source_id != source_id:
        raise NotFound
    if proposal.observation.state is State.CLOSED:
        raise ObservationClosed("the observation is closed")
    if proposal.status is not ProposalStatus.PENDING:
        raise InvalidState("this proposal was already decided or withdrawn")
    proposal.status = ProposalStatus.APPROVED if approve else ProposalStatus.DECLINED
    proposal.decided_on = today()
    session.commit()
    return proposal


@dataclass(frozen=True)
class OpenProposal:
    """A proposal with its decrypted text."""

    proposal: Proposal
    summary: str
    readable: bool = True


def proposals_for(
    session: Session, observation: Observation, identity: Identity
) -> list[OpenProposal]:
    """Return the observation's proposals, newest first, decrypted where possible."""
    out = []
    for proposal in session.scalars(
        select(Proposal)
        .where(Proposal.observation_id == observation.id)
        .order_by(Proposal.id.desc())
    ):
        try:
            text = str(open_document(proposal.body, identities=[identity]).get("summary", ""))
            out.append(OpenProposal(proposal, text))
        except DecryptionError:
            out.append(OpenProposal(proposal, "", readable=False))
    return out


def _approved(
    session: Session, observation: Observation, identity: Identity, summary: str
) -> Proposal | None:
    for open_proposal in proposals_for(session, observation, identity):
        if (
            open_proposal.proposal.status is ProposalStatus.APPROVED
            and open_proposal.summary == summary
        ):
            return open_proposal.proposal
    return None


def check_consent(
    session: Session, observation: Observation, identity: Identity, summary: str
) -> Proposal | None:
    """Return the approving proposal if needed; raise :class:`ConsentRefused` if not allowed."""
    if observation.consent is Consent.NEVER:
        raise ConsentRefused("the source does not consent to escalation")
    if observation.consent is Consent.ASK_FIRST:
        approved = _approved(session, observation, identity, summary)
        if approved is None:
            raise ConsentRefused("the source has not approved this exact text")
        return approved
    return None


# --- escalation ---------------------------------------------------------------------------


def _seal_version(
    session: Session, ctx: ServiceContext, escalation: Escalation, summary: str
) -> bytes:
    recipients = [
        *[
            parse_recipient(leader.recipient)
            for leader in escalation.recipients
            if leader.recipient
        ],
        *_source_recipients(session, ctx, escalation.observation),
    ]
    return seal_document({"summary": summary}, recipients=list(dict.fromkeys(recipients)))


def _add_version(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    identity_secret: bytes,
    escalation: Escalation,
    summary: str,
    version: int,
) -> EscalationVersion:
    key = signing_key_from_secret(identity_secret)
    if staff.verify_key != key.verify_key.to_text():
        raise InvalidState("your signing key does not match your account")
    digest = summary_hash(summary)
    message = signed_message(
        mission_slug=escalation.mission.slug,
        ledger_number=escalation.ledger_number,
        version=version,
        sha256_hex=digest,
    )
    entry = EscalationVersion(
        escalation=escalation,
        version=version,
        author_id=staff.id,
        body=_seal_version(session, ctx, escalation, summary),
        body_sha256=digest,
        signature=key.sign(message, purpose=SIGNATURE_PURPOSE),
        verify_key=key.verify_key.to_text(),
    )
    session.add(entry)
    return entry


def escalate(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    identity: Identity,
    identity_secret: bytes,
    observation: Observation,
    summary: str,
    leader_ids: list[int],
) -> Escalation:
    """Send a summary to the chosen leaders under the mission's next ledger number."""
    summary = _check_summary(summary)
    if not action_allowed("escalate", observation.state):
        raise InvalidState("acknowledge the observation before escalating it")
    proposal = check_consent(session, observation, identity, summary)
    leaders = [
        u
        for u in mission_staff(session, observation.mission_id, Role.LEADERSHIP)
        if u.id in set(leader_ids)
    ]
    if not leaders:
        raise ValueError("choose at least one leader of this mission")
    # Lock the mission row (a no-op update) so ledger numbers are handed out one at a time.
    session.execute(
        update(Mission).where(Mission.id == observation.mission_id).values(id=Mission.id)
    )
    number = (
        session.scalar(
            select(func.max(Escalation.ledger_number)).where(
                Escalation.mission_id == observation.mission_id
            )
        )
        or 0
    ) + 1
    escalation = Escalation(
        mission_id=observation.mission_id,
        observation=observation,
        ledger_number=number,
        recipients=leaders,
    )
    session.add(escalation)
    session.flush()
    _add_version(
        session,
        ctx,
        staff=staff,
        identity_secret=identity_secret,
        escalation=escalation,
        summary=summary,
        version=1,
    )
    if proposal is not None:
        proposal.status = ProposalStatus.SENT
    if observation.state is not State.ESCALATED:
        record_transition(
            session, ctx, staff=staff, observation=observation, to_state=action_target("escalate")
        )
    _notify_source(session, ctx, staff=staff, observation=observation, label=escalation.label)
    audit.record(
        session, actor=staff.username, action=audit.Action.ESCALATE, subject=escalation.label
    )
    session.commit()
    return escalation


def _notify_source(
    session: Session, ctx: ServiceContext, *, staff: StaffUser, observation: Observation, label: str
) -> None:
    """Tell the source their observation was escalated (and under which number)."""
    session.add(
        Message(
            observation=observation,
            sender=Sender.ADVISER,
            kind=MessageKind.ESCALATED,
            staff_id=staff.id,
            sent_on=today(),
            sent_at=utcnow(),
            body=seal_document(
                {"text": ESCALATION_NOTICE_MARKER, "label": label},
                recipients=_source_recipients(session, ctx, observation),
            ),
        )
    )


def revise(
    session: Session,
    ctx: ServiceContext,
    *,
    staff: StaffUser,
    identity: Identity,
    identity_secret: bytes,
    escalation: Escalation,
    summary: str,
) -> EscalationVersion:
    """Add a corrected version; the earlier ones stay as they were."""
    summary = _check_summary(summary)
    check_consent(session, escalation.observation, identity, summary)
    version = _add_version(
        session,
        ctx,
        staff=staff,
        identity_secret=identity_secret,
        escalation=escalation,
        summary=summary,
        version=len(escalation.versions) + 1,
    )
    audit.record(
        session, actor=staff.username, action=audit.Action.REVISE, subject=escalation.label
    )
    session.commit()
    return version


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenVersion:
    """A version as a reader sees it: text, and whether its signature holds."""

    version: EscalationVersion
    summary: str
    verified: bool
    problem: str = ""
    diff: list[tuple[str, str]] = field(default_factory=list)  # (op, text) against previous


def verify_version(version: EscalationVersion, summary: str, *, signer: StaffUser) -> str:
    """Return "" if the version is authentic, else what is wrong with it."""
    if summary_hash(summary) != version.body_sha256:
        return "the text does not match its recorded hash"
    if signer.verify_key != version.verify_key:
        return "the signing key is not the author's"
    try:
        VerifyKey.from_text(version.verify_key).verify(
            signed_message(
                mission_slug=version.escalation.mission.slug,
                ledger_number=version.escalation.ledger_number,
                version=version.version,
                sha256_hex=summary_hash(summary),
            ),
            version.signature,
            purpose=SIGNATURE_PURPOSE,
        )
    except (SignatureError, KeyFormatError):
        return "the signature does not verify"
    return ""


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """Return the word-level difference: ("=", text), ("-", removed) or ("+", added)."""
    a, b = old.split(" "), new.split(" ")
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", " ".join(a[i1:i2])))
        if op in ("delete", "replace"):
            out.append(("-", " ".join(a[i1:i2])))
        if op in ("insert", "replace"):
            out.append(("+", " ".join(b[j1:j2])))
    return out


def open_versions(escalation: Escalation, identity: Identity) -> list[OpenVersion]:
    """Decrypt and verify every version, each with its diff against the one before."""
    out: list[OpenVersion] = []
    previous: str | None = None
    for version in escalation.versions:
        try:
            summary = str(open_document(version.body, identities=[identity]).get("summary", ""))
        except DecryptionError:
            out.append(OpenVersion(version, "", False, "your key cannot open this version"))
            previous = None
            continue
        problem = verify_version(version, summary, signer=version.author)
        diff = word_diff(previous, summary) if previous is not None else []
        out.append(OpenVersion(version, summary, not problem, problem, diff))
        previous = summary
    return out


def escalations_of(session: Session, observation: Observation) -> list[Escalation]:
    """Return the escalations of an observation, oldest first."""
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.observation_id == observation.id)
            .order_by(Escalation.id)
        )
    )
