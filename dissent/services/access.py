"""Granting an adviser access to what a mission held before they had a key.

Everything an adviser reads is encrypted to the advisers who were active when it was
written (``keyring``). One who enrols later, enrols again with new keys, or is
reactivated cannot open the earlier files. Granting access re-wraps the file key into a
new header stanza, the payload unchanged. The server cannot do that alone (it holds no
key), so a colleague who can open the files does it, in their session, with their
identity: an explicit act, shown to them with the newcomer's name, and audited. The
operator who enrols an account therefore gets it new files only; the earlier ones need
an adviser's consent.

Stanzas are added, never replaced (``crypto.add_recipients``): nobody loses access,
and nothing here needs to know who the other readers are. What is granted is every
kind of ciphertext ``keyring.CIPHERTEXTS`` names. A grant runs in steps of bounded
time, each its own request, so a mission with thousands of files never holds a request
(or SQLite's write lock) for long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.orm import Session

from ..crypto import (
    DecryptionError,
    KeyPairIdentity,
    PublicKeyRecipient,
    add_recipients,
    add_recipients_stream,
    parse_recipient,
)
from ..models import (
    AccessGrant,
    Mission,
    Observation,
    Role,
    StaffUser,
    access_grant_pass,
    staff_mission,
    utcnow,
)
from . import audit
from .context import ServiceContext
from .errors import GranteeUnavailable, NotFound
from .keyring import Ciphertext, mission_kinds, observation_kinds, records_of
from .locks import lock_mission
from .storage import BlobMissing, new_blob, open_blob, store

log = logging.getLogger(__name__)

# A step stops taking new observations after this long (it always finishes the one
# it is on: an observation's attachments can take seconds to copy) or after this many.
STEP_SECONDS = 2.0
STEP_OBSERVATIONS = 200


def request_access(
    session: Session,
    user: StaffUser,
    missions: Iterable[Mission] | None = None,
    *,
    restart: bool = True,
) -> None:
    """Note that ``user`` (an adviser who just got keys, was reactivated, or turned out
    not to open a file) needs a colleague to grant them the earlier files of each of
    their missions (or of ``missions``).

    Called in the caller's transaction. Missions with nothing encrypted yet need no
    grant. A grant already waiting starts again from the first observation (their key
    is new, or files were written while they were inactive), unless not ``restart``.
    """
    if user.role is not Role.ADVISER:
        return
    for mission in user.missions if missions is None else missions:
        newest = session.scalar(
            select(func.max(Observation.id)).where(Observation.mission_id == mission.id)
        )
        if newest is None and not _holds_mission_records(session, mission.id):
            continue
        grant = session.scalar(
            select(AccessGrant).where(
                AccessGrant.staff_id == user.id, AccessGrant.mission_id == mission.id
            )
        )
        if grant is None:
            grant = AccessGrant(staff_id=user.id, mission_id=mission.id)
            session.add(grant)
        elif not restart:
            continue
        grant.requested_at = utcnow()
        grant.through_observation_id = newest or 0
        grant.next_observation_id = 0
        grant.unopened = 0


def _holds_mission_records(session: Session, mission_id: int) -> bool:
    return any(
        session.scalar(select(kind.key).where(kind.key == mission_id).limit(1)) is not None
        for kind in mission_kinds()
    )


def note_unreadable(session: Session, adviser: StaffUser, observation: Observation) -> None:
    """Ask for access for an adviser whose key turned out not to open an observation.

    Enrolment and reactivation ask already; this catches advisers whose keys predate
    grants (enrolled after files existed, before this feature) and anything else that
    left them without a stanza. The mission's lock keeps the same page in two tabs from
    asking twice.
    """
    lock_mission(session, observation.mission_id)
    waiting = session.scalar(
        select(AccessGrant.id).where(
            AccessGrant.staff_id == adviser.id, AccessGrant.mission_id == observation.mission_id
        )
    )
    if waiting is None:
        request_access(session, adviser, [observation.mission], restart=False)


def waiting_for(session: Session, staff_id: int) -> list[AccessGrant]:
    """Return the grants ``staff_id`` is waiting for (shown to them)."""
    return list(
        session.scalars(
            select(AccessGrant).where(AccessGrant.staff_id == staff_id).order_by(AccessGrant.id)
        )
    )


def grants_to_give(session: Session, granter: StaffUser) -> list[AccessGrant]:
    """Return the grants ``granter`` can give: to active colleagues with keys on the
    granter's missions, except those the granter went through already without being
    able to give everything (see ``access_grant_pass``).

    An adviser still waiting for some files themselves can grant what their key opens;
    what it does not is left for a colleague who can.
    """
    if granter.role is not Role.ADVISER:
        return []
    missions = [m.id for m in granter.missions]
    if not missions:
        return []
    passed = exists().where(
        access_grant_pass.c.grant_id == AccessGrant.id,
        access_grant_pass.c.staff_id == granter.id,
    )
    return list(
        session.scalars(
            select(AccessGrant)
            .join(StaffUser, StaffUser.id == AccessGrant.staff_id)
            .where(
                AccessGrant.mission_id.in_(missions),
                AccessGrant.staff_id != granter.id,
                StaffUser.active.is_(True),
                StaffUser.recipient.is_not(None),
                # Earlier files go only to a key a second person confirmed, as new ones.
                exists().where(
                    staff_mission.c.staff_id == AccessGrant.staff_id,
                    staff_mission.c.mission_id == AccessGrant.mission_id,
                    staff_mission.c.confirmed_key == StaffUser.recipient,
                ),
                ~passed,
            )
            .order_by(AccessGrant.id)
        )
    )


@dataclass(frozen=True)
class GrantStep:
    """What one step left: files this pass could not give so far (unopened, missing or
    of another key kind), and whether the pass is through (the grant then stays only if
    ``unopened``)."""

    unopened: int
    finished: bool


def grant_step(
    session: Session,
    ctx: ServiceContext,
    *,
    granter: StaffUser,
    identity: KeyPairIdentity,
    grant_id: int,
) -> GrantStep:
    """Add a stanza for the grantee to the next observations' ciphertexts.

    Raises :class:`NotFound` if the grant does not exist or is not the granter's to
    give, and :class:`GranteeUnavailable` if the grantee can no longer receive it.
    """
    grant = next((g for g in grants_to_give(session, granter) if g.id == grant_id), None)
    if grant is None:
        raise NotFound
    mission_id = grant.mission_id
    lock_mission(session, mission_id)
    grant = session.get(AccessGrant, grant_id, populate_existing=True)
    if grant is None:  # finished by a colleague a moment ago
        raise NotFound
    grantee = grant.staff
    if not grantee.active or grantee.recipient is None:
        raise GranteeUnavailable
    newcomer = parse_recipient(grantee.recipient)
    adder = _Adder(session, ctx, identity, newcomer)
    deadline = time.monotonic() + STEP_SECONDS
    observations = session.scalars(
        select(Observation.id)
        .where(
            Observation.mission_id == mission_id,
            Observation.id >= grant.next_observation_id,
            Observation.id <= grant.through_observation_id,
        )
        .order_by(Observation.id)
        .limit(STEP_OBSERVATIONS)
    )
    for observation_id in list(observations):
        for kind in observation_kinds():
            for record in records_of(session, kind, observation_id):
                adder.add(kind, record)
        grant.next_observation_id = observation_id + 1
        if time.monotonic() > deadline:
            break
    finished = remaining_observations(session, grant) == 0
    if finished:
        for kind in mission_kinds():
            # Read afresh under the lock: the list of names may have been saved meanwhile.
            for record in session.scalars(
                select(kind.model)
                .where(kind.key == mission_id)
                .execution_options(populate_existing=True)
            ):
                adder.add(kind, record)
    grant.unopened += adder.unopened + adder.skipped
    unopened = grant.unopened
    # Every step is recorded: one step already opens up to STEP_OBSERVATIONS files.
    audit.record(
        session,
        actor=granter.username,
        action=audit.Action.ACCESS_GRANT,
        subject=f"{grantee.username}:{grant.mission.slug}",
    )
    if adder.unopened:
        # The granter's own key does not open these: they lack access themselves.
        request_access(session, granter, [grant.mission], restart=False)
    if finished:
        _end_pass(session, grant, granter=granter)
    return GrantStep(unopened=unopened, finished=finished)


def _end_pass(session: Session, grant: AccessGrant, *, granter: StaffUser) -> None:
    """Close a pass through all of a mission's files: done, or left for a colleague."""
    if grant.unopened:
        # A colleague whose key opens what this pass could not may finish it: the grant
        # stays, from the start (files done already get a second stanza for the
        # newcomer), and is no longer offered to this granter.
        session.execute(insert(access_grant_pass).values(grant_id=grant.id, staff_id=granter.id))
        grant.next_observation_id = 0
        grant.unopened = 0
        return
    session.delete(grant)
    # The newcomer's key now opens more: grants they went through before are offered to
    # them again.
    session.execute(
        delete(access_grant_pass).where(
            access_grant_pass.c.staff_id == grant.staff_id,
            access_grant_pass.c.grant_id.in_(
                select(AccessGrant.id).where(AccessGrant.mission_id == grant.mission_id)
            ),
        )
    )


