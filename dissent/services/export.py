"""``dissent export``: one observation's ciphertexts as ``.age`` files, for offline use.

Everything a source, an adviser or leadership wrote about an observation is stored as an
age file encrypted to (among others) the instance's recovery key. An export copies those
files as they are, with a manifest of what each one is, so that they can be opened
without this server: by an adviser with their exported identity, or by the recovery
key's custodians after ``dissent recovery combine`` (DESIGN §3: "advisers are never
locked into this server"). Nothing is decrypted here; the operator who runs the command
learns nothing the database did not already show in clear.

The folder is written under a temporary name next to the target and renamed into place
at the end, so an interrupted export leaves no half-written folder behind under the
name asked for. Files are readable by their owner only.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import (
    Attachment,
    Escalation,
    Message,
    Note,
    Observation,
    Proposal,
    StateChange,
    today,
)
from . import audit
from .errors import NotFound
from .escalation import SIGNATURE_PURPOSE, signed_message
from .storage import BlobMissing, fsync_dir, open_blob

MANIFEST = "manifest.json"
README = "README.txt"
FORMAT_VERSION = 1

_README_TEXT = """\
An export of one dissent observation: its ciphertexts, as stored, and a manifest.

Every .age file is an age v1 file. Each is encrypted to the observation's advisers at
the time it was written, to the instance's recovery key and, for what the source can
read, to the source. Open one with an identity file:

    dissent age decrypt --unpad -i IDENTITY_FILE observation.age

(--unpad removes dissent's length-hiding padding; the standard `age -d` shows it as a
0x80 byte followed by zero bytes at the end.) Texts are JSON documents; attachments are
the files as uploaded, after metadata cleaning, with their names and types in the
matching -meta.age file. manifest.json says what each file is and when it was written.

For an escalated summary it also gives what leadership's page verified: the SHA-256 of
the summary's exact text (summary_sha256), the message the adviser signed
(signed_message: mission, ledger number, version and that hash, one per line), and the
Ed25519 signature and public key (verify_key, base64). The signature is over the bytes
"dissent/v1/signature", a zero byte, signature_purpose, a zero byte, signed_message.

