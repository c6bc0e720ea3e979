"""Staff identities wrapped under a password, as age passphrase files.

The wrapped form is an ordinary age scrypt file whose plaintext is an age identity
file, so a staff member can export it and open it with ``age -d`` on their own
machine: nobody is locked into this server.
"""

from __future__ import annotations

from .age import decrypt, encrypt
from .errors import DecryptionError, KeyFormatError
from .keys import KeyPairIdentity, ScryptIdentity, ScryptRecipient, format_identity_file
from .keys import parse_identity_file as _parse_identity_file

# scrypt work factor for wrapped staff identities: 2^16 (64 MiB, about 0.2 s here) is
# paid at every staff login on the server, next to the separate Argon2id password
# check; 2^18 (age's default) would make each login cost 256 MiB of server memory.
STAFF_WRAP_WORK_FACTOR = 16


def wrap_identity(
    identity: KeyPairIdentity,
    *,
    passphrase: str,
    work_factor: int = STAFF_WRAP_WORK_FACTOR,
    armor: bool = False,
) -> bytes:
    """Return ``identity`` as an age identity file encrypted under ``passphrase``."""
    plaintext = format_identity_file(identity).encode("ascii")
    return encrypt(
        plaintext, recipients=[ScryptRecipient(passphrase, work_factor=work_factor)], armor=armor
    )


def unwrap_identity(wrapped: bytes, *, passphrase: str) -> KeyPairIdentity:
    """Return the identity inside a wrapped file; a wrong passphrase is a DecryptionError."""
    plaintext = decrypt(wrapped, identities=[ScryptIdentity(passphrase)])
    try:
        identities = _parse_identity_file(plaintext.decode("ascii"))
    except (UnicodeDecodeError, KeyFormatError) as exc:
        raise DecryptionError("wrapped file does not hold an identity") from exc
    if len(identities) != 1:
        raise DecryptionError("wrapped file holds more than one identity")
    return identities[0]
