"""Reading an escalation: every version decrypted, its signature checked, its changes shown.

A sent summary is immutable and signed (Ed25519) by the adviser over the mission, its
ledger number, the version and the SHA-256 of the text. A correction is a new version;
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

SIGNATURE_PURPOSE = "escalation-summary"


class SignatureProblem(enum.Enum):
    """What is wrong with a version, when something is."""

    TEXT_CHANGED = "the text does not match its recorded hash"
    FOREIGN_KEY = "the signing key is not the author's"
    BAD_SIGNATURE = "the signature does not verify"
    UNREADABLE = "the reader's key cannot open this version"


def summary_hash(text: str) -> str:
    """Return the SHA-256 (hex) of a summary's exact text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def signed_message(
    *, mission_slug: str, ledger_number: int, version: int, sha256_hex: str
) -> bytes:
    """Return the bytes an adviser signs for one version of an escalation."""
    return f"{mission_slug}\n{ledger_number}\n{version}\n{sha256_hex}".encode("ascii")


@dataclass(frozen=True)
class OpenVersion:
    """A version as a reader sees it: text, and whether its signature holds."""

    version: EscalationVersion
    summary: str
    problem: SignatureProblem | None = None
    diff: list[tuple[str, str]] = field(default_factory=list)  # (op, text) against previous

    @property
    def verified(self) -> bool:
        """Return whether the text is the one the author signed."""
        return self.problem is None


def verify_version(
    version: EscalationVersion, summary: str, *, signer: StaffUser
) -> SignatureProblem | None:
    """Return None if the version is authentic, else what is wrong with it."""
    if summary_hash(summary) != version.body_sha256:
        return SignatureProblem.TEXT_CHANGED
    if signer.verify_key != version.verify_key:
        return SignatureProblem.FOREIGN_KEY
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
            summary = str(open_document(version.body, identities=[identity]).get("summary", ""))
        except DecryptionError:
            out.append(OpenVersion(version, "", SignatureProblem.UNREADABLE))
            previous = None
            continue
        problem = verify_version(version, summary, signer=version.author)
        diff = word_diff(previous, summary) if previous is not None else []
        out.append(OpenVersion(version, summary, problem, diff))
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
