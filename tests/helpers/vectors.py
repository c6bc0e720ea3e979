"""Pick official age test vectors by name and read the file key each one records."""

from __future__ import annotations

from tests.helpers.testkit import TESTKIT, Vector, load_vectors

VECTORS = load_vectors()


def vectors(*prefixes: str, expect: str | None = None, armored: bool | None = None) -> list[Vector]:
    """Return the vectors whose name starts with one of ``prefixes`` (all when none given)."""
    return [
        v
        for v in VECTORS
        if (not prefixes or v.name.startswith(prefixes))
        and (expect is None or v.expect == expect)
        and (armored is None or v.armored == armored)
    ]


def file_key(vector: Vector) -> bytes:
    """Return the file key the vector's ``file key:`` line gives (the loader drops it)."""
    head = (TESTKIT / vector.name).read_bytes().partition(b"\n\n")[0].decode()
    for line in head.splitlines():
        key, _, value = line.partition(": ")
        if key == "file key":
            return bytes.fromhex(value)
    raise AssertionError(f"{vector.name} has no file key")


def vector_id(vector: Vector) -> str:
    """Name a parametrised case after its vector."""
    return vector.name
