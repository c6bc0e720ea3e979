"""Missions and staff accounts: creation, enrolment, and login with two factors."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import pyotp
from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..crypto import (
    DecryptionError,
    KeyPairIdentity,
    generate_identity,
    unwrap_identity,
    wrap_identity,
)
from ..crypto.secretbox import derive_key, open_sealed, seal
from ..crypto.signing import signing_key_from_secret
from ..models import Enrolment, Mission, Role, StaffUser, utcnow
from ..models.mission import NAME_MAX, SLUG_MAX
from ..models.staff import USERNAME_MAX
from . import access, audit, confirmation, login_throttle
from .context import ServiceContext
from .errors import (
    AccountExists,
    EnrolmentCodeRejected,
    EnrolmentInvalid,
    EnrolmentUsedMeanwhile,
    InvalidInput,
    Limit,
    LoginFailed,
    MissionExists,
    NotFound,
    Problem,
    RateLimited,
    TotpRejected,
)
from .passwords import check_password_policy

ENROLMENT_VALID_FOR = timedelta(hours=72)
SLUG_RE = re.compile(r"\A[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?\Z")
USERNAME_RE = re.compile(r"\A[a-z0-9][a-z0-9._-]{1,63}\Z")
TOTP_ATTEMPTS = 5  # per account per 5 minutes
_TOTP_PURPOSE = "totp-secret"


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(b"dissent/v1/enrolment" + token.encode()).digest()


def create_mission(session: Session, *, slug: str, name: str, actor: str = "cli") -> Mission:
    """Create a mission; the slug is its stable short name."""
    slug, name = slug.strip().lower(), name.strip()
    if not SLUG_RE.match(slug) or len(slug) > SLUG_MAX:
        raise InvalidInput(
            "slug",
            Problem.MALFORMED,
            detail=f"slug: 1 to {SLUG_MAX} lower-case letters, digits and hyphens, "
            "starting and ending with a letter or digit",
        )
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(
            "name",
            Problem.MISSING if not name else Problem.TOO_LONG,
            limit=NAME_MAX,
            detail=f"name: 1 to {NAME_MAX} characters",
        )
    if session.scalar(select(Mission.id).where(Mission.slug == slug)) is not None:
        raise MissionExists(slug)
    mission = Mission(slug=slug, name=name)
    session.add(mission)
    audit.record(session, actor=actor, action=audit.Action.MISSION_CHANGE, subject=f"add:{slug}")
    session.flush()
    return mission


MAX_ACK_DAYS = 7  # the Directive's outer limit: a mission may be stricter, never laxer
MAX_FEEDBACK_MONTHS = 3


def set_deadlines(
    session: Session, *, slug: str, ack_days: int, feedback_months: int, actor: str = "cli"
) -> Mission:
    """Set a mission's deadlines, within the Directive's limits (7 days, 3 months)."""
    mission = session.scalar(select(Mission).where(Mission.slug == slug))
    if mission is None:
        raise NotFound(f"no mission {slug!r}")
    if not 1 <= ack_days <= MAX_ACK_DAYS:
        raise InvalidInput(
            "ack_days", Problem.OUT_OF_RANGE, detail=f"acknowledgement: 1 to {MAX_ACK_DAYS} days"
        )
    if not 1 <= feedback_months <= MAX_FEEDBACK_MONTHS:
        raise InvalidInput(
            "feedback_months",
            Problem.OUT_OF_RANGE,
            detail=f"feedback: 1 to {MAX_FEEDBACK_MONTHS} months",
        )
    mission.ack_days, mission.feedback_months = ack_days, feedback_months
    audit.record(
        session,
        actor=actor,
        action=audit.Action.MISSION_CHANGE,
        subject=f"deadlines:{slug}:{ack_days}d:{feedback_months}m",
    )
    return mission


def create_account(
    session: Session, *, username: str, role: Role, mission_slugs: list[str], actor: str = "cli"
) -> tuple[StaffUser, str]:
    """Create an account and return it with a one-time enrolment token (72 hours)."""
    username = username.strip().lower()
    if not USERNAME_RE.match(username) or len(username) > USERNAME_MAX:
        raise InvalidInput(
            "username",
            Problem.MALFORMED,
            detail="username: 2 to 64 lower-case letters, digits, dots, hyphens or underscores",
        )
    missions = []
    for slug in mission_slugs:
        mission = session.scalar(select(Mission).where(Mission.slug == slug))
        if mission is None:
            raise InvalidInput("missions", Problem.UNKNOWN, detail=f"no mission {slug!r}")
        missions.append(mission)
    if role is Role.ADMIN and missions:
        raise InvalidInput(
            "missions", Problem.NOT_ALLOWED, detail="an operator account belongs to no mission"
        )
    if role is not Role.ADMIN and not missions:
        raise InvalidInput(
            "missions",
            Problem.MISSING,
            detail="advisers, leaders and oversight belong to at least one mission",
        )
    if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise AccountExists(username)
    user = StaffUser(username=username, role=role, missions=missions, created_by=actor)
    session.add(user)
    token = _new_enrolment(session, user)
    audit.record(
        session,
        actor=actor,
        action=audit.Action.ACCOUNT_CHANGE,
        subject=f"add:{username}:{role.value}",
    )
    try:
        session.flush()
    except IntegrityError as exc:  # the same name, taken a moment ago by another request
        session.rollback()
        raise AccountExists(username) from exc
    return user, token


def _new_enrolment(session: Session, user: StaffUser) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        Enrolment(
            staff=user, token_hash=_token_hash(token), expires_at=utcnow() + ENROLMENT_VALID_FOR
        )
    )
    return token


def reissue_enrolment(session: Session, *, staff_id: int, actor: str = "cli") -> str:
    """Return a fresh enrolment token for an account that has not enrolled yet."""
    user = session.get(StaffUser, staff_id)
    if user is None or user.enrolled:
        raise NotFound
    # A replaced link (lost, or sent to the wrong person) must stop working.
    for old in session.scalars(
        select(Enrolment).where(Enrolment.staff_id == user.id, Enrolment.used_at.is_(None))
    ):
        old.expires_at = utcnow()
    token = _new_enrolment(session, user)
    audit.record(
        session,
        actor=actor,
        action=audit.Action.ACCOUNT_CHANGE,
        subject=f"enrolment:{user.username}",
    )
    return token


def enrolment_for(session: Session, token: str) -> Enrolment:
    """Return the usable enrolment for ``token`` or raise :class:`EnrolmentInvalid`."""
    enrolment = session.scalar(select(Enrolment).where(Enrolment.token_hash == _token_hash(token)))
    if (
        enrolment is None
        or enrolment.used_at is not None
        or enrolment.expires_at <= utcnow()
        or enrolment.staff.enrolled
        or not enrolment.staff.active
    ):
        raise EnrolmentInvalid
    return enrolment


def new_totp_secret() -> str:
    """Return a new base32 TOTP secret."""
    return pyotp.random_base32()


def totp_uri(secret: str, *, username: str) -> str:
    """Return the otpauth:// URI for an authenticator app."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="dissent")


