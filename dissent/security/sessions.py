"""Split-knowledge server-side sessions (docs/decisions.md, 9).

The browser's cookie holds a random session id and a random 32-byte key. The server
stores, under a hash of the id, the session data sealed with that key. A dump of the
store gives ciphertext without keys; a cookie without the store gives a key without
ciphertext. A staff member's unwrapped identity lives only in such a session, and
logout or expiry deletes the record (and with it the only usable copy).

Sources and staff have separate cookies, so the two interfaces never share a session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, Response, request
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from ..crypto import DecryptionError
from ..crypto.secretbox import KEY_SIZE, open_sealed, seal
from ..models import utcnow
from .session_store import SessionStore

SOURCE_COOKIE = "__Host-dissent-source"
STAFF_COOKIE = "__Host-dissent-staff"
STAFF_PREFIXES = ("/staff", "/adviser", "/leadership", "/admin")
_ID_SIZE = 32
# Rewrite an unchanged session only when this much of its lifetime has passed, so
# that reading pages does not write to the store on every request.
_REFRESH_AFTER = timedelta(minutes=1)
_DEADLINE_KEY = "_deadline"
# How long an old session id keeps what regenerate(keep_old=...) kept.
ROTATION_GRACE = timedelta(minutes=2)


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


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """Session data plus the id and key that name and seal it."""

    def __init__(self, initial: dict[str, Any] | None = None, *, sid: bytes, key: bytes) -> None:
        def on_update(_self: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.sid = sid
        self.key = key
        self.is_new = not initial
        self.modified = False
        self.rotate = False
        self.keep_old: dict[str, Any] = {}
        self.destroy = False
        self.stale = False

    def regenerate(self, *, keep_old: tuple[str, ...] = ()) -> None:
        """Give the session a new id and key at the next save (after login).

        ``keep_old`` names keys the *old* id keeps for a short grace period, for a
        request already on its way with the old cookie (a double-clicked submit).
        """
        self.rotate = True
        self.modified = True
        self.keep_old = {k: self[k] for k in keep_old if k in self}

    def end(self) -> None:
        """Delete the session from the store and the browser at the next save."""
        self.clear()
        self.destroy = True


def _new_session() -> ServerSession:
    return ServerSession(sid=os.urandom(_ID_SIZE), key=os.urandom(KEY_SIZE))


def _id_hash(sid: bytes) -> bytes:
    return hashlib.sha256(b"dissent/v1/session-id" + sid).digest()


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
        """Return the session named by the cookie, or a new empty one."""
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
        record = self.store.load(_id_hash(sid))
        if record is None:
            return _new_session()
        sealed, _coarse_expiry = record
        try:
            data = json.loads(open_sealed(sealed, key=key, context=_id_hash(sid)))
            deadline = datetime.fromtimestamp(float(data.pop(_DEADLINE_KEY)), UTC)
        except (DecryptionError, ValueError, KeyError, TypeError):
            return _new_session()
        remaining = deadline - utcnow()
        if remaining <= timedelta(0):
            self.store.delete(_id_hash(sid))
            return _new_session()
        session = ServerSession(data, sid=sid, key=key)
        session.is_new = False
        session.stale = remaining < self._ttl(request) - _REFRESH_AFTER
        return session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Seal and store the session, or delete it, and set the cookie accordingly."""
        assert isinstance(session, ServerSession)
        name = self._cookie_name(request)
        if session.destroy or (not session and not session.is_new):
            self.store.delete(_id_hash(session.sid))
            response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="Strict")
            return
        if not session:
            return  # nothing to keep, nothing to store
        if session.rotate:
            if session.keep_old:
                self._save(
                    session.sid, session.key, session.keep_old, ttl=ROTATION_GRACE, new=False
                )
            else:
                self.store.delete(_id_hash(session.sid))
            session.sid, session.key = os.urandom(_ID_SIZE), os.urandom(KEY_SIZE)
        elif not (session.modified or session.is_new or session.stale):
            return
        stored = self._save(
            session.sid,
            session.key,
            dict(session),
            ttl=self._ttl(request),
            new=session.is_new or session.rotate,
        )
        if not stored:
            # Deleted while this request ran (logout, deactivation, expiry in another
            # tab): it stays deleted, and the browser's cookie now names nothing.
            return
        if session.is_new or session.rotate:
            value = base64.urlsafe_b64encode(session.sid + session.key).rstrip(b"=").decode()
            # No Max-Age: the cookie dies with the browser; the store enforces idle expiry.
            response.set_cookie(
                name, value, path="/", secure=True, httponly=True, samesite="Strict"
            )

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
