"""Reading an escalation: every version decrypted, its signature checked, its changes shown.

A sent summary is immutable and signed (Ed25519) by the adviser over the mission, its
ledger number, the version and the SHA-256 of the text, and (for versions signed since
advisers are asked) whether it contradicts an official report or figure and the SHA-256
of the statement naming it (``official_record``). A correction is a new version;
each version's difference from the one before is shown to everyone who can read them.
The signed bytes are defined here, once: escalating signs them, reading checks them,
and an export tells an outside reader how to check them.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..crypto import DecryptionError, Identity, KeyFormatError, SignatureError, VerifyKey
from ..models import Escalation, EscalationVersion, Observation, StaffUser
from .content import open_document
from .official_record import RecordClaim

SIGNATURE_PURPOSE = "escalation-summary"
# The line that opens the statement about the official record in the signed bytes.
RECORD_LINE = "official-record"


class SignatureProblem(enum.Enum):
    """What is wrong with a version, when something is."""

    TEXT_CHANGED = "the text does not match its recorded hash"
    FOREIGN_KEY = "the signing key is not the author's"
    BAD_SIGNATURE = "the signature does not verify"
    RECORD_CHANGED = "the statement about the official record does not match its recorded hash"
    UNREADABLE = "the reader's key cannot open this version"


def summary_hash(text: str) -> str:
    """Return the SHA-256 (hex) of a summary's exact text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def signed_message(
    *,
    mission_slug: str,
    ledger_number: int,
    version: int,
    sha256_hex: str,
    contradicts_record: bool | None = None,
    record_sha256: str | None = None,
) -> bytes:
    """Return the bytes an adviser signs for one version of an escalation.

    Four lines: mission, ledger number, version, the text's SHA-256. A version that
    states whether it contradicts the official record adds three: "official-record",
    "contradicts" or "none", and the statement's SHA-256. Versions signed before the
    statement existed have neither, so their bytes (and signatures) are as they were;
    and a stated version cannot pass for an old one, whose bytes are four lines.
    """
    lines = [mission_slug, str(ledger_number), str(version), sha256_hex]
    if contradicts_record is not None:
        if record_sha256 is None:
            raise ValueError("a statement about the official record is signed with its hash")
        lines += [RECORD_LINE, "contradicts" if contradicts_record else "none", record_sha256]
    return "\n".join(lines).encode("ascii")


def version_message(version: EscalationVersion) -> bytes:
    """Return the bytes the author of ``version`` signed, from its recorded hashes."""
    return signed_message(
        mission_slug=version.escalation.mission.slug,
        ledger_number=version.escalation.ledger_number,
        version=version.version,
        sha256_hex=version.body_sha256,
        contradicts_record=version.contradicts_record,
        record_sha256=version.record_sha256,
    )


@dataclass(frozen=True)
class OpenVersion:
    """A version as a reader sees it: text, and whether its signature holds."""

    version: EscalationVersion
    summary: str
    problem: SignatureProblem | None = None
    diff: list[tuple[str, str]] = field(default_factory=list)  # (op, text) against previous
    record: RecordClaim | None = None  # None: signed before the statement was asked

    @property
    def verified(self) -> bool:
        """Return whether the text is the one the author signed."""
        return self.problem is None


def _record_changed(version: EscalationVersion, record: RecordClaim | None) -> bool:
    """Return whether the sealed statement and its recorded flag and hash disagree."""
    if version.contradicts_record is None:
        return record is not None or version.record_sha256 is not None
    return (
        record is None
        or record.contradicts != version.contradicts_record
        or record.sha256() != version.record_sha256
    )


def verify_version(
    version: EscalationVersion,
    summary: str,
    *,
    signer: StaffUser,
    record: RecordClaim | None = None,
) -> SignatureProblem | None:
    """Return None if the version is authentic, else what is wrong with it
    (``record``: the statement about the official record sealed with the text)."""
    if summary_hash(summary) != version.body_sha256:
        return SignatureProblem.TEXT_CHANGED
    if _record_changed(version, record):
        return SignatureProblem.RECORD_CHANGED
    if signer.verify_key != version.verify_key:
        return SignatureProblem.FOREIGN_KEY
    try:
        VerifyKey.from_text(version.verify_key).verify(
            version_message(version), version.signature, purpose=SIGNATURE_PURPOSE
        )
    except (SignatureError, KeyFormatError):
        return SignatureProblem.BAD_SIGNATURE
    return None


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
            document = open_document(version.body, identities=[identity])
        except DecryptionError:
            out.append(OpenVersion(version, "", SignatureProblem.UNREADABLE))
            previous = None
            continue
        summary = str(document.get("summary", ""))
        record = RecordClaim.from_document(document.get("record"))
        problem = verify_version(version, summary, signer=version.author, record=record)
        diff = word_diff(previous, summary) if previous is not None else []
        out.append(OpenVersion(version, summary, problem, diff, record))
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
