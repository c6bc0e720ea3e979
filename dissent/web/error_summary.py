"""The error summary at the top of a page whose form was refused (issue 12, item 7).

The base layout asks :func:`page_errors` for every error of every form the page
shows, so each form page gets the summary (and the "Error:" in its title) without a
line of its own. Each error names the field it belongs to, for a link that moves focus
there; the summary itself takes focus when the page loads, without JavaScript.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from jinja2.runtime import Context
from jinja2.utils import pass_context
from wtforms import Field, RadioField
from wtforms.csrf.core import CSRFTokenField
from wtforms.fields import HiddenField
from wtforms.form import BaseForm

from .forms import CheckboxesField

# A refused CSRF token means the page was open too long or the session ended: said in
# the words the form's own notice uses (macros.form_expired), not the token's.
FORM_EXPIRED = _l(
    "This form has expired (the page was open a long time, or your session ended). Nothing "
    "was saved. What you typed is kept below: check it and send it again."
)


@dataclass(frozen=True)
class PageError:
    """One error of a form on the page, and the id of the control it concerns (None:
    a form-wide error, or one of a field the visitor cannot reach)."""

    message: str
    target: str | None = None


def _messages(errors: Iterable[Any]) -> Iterator[str]:
    for error in errors:
        if isinstance(error, str) or hasattr(error, "__html__"):
            yield str(error)
        elif isinstance(error, dict):  # a FormField's errors, by subfield
            for nested in error.values():
                yield from _messages(nested)
        elif isinstance(error, list | tuple):  # a FieldList's, by entry
            yield from _messages(error)


def _target(field: Field) -> str | None:
    if isinstance(field, HiddenField):
        return None  # nothing the visitor can move to
    if isinstance(field, RadioField | CheckboxesField):
        # The group's first option: a link to the fieldset would focus nothing.
        return next((option.id for option in field), None)
    return str(field.id)


def form_errors(form: BaseForm) -> list[PageError]:
    """Return the errors of ``form``: form-wide ones first, then its fields' in order."""
    found = [PageError(message) for message in _messages(getattr(form, "form_errors", ()))]
    for field in form:
        if isinstance(field, CSRFTokenField):
            found += [PageError(str(FORM_EXPIRED))] if field.errors else []
            continue
        target = _target(field)
        found += [PageError(message, target) for message in _messages(field.errors)]
    return found


def _forms(values: Iterable[Any]) -> Iterator[BaseForm]:
    for value in values:
        if isinstance(value, BaseForm):
            yield value
        elif isinstance(value, dict):  # forms handed over by name (the adviser's page)
            yield from (v for v in value.values() if isinstance(v, BaseForm))


@pass_context
def page_errors(context: Context) -> list[PageError]:
    """Return the errors of every form the page being rendered shows, once each."""
    seen: set[int] = set()
    found: list[PageError] = []
    for form in _forms(context.get_all().values()):
        if id(form) not in seen:
            seen.add(id(form))
            found += [e for e in form_errors(form) if e not in found]
    return found
