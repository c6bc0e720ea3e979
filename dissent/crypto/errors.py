"""The exceptions raised by :mod:`dissent.crypto`.

Every failure to open a ciphertext is a :class:`DecryptionError`, whatever its cause
(malformed header, wrong key, tampered payload, bad armor), so callers cannot
accidentally treat one kind of failure as success. The subclasses exist only so that
tests and the command line can say *which* check failed; callers should catch the base.
"""

from __future__ import annotations


class DecryptionError(Exception):
    """A ciphertext could not be opened; nothing it yielded may be trusted."""


class HeaderError(DecryptionError):
    """The age header is malformed or violates the specification."""


class HeaderMACError(DecryptionError):
    """The header MAC does not verify: the header was modified."""


class NoIdentityMatchError(DecryptionError):
    """None of the given identities can unwrap the file key."""


class PayloadError(DecryptionError):
    """The payload is truncated, tampered with or carries trailing data."""


class ArmorError(DecryptionError):
    """The ASCII armor is not the strict PEM encoding the specification requires."""


class KeyFormatError(ValueError):
    """A key, identity file or secret share could not be parsed.

    Kept apart from :class:`DecryptionError`: a typo in a key is a usage error that the
    user must fix, not evidence about a ciphertext.
    """


class SignatureError(Exception):
    """A signature does not verify for the given message and public key."""