Keep this folder as carefully as the identity that opens it.
"""


class ExportError(Exception):
    """The export cannot be written (the folder exists, or the disk refused)."""


@dataclass
class _Writer:
    folder: Path
    files: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, data: bytes, **about: Any) -> None:
        _write_private(self.folder / name, data)
        self.files.append({"file": name, **about})

    def add_blob(self, name: str, settings: Settings, blob_name: str, **about: Any) -> None:
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out, open_blob(settings, blob_name) as source:
            shutil.copyfileobj(source, out, length=1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        self.files.append({"file": name, **about})


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _day(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return (value.date() if isinstance(value, datetime) else value).isoformat()


@contextmanager
def _folder_in_place(target: Path) -> Iterator[Path]:
    """Yield a private temporary folder that becomes ``target`` if the block succeeds."""
    if target.exists():
        raise ExportError(f"{target} exists already; choose a new folder")
    parent = target.parent
    if not parent.is_dir():
        raise ExportError(f"{parent} is not a folder")
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def export_observation(
    session: Session, settings: Settings, *, ref: str, folder: Path, actor: str = "cli"
) -> list[dict[str, Any]]:
    """Write observation ``ref``'s ciphertexts and a manifest into the new ``folder``.

    Returns the manifest's file list. The export is recorded in the audit ledger.
    Raises NotFound for an unknown reference and ExportError when the folder cannot
    be written.
    """
    observation = session.scalar(select(Observation).where(Observation.ref == ref))
    if observation is None:
        raise NotFound(f"no observation {ref}")
    try:
        with _folder_in_place(folder) as temporary:
            files = _write_export(session, settings, observation, temporary)
            # In the ledger before the folder appears: an export nobody recorded must not
            # exist. If the commit fails after the rename, the folder is removed again.
            audit.record(session, actor=actor, action=audit.Action.EXPORT, subject=observation.ref)
            session.flush()
    except OSError as exc:
        session.rollback()
        raise ExportError(f"cannot write {folder}: {exc.strerror or exc}") from exc
    except BaseException:
        session.rollback()
        raise
    try:
        session.commit()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    fsync_dir(folder.parent)
    return files


def _write_export(
    session: Session, settings: Settings, observation: Observation, folder: Path
) -> list[dict[str, Any]]:
    out = _Writer(folder)
    out.add(
        "observation.age",
        observation.content,
        what="observation",
        date=_day(observation.received_on),
    )
    messages = session.scalars(
        select(Message).where(Message.observation_id == observation.id).order_by(Message.id)
    )
    for number, message in enumerate(messages, 1):
        out.add(
            f"message-{number:03d}.age",
            message.body,
            what="message",
            sender=message.sender.value,
            kind=message.kind.value,
            date=_day(message.sent_on),
        )
    attachments = session.scalars(
        select(Attachment)
        .where(Attachment.observation_id == observation.id)
        .order_by(Attachment.id)
    )
    for number, attachment in enumerate(attachments, 1):
        stem = f"attachment-{number:02d}"
        try:
            out.add_blob(
                f"{stem}.age",
                settings,
                attachment.blob_name,
                what="attachment",
                sender=attachment.sender.value,
                date=_day(attachment.added_on),
                meta=f"{stem}-meta.age",
            )
        except BlobMissing as exc:
            raise ExportError(
                f"attachment {number} ({attachment.blob_name}) is missing from the blob "
                "folder; restore it from a backup, then export again"
            ) from exc
        out.add(f"{stem}-meta.age", attachment.meta, what="attachment name and type")
    notes = session.scalars(
        select(Note).where(Note.observation_id == observation.id).order_by(Note.id)
    )
    for number, note in enumerate(notes, 1):
        out.add(
            f"note-{number:02d}.age", note.body, what="adviser note", date=_day(note.created_at)
        )
    changes = session.scalars(
        select(StateChange)
        .where(StateChange.observation_id == observation.id, StateChange.reason.is_not(None))
        .order_by(StateChange.id)
    )
    for number, change in enumerate(changes, 1):
        assert change.reason is not None  # selected for it
        out.add(
            f"state-change-{number:02d}-reason.age",
            change.reason,
            what="reason for a state change",
            from_state=change.from_state.value,
            to_state=change.to_state.value,
            date=_day(change.at),
        )
    proposals = session.scalars(
        select(Proposal).where(Proposal.observation_id == observation.id).order_by(Proposal.id)
    )
    for number, proposal in enumerate(proposals, 1):
        out.add(
            f"proposal-{number:02d}.age",
            proposal.body,
            what="summary proposed to the source",
            status=proposal.status.value,
            date=_day(proposal.created_at),
        )
    escalations = session.scalars(
        select(Escalation)
        .where(Escalation.observation_id == observation.id)
        .order_by(Escalation.id)
    )
    for escalation in escalations:
        for version in escalation.versions:
            out.add(
                f"escalation-{escalation.label}-v{version.version}.age",
                version.body,
                what="escalated summary",
                ledger=escalation.label,
                ledger_number=escalation.ledger_number,
                version=version.version,
                date=_day(version.created_at),
                summary_sha256=version.body_sha256,
                signed_message=signed_message(
                    mission_slug=escalation.mission.slug,
                    ledger_number=escalation.ledger_number,
                    version=version.version,
                    sha256_hex=version.body_sha256,
                ).decode("ascii"),
                signature_purpose=SIGNATURE_PURPOSE,
                signature=version.signature.hex(),
                verify_key=version.verify_key,
            )
        for number, response in enumerate(escalation.responses, 1):
            out.add(
                f"escalation-{escalation.label}-response-{number:02d}.age",
                response.body,
                what="leadership response",
                ledger=escalation.label,
                kind=response.kind.value,
                planned_for=_day(response.planned_for),
                date=_day(response.created_at),
            )
    manifest = {
        "format": f"dissent-export/{FORMAT_VERSION}",
        "exported_on": today().isoformat(),
        "ref": observation.ref,
        "mission": observation.mission.slug,
        "category": observation.category.value,
        "consent": observation.consent.value,
        "state": observation.state.value,
        "received_on": _day(observation.received_on),
        "acknowledged_on": _day(observation.acknowledged_on),
        "feedback_given_on": _day(observation.feedback_given_on),
        "closed_on": _day(observation.closed_on),
        "key_kind": settings.key_kind.value,
        "files": out.files,
    }
    _write_private(folder / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    _write_private(folder / README, _README_TEXT.encode())
    return out.files
