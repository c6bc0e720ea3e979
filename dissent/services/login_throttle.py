"""How often a staff password may be tried: per account and browser, with growing pauses.

A hard lock of an account after a few wrong passwords lets anyone who knows a username
keep its owner out (issue 15, finding 13). So attempts are counted per account *and*
client, and a client that keeps failing waits longer and longer (a minute, then the
rest of a quarter hour, then of the hour) instead of the account being locked.

The client cannot be told by its address: dissent keeps none and sees none (the proxy
in front hides it, and sources and staff may share a Tor exit). It is told by a device
token instead: a browser that once completed a login to an account (password and
second factor) gets a token for that account in a cookie. Attempts with a valid token
count against that browser only; attempts without one (a new browser, or a guesser)
share one count per account. A guesser therefore pauses only other new browsers of
that account, never the browsers its owner already uses. The token is a keyed hash
checked with the instance secret: nothing about it is stored on the server, and it
proves nothing but "this browser logged in to this account before" (it is no
credential: the password and the second factor are still asked).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from ..crypto.secretbox import derive_key
from .context import ServiceContext
from .errors import Limit, RateLimited

# (attempts, window in seconds), counted per account and client. Past the first, a
# client waits for the minute to end; past the second, for the quarter hour; past the
# third, for the hour. At most 20 guesses an hour per client, 480 a day, against an
# Argon2id hash and with a second factor still to come.
STAFF_LOGIN_BACKOFF: tuple[tuple[int, int], ...] = ((5, 60), (10, 15 * 60), (20, 60 * 60))
# How long a browser is remembered as one its owner logs in from.
DEVICE_TOKEN_DAYS = 90
_PURPOSE = "staff-device-token"
_NONCE_BYTES = 16


def _mac(ctx: ServiceContext, *, username: str, nonce: str, issued: int) -> str:
    key = derive_key(ctx.settings.secret_key, purpose=_PURPOSE)
    # The fixed-form fields come first, so no two inputs read alike.
    message = f"{issued}:{nonce}:{username}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def device_token(ctx: ServiceContext, *, username: str) -> str:
    """Return a new token that marks a browser as one ``username`` logged in from."""
    nonce = secrets.token_urlsafe(_NONCE_BYTES)
    issued = int(time.time())
    return f"{nonce}.{issued}.{_mac(ctx, username=username, nonce=nonce, issued=issued)}"


def known_device(ctx: ServiceContext, *, username: str, token: str | None) -> str | None:
    """Return the browser's id if ``token`` is a current device token of ``username``,
    else ``None`` (a new browser, someone else's token, or a forged one)."""
    if not token or token.count(".") != 2:
        return None
    nonce, issued_text, mac = token.split(".")
    if not issued_text.isdecimal() or len(issued_text) > 12:
        return None
    issued = int(issued_text)
    if not 0 <= time.time() - issued <= DEVICE_TOKEN_DAYS * 86400:
        return None
    try:
        expected = _mac(ctx, username=username, nonce=nonce, issued=issued)
        matches = hmac.compare_digest(expected.encode(), mac.encode())
    except UnicodeEncodeError:  # not a token of ours
        return None
    return nonce if matches else None


def check_attempt(ctx: ServiceContext, *, username: str, device: str | None) -> None:
    """Count a password attempt on ``username`` from this client; raise
    :class:`RateLimited` (with the seconds to wait) while the client must pause."""
    client = f"device:{device}" if device else "new"
    for limit, window in STAFF_LOGIN_BACKOFF:
        # One counter per window length (a limiter keeps one count per key).
        key = f"{Limit.STAFF_LOGIN}:{window}s:{username}:{client}"
        # The first window that refuses ends the count: a refused attempt tried no
        # password, so it does not lengthen the pause further.
        if not ctx.limiter.hit(key, limit=limit, window_seconds=window):
            raise RateLimited(Limit.STAFF_LOGIN, retry_after=window - int(time.time()) % window)
