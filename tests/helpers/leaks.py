"""Looking for secrets where they must not be: logs, files, any encoding."""

from __future__ import annotations

import base64
import logging
from pathlib import Path


def encodings(text: str) -> dict[str, bytes]:
    """Return ``text`` as it could appear in a file: UTF-8, UTF-16, hex, base64.

    Base64 depends on where the text starts within its 3-byte group, so each of the
    three alignments is given, without the edge characters that neighbours change.
    """
    raw = text.encode()
    found = {
        "utf-8": raw,
        "utf-16-le": text.encode("utf-16-le"),
        "utf-16-be": text.encode("utf-16-be"),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
    }
    for shift in range(3):
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            encoded = encode(b"\0" * shift + raw)
            found[f"{name}+{shift}"] = encoded[4 if shift else 0 : -4]
    return found


def leaks(haystack: bytes, secrets: dict[str, str]) -> list[str]:
    """Return which secret, in which encoding, ``haystack`` contains."""
    return [
        f"{label} as {form}"
        for label, text in secrets.items()
        for form, needle in encodings(text).items()
        if needle in haystack
    ]


def capture_all_logging(caplog) -> None:
    """Let every logger, including quiet ones, reach caplog at DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)


def instance_files(app) -> dict[str, bytes]:
    """Return the bytes of every file in the instance folder."""
    root = Path(app.instance_path)
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
