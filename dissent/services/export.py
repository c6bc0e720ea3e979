"""``dissent export``: one observation's ciphertexts as ``.age`` files, for offline use.

Everything a source, an adviser or leadership wrote about an observation is stored as an
age file encrypted to (among others) the instance's recovery key. An export copies those
files as they are (every kind ``keyring.CIPHERTEXTS`` names), with a manifest of what
each one is, so that they can be opened without this server: by an adviser with their
exported identity, or by the recovery key's custodians after ``dissent recovery
combine``; advisers are never locked into this server. Nothing is decrypted here; the
operator who runs the command learns nothing the database did not already show in
clear.

The folder is written under a temporary name next to the target and renamed into place
at the end, so an interrupted export leaves no half-written folder behind under the
name asked for. Files are readable by their owner only.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
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
    EscalationVersion,
    Message,
    Note,
    Observation,
    Proposal,
    Response,
    StateChange,
    today,
)
from . import audit
from .errors import NotFound
from .keyring import Ciphertext, observation_kinds, records_of
from .storage import BlobMissing, fsync_dir, open_blob
from .transaction import on_commit, on_rollback
from .verification import SIGNATURE_PURPOSE, version_message

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
(signed_message: mission, ledger number, version and that hash, one per line; for a
version that states whether it contradicts an official report or figure, then the line
"official-record", "contradicts" or "none", and record_sha256: the SHA-256 of the
statement's "record" object in the summary file, as compact JSON with sorted keys), and
the Ed25519 signature and public key (verify_key, base64). The signature is over the
bytes "dissent/v1/signature", a zero byte, signature_purpose, a zero byte,
signed_message.

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

    def add_blob(
        self, name: str, session: Session, settings: Settings, blob_name: str, **about: Any
    ) -> None:
        source = open_blob(session, settings, blob_name)
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out, source:
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

    Returns the manifest's file list. The export is recorded in the audit ledger in the
    caller's transaction; if that transaction does not commit, the folder is removed
    again (an export nobody recorded must not exist). Raises NotFound for an unknown
    reference and ExportError when the folder cannot be written.
    """
    observation = session.scalar(select(Observation).where(Observation.ref == ref))
    if observation is None:
        raise NotFound(f"no observation {ref}")
    audit.record(session, actor=actor, action=audit.Action.EXPORT, subject=observation.ref)
    session.flush()  # recorded before the folder appears
    try:
        with _folder_in_place(folder) as temporary:
            files = _write_export(session, settings, observation, temporary)
    except OSError as exc:
        raise ExportError(f"cannot write {folder}: {exc.strerror or exc}") from exc
    on_rollback(session, functools.partial(shutil.rmtree, folder, ignore_errors=True))
    on_commit(session, functools.partial(fsync_dir, folder.parent))
    return files


# How each kind of ciphertext is named and described in the export. A kind without an
# entry here is still exported, under its registered name (nothing is left out).
_Describe = Callable[[Any, int, Observation], tuple[str, dict[str, Any]]]


def _observation(record: Observation, _n: int, _o: Observation) -> tuple[str, dict[str, Any]]:
    return "observation.age", {"what": "observation", "date": _day(record.received_on)}


def _message(record: Message, n: int, _o: Observation) -> tuple[str, dict[str, Any]]:
    return f"message-{n:03d}.age", {
        "what": "message",
        "sender": record.sender.value,
        "kind": record.kind.value,
        "date": _day(record.sent_on),
    }


def _attachment(record: Attachment, n: int, _o: Observation) -> tuple[str, dict[str, Any]]:
    return f"attachment-{n:02d}.age", {
        "what": "attachment",
        "sender": record.sender.value,
        "date": _day(record.added_on),
        "meta": f"attachment-{n:02d}-meta.age",
    }


def _attachment_meta(_r: Attachment, n: int, _o: Observation) -> tuple[str, dict[str, Any]]:
    return f"attachment-{n:02d}-meta.age", {"what": "attachment name and type"}


def _note(record: Note, n: int, _o: Observation) -> tuple[str, dict[str, Any]]:
    return f"note-{n:02d}.age", {"what": "adviser note", "date": _day(record.created_at)}


def _reason(record: StateChange, n: int, _o: Observation) -> tuple[str, dict[str, Any]]:
    return f"state-change-{n:02d}-reason.age", {
        "what": "reason for a state change",
        "from_state": record.from_state.value,
        "to_state": record.to_state.value,
        "date": _day(record.at),
    }


def _proposal(record: Proposal, n: int, _o: Observation) -> tuple[str, dict[str, Any]]:
    return f"proposal-{n:02d}.age", {
        "what": "summary proposed to the source",
        "status": record.status.value,
        "date": _day(record.created_at),
    }


def _version(record: EscalationVersion, _n: int, _o: Observation) -> tuple[str, dict[str, Any]]:
    escalation = record.escalation
    return f"escalation-{escalation.label}-v{record.version}.age", {
        "what": "escalated summary",
        "ledger": escalation.label,
        "ledger_number": escalation.ledger_number,
        "version": record.version,
        "date": _day(record.created_at),
        "summary_sha256": record.body_sha256,
        "contradicts_record": record.contradicts_record,
        "record_sha256": record.record_sha256,
        "signed_message": version_message(record).decode("ascii"),
        "signature_purpose": SIGNATURE_PURPOSE,
        "signature": record.signature.hex(),
        "verify_key": record.verify_key,
    }


def _response(record: Response, _n: int, _o: Observation) -> tuple[str, dict[str, Any]]:
    escalation = record.escalation
    number = [r.id for r in escalation.responses].index(record.id) + 1
    return f"escalation-{escalation.label}-response-{number:02d}.age", {
        "what": "leadership response",
        "ledger": escalation.label,
        "kind": record.kind.value,
        "planned_for": _day(record.planned_for),
        "date": _day(record.created_at),
    }


DESCRIBE: dict[str, _Describe] = {
    "observation": _observation,
    "message": _message,
    "attachment description": _attachment_meta,
    "attachment": _attachment,
    "note": _note,
    "state change reason": _reason,
    "proposal": _proposal,
    "escalation version": _version,
    "response": _response,
}


def _generic(kind: Ciphertext) -> _Describe:
    stem = kind.kind.replace(" ", "-")

    def describe(_record: Any, n: int, _o: Observation) -> tuple[str, dict[str, Any]]:
        return f"{stem}-{n:02d}.age", {"what": kind.kind}

    return describe


def _write_export(
    session: Session, settings: Settings, observation: Observation, folder: Path
) -> list[dict[str, Any]]:
    out = _Writer(folder)
    for kind in observation_kinds():
        describe = DESCRIBE.get(kind.kind) or _generic(kind)
        for number, record in enumerate(records_of(session, kind, observation.id), 1):
            name, about = describe(record, number, observation)
            stored = getattr(record, kind.column.key)
            if not kind.in_file:
                out.add(name, stored, **about)
                continue
            try:
                out.add_blob(name, session, settings, stored, **about)
            except BlobMissing as exc:
                raise ExportError(
                    f"{kind.kind} {number} ({stored}) is missing from the blob folder; "
                    "restore it from a backup, then export again"
                ) from exc
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
