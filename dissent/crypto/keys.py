"""Identities and recipients of the three native age types dissent uses.

* X25519 (``age1…`` / ``AGE-SECRET-KEY-1…``),
* the post-quantum hybrid ML-KEM-768 + X25519, i.e. X-Wing (``age1pq1…`` /
  ``AGE-SECRET-KEY-PQ-1…``), through the HPKE implementation of ``cryptography``,
* scrypt passphrases.

A recipient turns a file key into stanzas; an identity recognises its stanzas and
returns the file key. Secrets never appear in ``repr``; formatting one is an explicit
call (``identity.secret_string()``) so that a stray log line cannot print a key.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ._encoding import b64decode, b64encode, bech32_decode, bech32_encode
from ._header import Stanza
from ._primitives import hkdf_sha256, open_file_key, seal_file_key
from .errors import HeaderError, KeyFormatError

FILE_KEY_SIZE = 16
_WRAPPED_KEY_SIZE = FILE_KEY_SIZE + 16

# --- X25519 -----------------------------------------------------------------------

_X25519_TYPE = "X25519"
_X25519_INFO = b"age-encryption.org/v1/X25519"
_X25519_HRP = "age"
_X25519_SECRET_HRP = "age-secret-key-"  # noqa: S105 (a Bech32 prefix)

# --- ML-KEM-768 + X25519 (X-Wing) ----------------------------------------------------

_HYBRID_TYPE = "mlkem768x25519"
_HYBRID_INFO = b"age-encryption.org/mlkem768x25519"
_HYBRID_HRP = "age1pq"
_HYBRID_SECRET_HRP = "age-secret-key-pq-"  # noqa: S105 (a Bech32 prefix)
_MLKEM768_PUBLIC_SIZE = 1184
_MLKEM768_CIPHERTEXT_SIZE = 1088
_HYBRID_PUBLIC_SIZE = _MLKEM768_PUBLIC_SIZE + 32
_HYBRID_ENC_SIZE = _MLKEM768_CIPHERTEXT_SIZE + 32
_HPKE_SUITE = hpke.Suite(
    hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305
)

# --- scrypt ---------------------------------------------------------------------------

_SCRYPT_TYPE = "scrypt"
_SCRYPT_SALT_LABEL = b"age-encryption.org/v1/scrypt"
_SCRYPT_WORK_FACTOR_RE = re.compile(r"\A[1-9][0-9]*\Z")
# The highest scrypt work factor (log2 N) we will compute when opening a file. 2^22
# with r=8 needs 4 GiB and several seconds: anything above is a denial of service, not
# a passphrase file a person made. It is also the limit of the reference implementation.
MAX_SCRYPT_WORK_FACTOR = 22
# The work factor used when we create passphrase files ourselves: age's default, about
# one second and 256 MiB, suitable for files a person opens at a terminal.
DEFAULT_SCRYPT_WORK_FACTOR = 18


class KeyKind(enum.Enum):
    """The kind of asymmetric key an instance uses for every key holder.

    The specification advises against encrypting one file to both kinds: the
    post-quantum protection would be only as strong as the X25519 stanza next to it.
    """

    X25519 = "x25519"
    HYBRID = "mlkem768x25519"


class Recipient(ABC):
    """Something a file can be encrypted to."""

    @abstractmethod
    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Return the stanzas that carry ``file_key`` to this recipient."""


class Identity(ABC):
    """Something that can open files addressed to it."""

    @abstractmethod
    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """Return the file key from the first stanza addressed to us, or ``None``.

        Raises :class:`HeaderError` for a stanza of our type that is malformed, as the
        specification requires rejecting rather than skipping those.
        """


class PublicKeyRecipient(Recipient):
    """A recipient with a Bech32 public key (``age1…``)."""

    kind: KeyKind
    public_bytes: bytes

    def __str__(self) -> str:
        return self.encode()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.encode()[:16]}…>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKeyRecipient) and (self.kind, self.public_bytes) == (
            other.kind,
            other.public_bytes,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.public_bytes))

    @abstractmethod
    def encode(self) -> str:
        """Return the Bech32 string of this recipient."""


