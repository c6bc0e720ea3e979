"""Ed25519 signatures, for escalations: age encrypts but does not sign.

Every signature is over a purpose label and the message, so a signature made for one
purpose (an escalated summary) can never be presented as one for another.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from ._encoding import b64decode, b64encode
from .errors import KeyFormatError, SignatureError

_DOMAIN = b"dissent/v1/signature\x00"


def _signed_bytes(message: bytes, purpose: str) -> bytes:
    try:
        label = purpose.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("a signature purpose must be valid text") from exc
    if not label or b"\x00" in label:
        raise ValueError("a signature purpose is a non-empty label without NUL")
    return _DOMAIN + label + b"\x00" + message


class VerifyKey:
    """An Ed25519 public key."""

    def __init__(self, public_bytes: bytes) -> None:
        if len(public_bytes) != 32:
            raise KeyFormatError("an Ed25519 public key is 32 bytes")
        self.public_bytes = public_bytes
        self._key = ed25519.Ed25519PublicKey.from_public_bytes(public_bytes)

    @classmethod
    def from_text(cls, text: str) -> VerifyKey:
        """Parse the base64 form written by :meth:`to_text`."""
        try:
            return cls(b64decode(text.strip()))
        except ValueError as exc:
            raise KeyFormatError(f"invalid verify key: {exc}") from exc

    def to_text(self) -> str:
        """Return the key as unpadded base64."""
        return b64encode(self.public_bytes)

    def verify(self, message: bytes, signature: bytes, *, purpose: str) -> None:
        """Return if ``signature`` is valid for ``message``; raise :class:`SignatureError`."""
        try:
            self._key.verify(signature, _signed_bytes(message, purpose))
        except InvalidSignature as exc:
            raise SignatureError("signature does not verify") from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyKey) and other.public_bytes == self.public_bytes

    def __hash__(self) -> int:
        return hash(self.public_bytes)

    def __repr__(self) -> str:
        return f"<VerifyKey {self.to_text()[:12]}…>"


class SigningKey:
    """An Ed25519 private key. Its seed is only given out by an explicit call."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise KeyFormatError("an Ed25519 seed is 32 bytes")
        self._seed = seed
        self._key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        self.verify_key = VerifyKey(self._key.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> SigningKey:
        """Return a new random signing key."""
        return cls(ed25519.Ed25519PrivateKey.generate().private_bytes_raw())

    def seed_bytes(self) -> bytes:
        """Return the 32-byte seed. Handle it as the secret it is."""
        return self._seed

    def sign(self, message: bytes, *, purpose: str) -> bytes:
        """Return the 64-byte signature of ``message`` for ``purpose``."""
        return self._key.sign(_signed_bytes(message, purpose))

    def __repr__(self) -> str:
        return f"<SigningKey for {self.verify_key!r}>"


def signing_key_from_secret(identity_secret: bytes) -> SigningKey:
    """Return the Ed25519 key derived from an age identity's 32 secret bytes.

    One secret per staff member, unwrapped at login, gives both their decryption key
    and their signing key; HKDF with its own label keeps the two independent.
    """
    from ._primitives import hkdf_sha256

    return SigningKey(hkdf_sha256(identity_secret, salt=b"", info=b"dissent/v1/ed25519-signing"))
