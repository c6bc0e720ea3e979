"""Encrypted JSON documents: how every text is stored (padded, then age)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..crypto import DecryptionError, Identity, Recipient, decrypt, encrypt

FORMAT_VERSION = 1


def seal_document(document: dict[str, Any], *, recipients: Sequence[Recipient]) -> bytes:
    """Return ``document`` as JSON, padded to its size bucket and encrypted."""
    plaintext = json.dumps({"v": FORMAT_VERSION, **document}, ensure_ascii=False).encode()
    return encrypt(plaintext, recipients=recipients, pad=True)


def open_document(blob: bytes, *, identities: Sequence[Identity]) -> dict[str, Any]:
    """Return the document in ``blob``; a foreign or altered blob is a DecryptionError."""
    plaintext = decrypt(blob, identities=identities, padded=True)
    try:
        document = json.loads(plaintext)
    except ValueError as exc:
        raise DecryptionError("decrypted content is not a document") from exc
    if not isinstance(document, dict) or document.get("v") != FORMAT_VERSION:
        raise DecryptionError("decrypted content has an unknown format")
    return document