class KeyPairIdentity(Identity):
    """An identity with a public recipient; the secret is formatted only on request."""

    kind: KeyKind

    @property
    @abstractmethod
    def recipient(self) -> PublicKeyRecipient:
        """Return the public recipient that belongs to this identity."""

    @abstractmethod
    def secret_string(self) -> str:
        """Return the ``AGE-SECRET-KEY-…`` string. Handle it as the secret it is."""

    @abstractmethod
    def secret_bytes(self) -> bytes:
        """Return the 32 secret bytes of the identity."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} for {self.recipient!r}>"


# --- X25519 ---------------------------------------------------------------------------


class X25519Recipient(PublicKeyRecipient):
    """An ``age1…`` recipient."""

    kind = KeyKind.X25519

    def __init__(self, public_bytes: bytes) -> None:
        if len(public_bytes) != 32:
            raise KeyFormatError("an X25519 recipient is 32 bytes")
        self.public_bytes = public_bytes
        self._key = x25519.X25519PublicKey.from_public_bytes(public_bytes)
        try:
            # A low-order point gives an all-zero secret for every sender: refuse it
            # now, not at the first encryption to a set that contains it.
            x25519.X25519PrivateKey.generate().exchange(self._key)
        except ValueError as exc:
            raise KeyFormatError("the X25519 recipient is a low-order point") from exc

    def encode(self) -> str:
        """Return the ``age1…`` string."""
        return bech32_encode(_X25519_HRP, self.public_bytes)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Return one fresh X25519 stanza for ``file_key``."""
        ephemeral = x25519.X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes_raw()
        shared = ephemeral.exchange(self._key)
        wrap_key = hkdf_sha256(shared, salt=share + self.public_bytes, info=_X25519_INFO)
        body = seal_file_key(wrap_key, file_key)
        return [Stanza(args=(_X25519_TYPE, b64encode(share)), body=body)]


class X25519Identity(KeyPairIdentity):
    """An ``AGE-SECRET-KEY-1…`` identity."""

    kind = KeyKind.X25519

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise KeyFormatError("an X25519 identity is 32 bytes")
        self._secret = secret
        self._key = x25519.X25519PrivateKey.from_private_bytes(secret)
        self._recipient = X25519Recipient(self._key.public_key().public_bytes_raw())

    @property
    def recipient(self) -> X25519Recipient:
        """Return the ``age1…`` recipient."""
        return self._recipient

    def secret_string(self) -> str:
        """Return the ``AGE-SECRET-KEY-1…`` string."""
        return bech32_encode(_X25519_SECRET_HRP, self._secret).upper()

    def secret_bytes(self) -> bytes:
        """Return the 32-byte scalar."""
        return self._secret

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """Return the file key from an X25519 stanza addressed to us, if any."""
        for stanza in stanzas:
            if stanza.type != _X25519_TYPE:
                continue
            share = _stanza_value(stanza, arg_count=2, size=32, what="X25519 share")
            shared = _x25519_shared(self._key, share)
            salt = share + self._recipient.public_bytes
            wrap_key = hkdf_sha256(shared, salt=salt, info=_X25519_INFO)
            file_key = open_file_key(wrap_key, stanza.body)
            if file_key is not None:
                return file_key
        return None


# --- hybrid ---------------------------------------------------------------------------


