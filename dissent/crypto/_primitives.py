"""Thin wrappers over the ``cryptography`` primitives that the age format uses."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ZERO_NONCE = bytes(12)


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """Return HKDF-SHA-256 (extract then expand) of ``ikm``."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def seal_file_key(wrap_key: bytes, file_key: bytes) -> bytes:
    """Encrypt a file key under a one-time wrap key with the fixed zero nonce."""
    return ChaCha20Poly1305(wrap_key).encrypt(ZERO_NONCE, file_key, None)


def open_file_key(wrap_key: bytes, body: bytes) -> bytes | None:
    """Return the file key in ``body``, or ``None`` if the tag does not verify."""
    try:
        return ChaCha20Poly1305(wrap_key).decrypt(ZERO_NONCE, body, None)
    except InvalidTag:
        return None
