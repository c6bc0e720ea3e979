"""dissent's cryptography: the age v1 format and the keys and secrets around it.

This package is the only place that imports ``cryptography.hazmat``; everything else
in dissent uses the names exported here. Every failure to open a ciphertext raises
:class:`DecryptionError` (or a subclass naming the failed check); a malformed key is a
:class:`KeyFormatError`.

Typical use::

    identity = generate_identity()                      # post-quantum hybrid
    blob = encrypt(b"...", recipients=[identity.recipient], pad=True)
    text = decrypt(blob, identities=[identity], padded=True)

    with Encryptor(sink, recipients=[identity.recipient], pad=True) as encryptor:
        for piece in pieces:                            # push style: constant memory
            encryptor.write(piece)
"""

from ._header import Stanza
from .age import (
    Encryptor,
    OpenedHeader,
    add_recipients,
    add_recipients_stream,
    decrypt,
    decrypt_stream,
    decrypt_to_path,
    encrypt,
    encrypt_stream,
    iter_decrypt,
    rewrap,
    rewrap_header,
    split_header,
)
from .errors import (
    ArmorError,
    DecryptionError,
    HeaderError,
    HeaderMACError,
    KeyFormatError,
    NoIdentityMatchError,
    PayloadError,
    SignatureError,
)
from .keys import (
    DEFAULT_SCRYPT_WORK_FACTOR,
    MAX_SCRYPT_WORK_FACTOR,
    HybridIdentity,
    HybridRecipient,
    Identity,
    KeyKind,
    KeyPairIdentity,
    PublicKeyRecipient,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    format_identity_file,
    generate_identity,
    identity_from_secret,
    parse_identity,
    parse_identity_file,
    parse_recipient,
)
from .padding import MIN_PADDED_SIZE, PaddingError, padded_size
from .signing import SigningKey, VerifyKey, signing_key_from_secret
from .wrapping import STAFF_WRAP_WORK_FACTOR, unwrap_identity, wrap_identity

__all__ = [
    "DEFAULT_SCRYPT_WORK_FACTOR",
    "MAX_SCRYPT_WORK_FACTOR",
    "MIN_PADDED_SIZE",
    "STAFF_WRAP_WORK_FACTOR",
    "ArmorError",
    "DecryptionError",
    "Encryptor",
    "HeaderError",
    "HeaderMACError",
    "HybridIdentity",
    "HybridRecipient",
    "Identity",
    "KeyFormatError",
    "KeyKind",
    "KeyPairIdentity",
    "NoIdentityMatchError",
    "OpenedHeader",
    "PaddingError",
    "PayloadError",
    "PublicKeyRecipient",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "SignatureError",
    "SigningKey",
    "Stanza",
    "VerifyKey",
    "X25519Identity",
    "X25519Recipient",
    "add_recipients",
    "add_recipients_stream",
    "decrypt",
    "decrypt_stream",
    "decrypt_to_path",
    "encrypt",
    "encrypt_stream",
    "format_identity_file",
    "generate_identity",
    "identity_from_secret",
    "iter_decrypt",
    "padded_size",
    "parse_identity",
    "parse_identity_file",
    "parse_recipient",
    "rewrap",
    "rewrap_header",
    "signing_key_from_secret",
    "split_header",
    "unwrap_identity",
    "wrap_identity",
]