class HybridRecipient(PublicKeyRecipient):
    """An ``age1pq1…`` recipient: ML-KEM-768 + X25519 (X-Wing) through HPKE."""

    kind = KeyKind.HYBRID

    def __init__(self, public_bytes: bytes) -> None:
        if len(public_bytes) != _HYBRID_PUBLIC_SIZE:
            raise KeyFormatError(f"a hybrid recipient is {_HYBRID_PUBLIC_SIZE} bytes")
        try:
            mlkem_key = mlkem.MLKEM768PublicKey.from_public_bytes(
                public_bytes[:_MLKEM768_PUBLIC_SIZE]
            )
        except ValueError as exc:
            raise KeyFormatError("the ML-KEM part of the recipient is invalid") from exc
        x_key = x25519.X25519PublicKey.from_public_bytes(public_bytes[_MLKEM768_PUBLIC_SIZE:])
        self.public_bytes = public_bytes
        self._key = hpke.MLKEM768X25519PublicKey(mlkem_key, x_key)

    def encode(self) -> str:
        """Return the ``age1pq1…`` string."""
        return bech32_encode(_HYBRID_HRP, self.public_bytes)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Return one fresh mlkem768x25519 stanza for ``file_key``."""
        sealed = _HPKE_SUITE.encrypt(file_key, self._key, info=_HYBRID_INFO)
        enc, body = sealed[:_HYBRID_ENC_SIZE], sealed[_HYBRID_ENC_SIZE:]
        return [Stanza(args=(_HYBRID_TYPE, b64encode(enc)), body=body)]


class HybridIdentity(KeyPairIdentity):
    """An ``AGE-SECRET-KEY-PQ-1…`` identity: a 32-byte seed expanded as X-Wing does."""

    kind = KeyKind.HYBRID

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise KeyFormatError("a hybrid identity is a 32-byte seed")
        self._seed = seed
        # X-Wing: SHAKE256(seed, 96) gives the ML-KEM (d, z) seed and the X25519 scalar.
        expanded = hashlib.shake_256(seed).digest(96)
        mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        self._x_key = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
        self._key = hpke.MLKEM768X25519PrivateKey(mlkem_key, self._x_key)
        public = (
            mlkem_key.public_key().public_bytes_raw() + self._x_key.public_key().public_bytes_raw()
        )
        self._recipient = HybridRecipient(public)

    @property
    def recipient(self) -> HybridRecipient:
        """Return the ``age1pq1…`` recipient."""
        return self._recipient

    def secret_string(self) -> str:
        """Return the ``AGE-SECRET-KEY-PQ-1…`` string."""
        return bech32_encode(_HYBRID_SECRET_HRP, self._seed).upper()

    def secret_bytes(self) -> bytes:
        """Return the 32-byte seed."""
        return self._seed

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """Return the file key from a hybrid stanza addressed to us, if any."""
        for stanza in stanzas:
            if stanza.type != _HYBRID_TYPE:
                continue
            enc = _stanza_value(stanza, arg_count=2, size=_HYBRID_ENC_SIZE, what="enc")
            # HPKE would also fail on an all-zero X25519 secret, but only as "no match";
            # the specification wants that case rejected outright.
            _x25519_shared(self._x_key, enc[_MLKEM768_CIPHERTEXT_SIZE:])
            try:
                return _HPKE_SUITE.decrypt(enc + stanza.body, self._key, info=_HYBRID_INFO)
            except (InvalidTag, ValueError):
                continue
        return None


# --- scrypt ---------------------------------------------------------------------------


def _scrypt_wrap_key(passphrase: bytes, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=_SCRYPT_SALT_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    return kdf.derive(passphrase)


class ScryptRecipient(Recipient):
    """A passphrase to encrypt to. Must be the file's only recipient."""

    def __init__(
        self, passphrase: str | bytes, *, work_factor: int = DEFAULT_SCRYPT_WORK_FACTOR
    ) -> None:
        if not 1 <= work_factor <= MAX_SCRYPT_WORK_FACTOR:
            raise ValueError(f"scrypt work factor must be 1..{MAX_SCRYPT_WORK_FACTOR}")
        self._passphrase = _passphrase_bytes(passphrase)
        self._work_factor = work_factor

    def __repr__(self) -> str:
        return f"<ScryptRecipient work_factor={self._work_factor}>"

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """Return the single scrypt stanza for ``file_key``."""
        salt = os.urandom(16)
        wrap_key = _scrypt_wrap_key(self._passphrase, salt, self._work_factor)
        args = (_SCRYPT_TYPE, b64encode(salt), str(self._work_factor))
        return [Stanza(args=args, body=seal_file_key(wrap_key, file_key))]


class ScryptIdentity(Identity):
    """A passphrase to try on scrypt stanzas, with a cap on the work factor."""

    def __init__(
        self, passphrase: str | bytes, *, max_work_factor: int = MAX_SCRYPT_WORK_FACTOR
    ) -> None:
        self._passphrase = _passphrase_bytes(passphrase)
        self._max_work_factor = min(max_work_factor, MAX_SCRYPT_WORK_FACTOR)

    def __repr__(self) -> str:
        return "<ScryptIdentity>"

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """Return the file key if the passphrase opens the scrypt stanza."""
        for stanza in stanzas:
            if stanza.type != _SCRYPT_TYPE:
                continue
            if len(stanzas) != 1:
                raise HeaderError("an scrypt stanza must be alone in the header")
            salt = _stanza_value(stanza, arg_count=3, size=16, what="scrypt salt")
            factor_text = stanza.args[2]
            if not _SCRYPT_WORK_FACTOR_RE.match(factor_text):
                raise HeaderError("scrypt work factor is not a plain decimal number")
            # Compare as text length first so an absurd number is never converted.
            if len(factor_text) > 2 or int(factor_text) > self._max_work_factor:
                raise HeaderError(
                    f"scrypt work factor is above the limit of {self._max_work_factor}"
                )
            wrap_key = _scrypt_wrap_key(self._passphrase, salt, int(factor_text))
            return open_file_key(wrap_key, stanza.body)
        return None