def _matching_step(secret: str, code: str, *, now: float) -> int | None:
    code = code.strip().replace(" ", "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now) // totp.interval
    for candidate in (step - 1, step, step + 1):  # one step of clock drift either way
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def complete_enrolment(
    session: Session,
    ctx: ServiceContext,
    *,
    token: str,
    password: str,
    totp_secret: str,
    totp_code: str,
) -> StaffUser:
    """Set the password and TOTP, generate and wrap the keys, and use up the link."""
    enrolment = enrolment_for(session, token)
    user = enrolment.staff
    check_password_policy(password, username=user.username)
    step = _matching_step(totp_secret, totp_code, now=time.time())
    if step is None:
        raise EnrolmentCodeRejected
    _use_up(session, enrolment)
    _install_credentials(session, ctx, user, password=password, totp_secret=totp_secret, step=step)
    audit.record(
        session, actor=user.username, action=audit.Action.ACCOUNT_CHANGE, subject="enrolled"
    )
    return user


def _use_up(session: Session, enrolment: Enrolment) -> None:
    """Mark the link used, or raise :class:`EnrolmentUsedMeanwhile` if it no longer can be.

    One conditional UPDATE before anything else is written: two browsers sending the
    same link at once both found it unused, but the second UPDATE waits for the first
    (the row lock on PostgreSQL, the write lock on SQLite) and then matches no row, so
    the second is told instead of being shown "enrolled" with a password that the first
    one's replaced.
    """
    now = utcnow()
    claimed = session.execute(
        update(Enrolment)
        .where(
            Enrolment.id == enrolment.id,
            Enrolment.used_at.is_(None),
            Enrolment.expires_at > now,
        )
        .values(used_at=now)
    )
    if cast("CursorResult[Any]", claimed).rowcount != 1:
        raise EnrolmentUsedMeanwhile


def enrol_directly(
    session: Session, ctx: ServiceContext, *, user: StaffUser, password: str, totp_secret: str
) -> None:
    """Enrol an account without a link (the demo instance only)."""
    check_password_policy(password, username=user.username)
    _install_credentials(session, ctx, user, password=password, totp_secret=totp_secret, step=0)
    for enrolment in session.scalars(select(Enrolment).where(Enrolment.staff_id == user.id)):
        enrolment.used_at = utcnow()
    # The demo has nobody to compare keys with: its accounts start confirmed.
    confirmation.confirm_all(session, user, by=confirmation.BY_DEMO)


def _install_credentials(
    session: Session,
    ctx: ServiceContext,
    user: StaffUser,
    *,
    password: str,
    totp_secret: str,
    step: int,
) -> None:
    """Set the password hash and TOTP, and generate and wrap the account's keys.

    An adviser's new key opens nothing their missions already hold: a colleague must
    grant them the earlier files (``access``).
    """
    identity = generate_identity(ctx.settings.key_kind)
    user.password_hash = ctx.passwords.hash(password)
    user.totp_secret_sealed = seal(
        totp_secret.encode(), key=_totp_key(ctx), context=user.username.encode()
    )
    user.totp_last_step = step
    user.wrapped_identity = wrap_identity(
        identity, passphrase=password, work_factor=ctx.settings.staff_wrap_work_factor
    )
    user.recipient = identity.recipient.encode()
    user.verify_key = signing_key_from_secret(identity.secret_bytes()).verify_key.to_text()
    user.enrolled_at = utcnow()
    access.request_access(session, user)


def _totp_key(ctx: ServiceContext) -> bytes:
    return derive_key(ctx.settings.secret_key, purpose=_TOTP_PURPOSE)


@dataclass(frozen=True)
class PasswordAccepted:
    """First factor passed: the account and its unwrapped identity secret."""

    staff_id: int
    identity_secret: bytes = field(repr=False)


def check_password(
    session: Session,
    ctx: ServiceContext,
    *,
    username: str,
    password: str,
    device_token: str | None = None,
) -> PasswordAccepted:
    """Check the first factor and unwrap the identity; raise :class:`LoginFailed`.

    ``device_token`` is the browser's token from an earlier login, if it sent one: it
    gives the browser a count of attempts of its own (``login_throttle``). A wrong
    password and an unknown name do the same work, so the time taken does not tell
    which names are accounts: one lookup of the same columns, one hash verification,
    one ledger entry, one commit.
    """
    username = username.strip().lower()[:USERNAME_MAX]
    device = login_throttle.known_device(ctx, username=username, token=device_token)
    login_throttle.check_attempt(ctx, username=username, device=device)
    # Columns, not the account: loading it would also load its missions, a query an
    # unknown name does not make.
    found = session.execute(
        select(
            StaffUser.id,
            StaffUser.password_hash,
            StaffUser.active,
            StaffUser.enrolled_at,
            StaffUser.wrapped_identity,
        ).where(StaffUser.username == username)
    ).one_or_none()
    ok = ctx.passwords.verify(found.password_hash if found else None, password)
    if (
        found is None
        or not ok
        or not found.active
        or found.enrolled_at is None
        or not found.wrapped_identity
    ):
        # Recorded for unknown names too (same work); such a name is not kept, as it
        # may be a password typed into the wrong field.
        actor = username if found is not None else audit.UNKNOWN_ACCOUNT
        audit.record(session, actor=actor, action=audit.Action.LOGIN_FAILED)
        raise LoginFailed
    try:
        identity = unwrap_identity(found.wrapped_identity, passphrase=password)
    except DecryptionError as exc:  # hash and wrap disagree: treat as a failed login
        raise LoginFailed from exc
    return PasswordAccepted(staff_id=found.id, identity_secret=identity.secret_bytes())


def check_totp(session: Session, ctx: ServiceContext, *, staff_id: int, code: str) -> StaffUser:
    """Check the second factor; a code is accepted once (its step is remembered)."""
    user = session.get(StaffUser, staff_id)
    if user is None or not user.active or user.totp_secret_sealed is None:
        raise TotpRejected
    if not ctx.limiter.hit(
        f"{Limit.STAFF_TOTP}:{user.id}", limit=TOTP_ATTEMPTS, window_seconds=300
    ):
        raise RateLimited(Limit.STAFF_TOTP)
    secret = open_sealed(
        user.totp_secret_sealed, key=_totp_key(ctx), context=user.username.encode()
    ).decode()
    step = _matching_step(secret, code, now=time.time())
    if step is None or not _use_step(session, user, step):
        raise TotpRejected
    audit.record(session, actor=user.username, action=audit.Action.LOGIN)
    return user


def _use_step(session: Session, user: StaffUser, step: int) -> bool:
    """Record ``step`` as the account's last used one; return whether it was still unused.

    One conditional UPDATE, not a read and a write: two requests carrying the same code
    at once both read the old step, but the second UPDATE waits for the first (the row
    lock on PostgreSQL, the write lock on SQLite) and then matches no row.
    """
    used = session.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, StaffUser.totp_last_step < step)
        .values(totp_last_step=step)
    )
    return cast("CursorResult[Any]", used).rowcount == 1


def set_active(session: Session, *, staff_id: int, active: bool, actor: str = "cli") -> StaffUser:
    """Activate or deactivate an account."""
    user = session.get(StaffUser, staff_id)
    if user is None:
        raise NotFound
    if active and not user.active and user.enrolled:
        # Files written while the account was inactive were not encrypted to it.
        access.request_access(session, user)
    user.active = active
    audit.record(
        session,
        actor=actor,
        action=audit.Action.ACCOUNT_CHANGE,
        subject=f"{'activate' if active else 'deactivate'}:{user.username}",
    )
    return user


def staff_identity(ctx: ServiceContext, secret: bytes) -> KeyPairIdentity:
    """Return a staff identity from the secret kept in their session."""
    from ..crypto import identity_from_secret

    return identity_from_secret(secret, kind=ctx.settings.key_kind)
