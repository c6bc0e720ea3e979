"""Who may reach which route: one rule per endpoint, checked before every request.

Each view declares its rule with :func:`allow`. A view without a rule is refused
(fail closed), and a test walks the URL map so that a route added without a rule
fails the suite.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import abort, current_app, redirect, request, session, url_for
from werkzeug.exceptions import Unauthorized
from werkzeug.wrappers import Response

from ..extensions import db
from ..models import Role, StaffUser
from . import identity

F = TypeVar("F", bound=Callable[..., Any])
_ATTR = "_dissent_access"


class Access(enum.Enum):
    """The access rules a route can have."""

    PUBLIC = "public"
    SOURCE = "source"  # a source logged in with a codename
    STAFF_PENDING = "staff_pending"  # password accepted, second factor not yet
    STAFF = "staff"  # any fully logged-in staff member
    ADVISER = "adviser"
    LEADERSHIP = "leadership"
    ADMIN = "admin"
    OVERSIGHT = "oversight"


ROLE_ACCESS = {
    Role.ADVISER: Access.ADVISER,
    Role.LEADERSHIP: Access.LEADERSHIP,
    Role.ADMIN: Access.ADMIN,
    Role.OVERSIGHT: Access.OVERSIGHT,
}


def allow(rule: Access) -> Callable[[F], F]:
    """Mark a view with its access rule."""

    def decorate(view: F) -> F:
        setattr(view, _ATTR, rule)
        return view

    return decorate


def rule_for(view: Callable[..., Any]) -> Access | None:
    """Return the access rule of a view, or ``None`` if it has none."""
    rule = getattr(view, _ATTR, None)
    return rule if isinstance(rule, Access) else None


@dataclass(frozen=True)
class Principal:
    """Who is making the current request, as far as the session says."""

    staff_id: int | None = None
    role: Role | None = None
    staff_pending_id: int | None = None
    source_id: int | None = None


def current_principal() -> Principal:
    """Return the principal of the current request from its session."""
    return Principal(
        staff_id=session.get(identity.STAFF_ID),
        role=identity.logged_in_role(),
        staff_pending_id=session.get(identity.PENDING_STAFF_ID),
        source_id=session.get(identity.SOURCE_ID),
    )


class SessionEnded(Unauthorized):
    """A form was sent to a page that needs a login the session no longer holds (it
    ended, or the visitor logged out in another tab): nothing was done. The error page
    says so and shows back what was typed (``web.errors``), where a redirect to the
    login page would drop it without a word (issue 12, item 2)."""

    def __init__(self, login_endpoint: str) -> None:
        super().__init__()
        self.login_endpoint = login_endpoint


def _to_login(endpoint: str) -> Response:
    if request.method == "POST":
        raise SessionEnded(endpoint)
    return redirect(url_for(endpoint))


def _staff_active(staff_id: int) -> bool:
    user = db.session.get(StaffUser, staff_id)
    return user is not None and user.active


def enforce() -> Response | None:
    """Check the current request against its endpoint's rule (a before-request hook)."""
    if request.endpoint is None:
        return None  # 404 and 405 are answered by Flask itself
    view = current_app.view_functions.get(request.endpoint)
    rule = rule_for(view) if view is not None else None
    if rule is None:
        # Fail closed: a route nobody gave a rule is reachable by nobody.
        abort(403)
    if rule is Access.PUBLIC:
        return None  # without reading the session: public pages work while its store is down
    principal = current_principal()
    if rule is Access.SOURCE:
        if principal.source_id is None:
            return _to_login("source.login")
        return None
    if rule is Access.STAFF_PENDING:
        if principal.staff_pending_id is None:
            return _to_login("staff.login")
        return None
    if principal.staff_id is None or principal.role is None:
        return _to_login("staff.login")
    if not _staff_active(principal.staff_id):
        # Deactivation takes effect at the next request, not at the next login.
        session.end()  # type: ignore[attr-defined]
        return redirect(url_for("staff.login"))
    if rule is Access.STAFF or ROLE_ACCESS[principal.role] is rule:
        return None
    abort(403)


def reject_nul() -> None:
    """Refuse a request whose path or query carries a NUL character.

    No legitimate input holds one, and PostgreSQL refuses it in a query (a 500 instead
    of a message). Form bodies are left to the forms, which refuse control characters
    with a message next to the field (``web.forms.CsrfForm``); reading a body here would
    also parse an upload before its route could allow its size.
    """
    values = [request.path, *request.args.values()]
    if any("\x00" in value for value in values):
        abort(400)
