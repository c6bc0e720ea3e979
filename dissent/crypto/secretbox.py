"""Symmetric authenticated encryption for short-lived server-side secrets.

Used for the split-knowledge session store (the key lives only in the user's cookie)
and for values sealed under an instance key. Not for content: content is age.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from ._primitives import hkdf_sha256
from .errors import DecryptionError

KEY_SIZE = 32
_NONCE_SIZE = 12


def generate_key() -> bytes:
    """Return a new random 32-byte key."""
    return os.urandom(KEY_SIZE)


def derive_key(master: bytes, *, purpose: str) -> bytes:
    """Return a 32-byte key for ``purpose`` derived from a master secret."""
    return hkdf_sha256(master, salt=b"dissent/v1/secretbox", info=purpose.encode("utf-8"))


def seal(data: bytes, *, key: bytes, context: bytes = b"") -> bytes:
    """Return ``nonce || ciphertext`` of ``data``, bound to ``context``."""
    nonce = os.urandom(_NONCE_SIZE)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, data, context)


def open_sealed(blob: bytes, *, key: bytes, context: bytes = b"") -> bytes:
    """Return the data in ``blob``; raise :class:`DecryptionError` if it was altered."""
    if len(key) != KEY_SIZE or len(blob) < _NONCE_SIZE + 16:
        raise DecryptionError("sealed value is malformed")
    try:
        return ChaCha20Poly1305(key).decrypt(blob[:_NONCE_SIZE], blob[_NONCE_SIZE:], context)
    except InvalidTag as exc:
        raise DecryptionError("sealed value does not authenticate") from exc
