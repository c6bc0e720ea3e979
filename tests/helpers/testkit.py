"""Load the C2SP age test vectors copied into ``tests/crypto/testkit`` (see ORIGIN.md)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

TESTKIT = Path(__file__).resolve().parents[1] / "crypto" / "testkit"
KNOWN_KEYS = {
    "expect",
    "payload",
    "identity",
    "passphrase",
    "armored",
    "file key",
    "comment",
    "compressed",
}


@dataclass
class Vector:
    name: str
    expect: str
    payload_sha256: str | None
    identities: list[str] = field(default_factory=list)
    passphrases: list[str] = field(default_factory=list)
    armored: bool = False
    body: bytes = b""


def load_vectors() -> list[Vector]:
    vectors = []
    for path in sorted(TESTKIT.iterdir()):
        if path.name == "ORIGIN.md":
            continue
        raw = path.read_bytes()
        head, _, body = raw.partition(b"\n\n")
        fields: list[tuple[str, str]] = []
        for line in head.decode().splitlines():
            key, _, value = line.partition(": ")
            fields.append((key, value))
        keys = {k for k, _ in fields}
        assert keys <= KNOWN_KEYS, f"{path.name}: unknown key {keys - KNOWN_KEYS}"
        get = dict(fields)
        if get.get("compressed") == "zlib":
            body = zlib.decompress(body)
        vectors.append(
            Vector(
                name=path.name,
                expect=get["expect"],
                payload_sha256=get.get("payload"),
                identities=[v for k, v in fields if k == "identity"],
                passphrases=[v for k, v in fields if k == "passphrase"],
                armored=get.get("armored") == "yes",
                body=body,
            )
        )
    return vectors
