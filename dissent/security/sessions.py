"""Split-knowledge server-side sessions (docs/decisions.md, 9).

The browser's cookie holds a random session id and a random 32-byte key. The server
stores, under a hash of the id, the session data sealed with that key. A dump of the
store gives ciphertext without keys; a cookie without the store gives a key without
ciphertext. A staff member's unwrapped identity lives only in such a session, and
logout or expiry deletes the record (and with it the only usable copy).

Sources and staff have separate cookies, so the two interfaces never share a session.

A record is stored only once there is something worth keeping (a login, a new codename).
A visitor who only opens a form gets a cookie and no record: the form's CSRF token is made
from the cookie's key (:meth:`ServerSession.token`), so it needs nothing stored, and a
flood of form pages fills no store (issue 15, finding 9).

A session is read from the store only when a request first uses it, so the pages that
need none (the landing page, static files, /healthz) work while the store is down; a
request that does need it gets :class:`SessionStoreUnavailable`, which the error pages
answer with "busy, try again".
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, current_app, request, session
from flask.sessions import SessionInterface, SessionMixin

from ..crypto import DecryptionError
from ..crypto.secretbox import KEY_SIZE, open_sealed, seal
from ..models import utcnow
from .session_store import SessionStore, SessionStoreUnavailable

SOURCE_COOKIE = "__Host-dissent-source"
STAFF_COOKIE = "__Host-dissent-staff"
STAFF_PREFIXES = ("/staff", "/adviser", "/leadership", "/oversight", "/admin")
_ID_SIZE = 32
# Rewrite an unchanged session only when this much of its lifetime has passed, so
# that reading pages does not write to the store on every request.
_REFRESH_AFTER = timedelta(minutes=1)
_DEADLINE_KEY = "_deadline"
# How long the twin of a request (the second request of a double click) can still be
# answered as the first was (see share_with_twin).
TWIN_GRACE = timedelta(minutes=2)
_TOKEN_CONTEXT = b"dissent/v1/token/"

# What reading the record a cookie names gives: its data and whether its idle deadline
# is due for a refresh, or None when there is no usable record.
Loaded = tuple[dict[str, Any], bool] | None


def day_expiry(ttl: timedelta) -> datetime:
    """Return the first midnight (UTC) at least ``ttl`` from now.

    Source sessions are stored with this coarse expiry, so the store never holds a
    source's time of day (invariant 2 in docs/architecture.md); the exact idle deadline is
    sealed inside.
    """
    end = utcnow() + ttl
    midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight >= end else midnight + timedelta(days=1)


def is_staff_path(path: str) -> bool:
    """Return whether ``path`` belongs to the staff interface."""
    return any(path == p or path.startswith(p + "/") for p in STAFF_PREFIXES)


class ServerSession(SessionMixin):
    """Session data plus the id and key that name and seal it.

    With ``load`` (a browser's cookie named it), the data is read from the store at
    first use (and a store that cannot be reached raises
    :class:`SessionStoreUnavailable` then, every time, until it answers); without, the
    session starts with ``initial``.
    """

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        *,
        sid: bytes,
        key: bytes,
        load: Callable[[], Loaded] | None = None,
    ) -> None:
        self.sid = sid
        self.key = key
        self._load = load
        self._data: dict[str, Any] | None = None if load else dict(initial or {})
        # Whether no record is stored under ``sid``: a cookie names one until reading
        # it shows there is none.
        self.is_new = load is None and not initial
        # Whether the browser's cookie holds ``sid`` and ``key``.
        self.in_browser = load is not None
        # Whether the response carries a token made with ``key`` (so the browser must
        # hold the cookie, record or not).
        self.bound = False
        self.modified = False
        self.stale = False
        # The id whose record the next save deletes (regenerate).
        self.replaced: bytes | None = None
        self.destroy = False
        self.unsaved_allowed = False
        self.unsaved: SessionStoreUnavailable | None = None
        self.discarded = False

    # --- the mapping ---------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """Whether the data is at hand (read from the store, or never stored)."""
        return self._data is not None

    def _contents(self) -> dict[str, Any]:
        if self._data is None:
            assert self._load is not None
            found = self._load()  # raises SessionStoreUnavailable while the store is down
            self._load = None
            if found is None:
                # Nothing stored under this id (a visitor who only opened forms, or a
                # session that ended): empty. The id and key stay, for the tokens of
                # the forms this browser holds, until something is stored.
                self.is_new = True
                self._data = {}
            else:
                self._data, self.stale = found
        return self._data

    def _changing(self) -> dict[str, Any]:
        """Return the data for a change; the first change of a session the browser
        brought without a record gives it an id and key of its own, so a cookie planted
        in a browser never names what is stored later (session fixation)."""
        data = self._contents()
        if self.is_new and self.in_browser:
            self._renew()
        self.modified = True
        return data

    def _renew(self) -> None:
        self.sid, self.key = os.urandom(_ID_SIZE), os.urandom(KEY_SIZE)
        self.is_new, self.in_browser = True, False

    def __getitem__(self, name: str) -> Any:
        return self._contents()[name]

    def __setitem__(self, name: str, value: Any) -> None:
        self._changing()[name] = value

    def __delitem__(self, name: str) -> None:
        del self._changing()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._contents())

    def __len__(self) -> int:
        return len(self._contents())

    def clear(self) -> None:
        """Empty the session."""
        self._contents().clear()
        self.modified = True

    # --- tokens made with the key -----------------------------------------------------------

    def token(self, purpose: str, value: str = "") -> str:
        """Return the token of ``purpose`` (and ``value``) for a page this response shows.

        It is made with the session's key, which only this browser's cookie holds, so
        it proves that a form came from a page shown to this browser without anything
        being stored (the browser is given the cookie if it has none yet).
        """
        self.bound = True
        return self._token(purpose, value)

    def check_token(self, purpose: str, submitted: str, value: str = "") -> bool:
        """Return whether ``submitted`` is this session's token of ``purpose``."""
        expected = self._token(purpose, value)
        return hmac.compare_digest(submitted.encode("utf-8"), expected.encode("ascii"))

    def _token(self, purpose: str, value: str) -> str:
        message = _TOKEN_CONTEXT + purpose.encode() + b"\x00" + value.encode("utf-8")
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    # --- what the next save does ----------------------------------------------------------

    def regenerate(self) -> None:
        """Give the session a new id and key now (after login); the next save moves the
        data there and deletes the old record, so a cookie copied before opens nothing.

        Tokens made before are void: a page rendered after this call gets new ones.
        """
        self._contents()  # read now: the data moves to the new id
        if not self.is_new:
            self.replaced = self.sid
        self._renew()
        self.modified = True

    def end(self) -> None:
        """Delete the session from the store and the browser at the next save.

        Needs no read of the store: quick exit works while it is down.
        """
        self._data, self._load = {}, None
        self.destroy = True

    def allow_unsaved(self) -> None:
        """Let this response go out even if the store cannot keep the session.

        For a page that reports something already committed (the new codename), or
        that must never be refused (quick exit): without the session the visitor is
        simply not logged in. The failure is kept in :attr:`unsaved` for the log.
        """
        self.unsaved_allowed = True

    def discard(self) -> None:
        """Save nothing at the end of this request: store and cookie stay as they were
        (the error page that replaces a response whose save failed)."""
        self.discarded = True


def _new_session() -> ServerSession:
    return ServerSession(sid=os.urandom(_ID_SIZE), key=os.urandom(KEY_SIZE))


def _id_hash(sid: bytes) -> bytes:
    return hashlib.sha256(b"dissent/v1/session-id" + sid).digest()


def _derive(key: bytes, purpose: bytes, proof: bytes) -> bytes:
    return hmac.new(key, b"dissent/v1/" + purpose + b"\x00" + proof, hashlib.sha256).digest()


@dataclass(frozen=True)
class Twin:
    """What the first of two twin requests kept, the id of its record, and whether this
    request made it."""

    sid: bytes = field(repr=False)
    value: str = field(repr=False)
    created: bool = False


class SplitKnowledgeSessionInterface(SessionInterface):
    """A Flask session interface over a :class:`SessionStore`."""

    def __init__(self, store: SessionStore, *, staff_ttl: timedelta, source_ttl: timedelta) -> None:
        self.store = store
        self.staff_ttl = staff_ttl
        self.source_ttl = source_ttl

    def _cookie_name(self, request: Request) -> str:
        return STAFF_COOKIE if is_staff_path(request.path) else SOURCE_COOKIE

    def _ttl(self, request: Request) -> timedelta:
        return self.staff_ttl if is_staff_path(request.path) else self.source_ttl

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        """Return the session named by the cookie (read at first use), or a new one."""
        raw = request.cookies.get(self._cookie_name(request))
        if not raw:
            return _new_session()
        try:
            decoded = base64.urlsafe_b64decode(raw.encode("ascii") + b"==")
        except (binascii.Error, ValueError, UnicodeEncodeError):
            return _new_session()
        if len(decoded) != _ID_SIZE + KEY_SIZE:
            return _new_session()
        sid, key = decoded[:_ID_SIZE], decoded[_ID_SIZE:]
        ttl = self._ttl(request)
        return ServerSession(sid=sid, key=key, load=lambda: self._load(sid, key, ttl=ttl))

    def _load(self, sid: bytes, key: bytes, *, ttl: timedelta) -> Loaded:
        record = self.store.load(_id_hash(sid))
        if record is None:
            return None
        sealed, _coarse_expiry = record
        try:
            data = json.loads(open_sealed(sealed, key=key, context=_id_hash(sid)))
            deadline = datetime.fromtimestamp(float(data.pop(_DEADLINE_KEY)), UTC)
        except (DecryptionError, ValueError, KeyError, TypeError):
            return None
        remaining = deadline - utcnow()
        if remaining <= timedelta(0):
            self.store.delete(_id_hash(sid))
            return None
        return data, remaining < ttl - _REFRESH_AFTER

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Seal and store the session, or delete it, and set the cookie accordingly.

        Raises :class:`SessionStoreUnavailable` if the store fails, unless the session
        allowed that (:meth:`ServerSession.allow_unsaved`) or the save would only have
        moved an unchanged session's idle deadline: the response then goes out as it
        is, and the failure is left in ``session.unsaved``.
        """
        assert isinstance(session, ServerSession)
        if session.discarded:
            return
        refresh_only = not (session.modified or session.is_new or session.destroy)
        try:
            self._store(session, response)
        except SessionStoreUnavailable as exc:
            if not (session.unsaved_allowed or refresh_only):
                raise
            session.unsaved = exc

    def _store(self, session: ServerSession, response: Response) -> None:
        name = self._cookie_name(request)
        if not session.loaded:
            return  # never read, so never changed (and the browser holds its cookie)
        if session.replaced is not None:
            # Regenerated: the old id opens nothing from now on.
            self.store.delete(_id_hash(session.replaced))
        if session.destroy or (not session and not session.is_new):
            # The browser forgets the cookie even if the store cannot be told now: the
            # record is sealed with the key only that cookie held, and expires.
            response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="Strict")
            if not session.is_new:
                self.store.delete(_id_hash(session.sid))
            return
        if not session:
            # Nothing worth keeping: no record. A page that carries a token made with
            # the key still needs the browser to hold it.
            if session.bound and not session.in_browser:
                self._set_cookie(response, name, session)
            return
        if not (session.modified or session.is_new or session.stale):
            return
        stored = self._save(
            session.sid, session.key, dict(session), ttl=self._ttl(request), new=session.is_new
        )
        if not stored:
            # Deleted while this request ran (logout, deactivation, expiry in another
            # tab): it stays deleted, and the browser's cookie now names nothing.
            return
        if not session.in_browser:
            self._set_cookie(response, name, session)

    @staticmethod
    def _set_cookie(response: Response, name: str, session: ServerSession) -> None:
        value = base64.urlsafe_b64encode(session.sid + session.key).rstrip(b"=").decode()
        # No Max-Age: the cookie dies with the browser; the store enforces idle expiry.
        response.set_cookie(name, value, path="/", secure=True, httponly=True, samesite="Strict")

    # --- the twin of a request ------------------------------------------------------------

    def share_with_twin(self, session: ServerSession, proof: bytes, value: str) -> Twin | None:
        """Keep ``value`` for the twin of this request, or return what its twin kept.

        The twin of a request is the same request sent again by the same browser before
        the first answer reached it (a double click): same cookie, same ``proof``. The
        record is named and sealed with both, so a copy of the cookie alone (or of the
        cookie and the form's tokens, without what the source typed) opens nothing. It
        lasts :data:`TWIN_GRACE`; the store learns only its day, like any source session.
        Return ``None`` if the twin's record can no longer be read (its grace is over).
        """
        sid = _derive(session.key, b"twin-id", proof)
        key = _derive(session.key, b"twin-key", proof)
        for _ in range(2):
            if self._save(sid, key, {"value": value}, ttl=TWIN_GRACE, new=True):
                return Twin(sid, value, created=True)
            found = self._load(sid, key, ttl=TWIN_GRACE)  # deletes a record past its grace
            if found is not None:
                return Twin(sid, str(found[0].get("value", "")))
        return None

    def forget_twin(self, sid: bytes) -> None:
        """Delete the twin record ``sid`` names (the first answer reached its browser)."""
        self.store.delete(_id_hash(sid))

    def _save(
        self, sid: bytes, key: bytes, data: dict[str, Any], *, ttl: timedelta, new: bool
    ) -> bool:
        id_hash = _id_hash(sid)
        # The exact idle deadline is sealed with the data; for sources the store only
        # learns the day, for housekeeping. Staff-side times may be exact.
        record = {**data, _DEADLINE_KEY: int((utcnow() + ttl).timestamp())}
        sealed = seal(
            json.dumps(record, separators=(",", ":")).encode("utf-8"), key=key, context=id_hash
        )
        expires_at = utcnow() + ttl if is_staff_path(request.path) else day_expiry(ttl)
        return self.store.save(id_hash, sealed, expires_at=expires_at, new=new)


def _current() -> tuple[SplitKnowledgeSessionInterface, ServerSession]:
    interface = current_app.session_interface
    assert isinstance(interface, SplitKnowledgeSessionInterface)
    assert isinstance(session, ServerSession)
    return interface, session


def share_with_twin(proof: bytes, value: str) -> Twin | None:
    """Keep ``value`` for the twin of the current request, or return what its twin kept
    (:meth:`SplitKnowledgeSessionInterface.share_with_twin`)."""
    interface, current = _current()
    return interface.share_with_twin(current, proof, value)


def forget_twin(sid: bytes) -> None:
    """Delete the twin record ``sid`` names, if the store can be reached now (otherwise
    it ends with its grace period: this never fails a page)."""
    interface, _ = _current()
    with contextlib.suppress(SessionStoreUnavailable):
        interface.forget_twin(sid)