def remaining_observations(session: Session, grant: AccessGrant) -> int:
    """Return how many observations the grant has still to go through."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Observation)
            .where(
                Observation.mission_id == grant.mission_id,
                Observation.id >= grant.next_observation_id,
                Observation.id <= grant.through_observation_id,
            )
        )
        or 0
    )


class _Adder:
    """Adds the newcomer's stanza to ciphertexts; counts what it could not."""

    def __init__(
        self,
        session: Session,
        ctx: ServiceContext,
        identity: KeyPairIdentity,
        newcomer: PublicKeyRecipient,
    ) -> None:
        self._session = session
        self._ctx = ctx
        self._identities = [identity]
        self._recipients = [newcomer]
        self.unopened = 0
        self.skipped = 0

    def add(self, kind: Ciphertext, record: Any) -> None:
        """Add the stanza to ``record``'s ciphertext of ``kind``."""
        if kind.in_file:
            self._file(kind, record)
        else:
            self._column(kind, record)

    def _column(self, kind: Ciphertext, record: Any) -> None:
        name = kind.column.key
        try:
            extended = add_recipients(
                getattr(record, name), identities=self._identities, recipients=self._recipients
            )
        except DecryptionError:
            self.unopened += 1
            return
        except ValueError:  # a file of another key kind than the newcomer's
            self._skip(f"{kind.table}.{name}", "not of the newcomer's key kind")
            return
        setattr(record, name, extended)

    def _file(self, kind: Ciphertext, record: Any) -> None:
        """Rewrite a file with the added stanza: written aside, then renamed over the old
        one (readers that opened the old file keep reading it whole). The old stanzas
        are all kept, so the new file serves whether or not the transaction commits."""
        name = getattr(record, kind.column.key)
        try:
            source = open_blob(self._session, self._ctx.settings, name)
        except BlobMissing:
            self._skip(f"{kind.kind} file {name}", "missing from the blob folder")
            return
        pending = new_blob(self._ctx.settings)
        pending.name = name
        try:
            with source:
                add_recipients_stream(
                    source, pending.file, identities=self._identities, recipients=self._recipients
                )
            size = store(self._session, pending)
        except DecryptionError:
            pending.discard()
            self.unopened += 1
            return
        except ValueError:
            pending.discard()
            self._skip(f"{kind.kind} file {name}", "not of the newcomer's key kind")
            return
        except BaseException:
            # Once renamed into place the new file is the blob: never remove it.
            if not pending.published:
                pending.discard()
            raise
        if kind.size is not None:
            setattr(record, kind.size, size)

    def _skip(self, what: str, why: str) -> None:
        # Names of files and tables only, never content.
        log.warning("access grant: %s was left as it is: %s", what, why)
        self.skipped += 1
