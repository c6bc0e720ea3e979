"""The pages' side of confirming a colleague's key, shared by the adviser, leadership
and operator interfaces (the rule itself: ``services/confirmation.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, redirect, url_for
from flask.typing import ResponseReturnValue

from ..extensions import db
from ..models import StaffUser
from ..services import confirmation
from ..services.errors import InvalidInput, NotFound
from .forms import ConfirmKeyForm
from .messages import show_on


def page_context(
    staff: StaffUser,
    *,
    form: ConfirmKeyForm | None = None,
    failed: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Return what ``shared/key_confirmation.html`` needs for ``staff``'s page: the keys
    they may confirm, and their own key's missions still waiting, with its fingerprint."""
    return {
        "keys_to_confirm": confirmation.to_confirm(db.session, staff),
        "confirm_form": form or ConfirmKeyForm(),
        "confirm_failed": failed,
        "own_key_waiting": confirmation.awaiting(db.session, staff),
        "own_fingerprint": confirmation.fingerprint(staff.recipient) if staff.recipient else "",
    }


def confirm_posted(
    staff: StaffUser, *, staff_id: int, mission_id: int
) -> tuple[bool, ConfirmKeyForm]:
    """Confirm a key from the posted form, in one transaction.

    Returns whether it was confirmed, and the form (with the error next to the field
    when not). Raises ``NotFound`` when that key is not waiting for ``staff``.
    """
    form = ConfirmKeyForm()
    if not form.validate():
        return False, form
    try:
        with db.unit():
            confirmation.confirm(
                db.session,
                confirmer=staff,
                staff_id=staff_id,
                mission_id=mission_id,
                typed_fingerprint=form.fingerprint.data or "",
            )
    except InvalidInput as exc:
        show_on(form, exc)
        return False, form
    return True, form


def confirm_view(
    staff: StaffUser,
    *,
    staff_id: int,
    mission_id: int,
    page: Callable[[dict[str, Any]], ResponseReturnValue],
    done: str,
) -> ResponseReturnValue:
    """Answer a posted confirmation: to ``done`` (an endpoint) with a notice when it
    was confirmed, else ``page`` again (400) with the reason next to that key's field;
    404 when that key is not waiting for ``staff``."""
    try:
        confirmed, form = confirm_posted(staff, staff_id=staff_id, mission_id=mission_id)
    except NotFound:
        abort(404)
    if not confirmed:
        return page(page_context(staff, form=form, failed=(staff_id, mission_id)))
    return redirect(url_for(done, key="confirmed", _anchor="confirm-keys"), code=303)
