"""Source login with a codename, in constant time whether or not it exists."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..crypto import KeyPairIdentity, identity_from_secret
from ..crypto.codename import (
    CODENAME_WORDS,
    InvalidCodename,
    codename_wordlist,
    normalize_codename,
)
from ..models import Source
from .context import ServiceContext
from .errors import CodenameNotFound, Limit, RateLimited

# Every login costs a memory-hard derivation, which already makes guessing useless
# against 90-bit codenames, and the KDF gate bounds derivations so a burst cannot
# exhaust memory; once its short queue is full it turns logins away ("busy") rather
# than make every login wait behind a flood. This limit only caps a flood's rate
# further; it is shared by all sources (a codename cannot be told apart before it is
# derived), so it is set well above any real use to keep one person from locking
# everyone out.
SOURCE_LOGINS_PER_MINUTE = 600


@dataclass(frozen=True)
class AuthenticatedSource:
    """A source who proved their codename: their id and identity secret."""

    source_id: int
    identity_secret: bytes = field(repr=False)


def authenticate_source(
    session: Session, ctx: ServiceContext, *, codename: str
) -> AuthenticatedSource:
    """Return the source with this codename or raise.

    A malformed codename raises :class:`InvalidCodename` (format only; the message
    never repeats the input) and an unknown one :class:`CodenameNotFound`; both only
    after the same derivation, so timing tells nothing about existence. While every
    derivation slot and its short queue are taken, :class:`KdfBusy` is raised at once.
    """
    if not ctx.limiter.hit(Limit.SOURCE_LOGIN, limit=SOURCE_LOGINS_PER_MINUTE, window_seconds=60):
        raise RateLimited(Limit.SOURCE_LOGIN)
    try:
        normalized = normalize_codename(codename)
    except InvalidCodename:
        # Spend the same time on a well-formed stand-in before reporting the format.
        ctx.kdf_gate.try_derive(" ".join(codename_wordlist()[:CODENAME_WORDS]), ctx.settings)
        raise
    keys = ctx.kdf_gate.try_derive(normalized, ctx.settings)
    source = session.scalar(select(Source).where(Source.lookup_id == keys.lookup_id))
    if source is None:
        raise CodenameNotFound
    return AuthenticatedSource(source_id=source.id, identity_secret=keys.identity_seed)


def source_identity(ctx: ServiceContext, secret: bytes) -> KeyPairIdentity:
    """Return the source's identity from the secret kept in their session."""
    return identity_from_secret(secret, kind=ctx.settings.key_kind)