# --- helpers --------------------------------------------------------------------------


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    data = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    if not data:
        raise ValueError("the passphrase is empty")
    return data


def _stanza_value(stanza: Stanza, *, arg_count: int, size: int, what: str) -> bytes:
    """Validate a stanza of our type and return its decoded second argument."""
    if len(stanza.args) != arg_count:
        raise HeaderError(f"{stanza.type} stanza has {len(stanza.args)} arguments")
    try:
        value = b64decode(stanza.args[1])
    except ValueError as exc:
        raise HeaderError(f"{what}: {exc}") from exc
    if len(value) != size:
        raise HeaderError(f"{what} has the wrong length")
    if len(stanza.body) != _WRAPPED_KEY_SIZE:
        # Checked before any decryption attempt, against partitioning oracles.
        raise HeaderError(f"{stanza.type} stanza body has the wrong length")
    return value


def _x25519_shared(key: x25519.X25519PrivateKey, share: bytes) -> bytes:
    try:
        shared = key.exchange(x25519.X25519PublicKey.from_public_bytes(share))
    except ValueError as exc:  # cryptography refuses an all-zero result
        raise HeaderError("X25519 share is a low-order point") from exc
    if shared == bytes(32):
        raise HeaderError("X25519 share is a low-order point")
    return shared


# --- generation, parsing and formatting ---------------------------------------------


def generate_identity(kind: KeyKind = KeyKind.HYBRID) -> KeyPairIdentity:
    """Return a new random identity of the given kind."""
    return identity_from_secret(os.urandom(32), kind=kind)


def identity_from_secret(secret: bytes, *, kind: KeyKind) -> KeyPairIdentity:
    """Return the identity whose 32 secret bytes are ``secret`` (e.g. a derived seed)."""
    if kind is KeyKind.HYBRID:
        return HybridIdentity(secret)
    return X25519Identity(secret)


def parse_recipient(text: str) -> PublicKeyRecipient:
    """Parse an ``age1…`` or ``age1pq1…`` string.

    Results are cached: a post-quantum recipient is almost 2,000 Bech32 characters, and
    every stored message is encrypted to the same few keys, so decoding them each time
    was half the cost of a reply. Recipients are public and immutable.
    """
    return _parse_recipient(text.strip())


@functools.lru_cache(maxsize=4096)
def _parse_recipient(text: str) -> PublicKeyRecipient:
    hrp, data = bech32_decode(text.strip())
    if text.strip().lower() != text.strip():
        raise KeyFormatError("a recipient is written in lower case")
    if hrp == _X25519_HRP:
        return X25519Recipient(data)
    if hrp == _HYBRID_HRP:
        return HybridRecipient(data)
    raise KeyFormatError(f"unknown recipient type {hrp!r}")


def parse_identity(text: str) -> KeyPairIdentity:
    """Parse an ``AGE-SECRET-KEY-1…`` or ``AGE-SECRET-KEY-PQ-1…`` string."""
    stripped = text.strip()
    hrp, data = bech32_decode(stripped)
    if stripped.upper() != stripped:
        raise KeyFormatError("a secret key is written in upper case")
    if hrp == _X25519_SECRET_HRP:
        return X25519Identity(data)
    if hrp == _HYBRID_SECRET_HRP:
        return HybridIdentity(data)
    raise KeyFormatError("unknown secret key type")


def parse_identity_file(text: str) -> list[KeyPairIdentity]:
    """Parse an age identity file: one key per line, ``#`` comments and blanks ignored."""
    identities: list[KeyPairIdentity] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            identities.append(parse_identity(stripped))
        except KeyFormatError as exc:
            raise KeyFormatError(f"line {number}: {exc}") from exc
    if not identities:
        raise KeyFormatError("no identity found in the identity file")
    return identities


def format_identity_file(identity: KeyPairIdentity, *, created: datetime | None = None) -> str:
    """Return the identity in age's identity-file format, with its public key comment."""
    stamp = (created or datetime.now(UTC)).replace(microsecond=0)
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    return (
        f"# created: {stamp.isoformat().replace('+00:00', 'Z')}\n"
        f"# public key: {identity.recipient.encode()}\n"
        f"{identity.secret_string()}\n"
    )


def recipients_of(identities: Iterable[KeyPairIdentity]) -> list[PublicKeyRecipient]:
    """Return the public recipients of the given identities."""
    return [identity.recipient for identity in identities]
