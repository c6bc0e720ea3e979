"""Reading rendered pages the way a test needs: tokens, fields, errors, text."""

from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from dissent.extensions import db

BASE_URL = "https://localhost"


def csrf_from(response) -> str:
    """Return the CSRF token in a rendered form."""
    import re

    match = re.search(
        rb'name="csrf_token" type="hidden" value="([^"]+)"', response.data
    ) or re.search(rb'name="csrf_token" value="([^"]+)"', response.data)
    assert match, "no CSRF token in the page"
    return match.group(1).decode()


def hidden(response, name: str) -> str:
    """Return the value of the first hidden field ``name`` in the page."""
    for tag in re.findall(rb"<input[^>]*>", response.data):
        if b'type="hidden"' in tag and f'name="{name}"'.encode() in tag:
            value = re.search(rb'value="([^"]*)"', tag)
            return html.unescape(value.group(1).decode()) if value else ""
    raise AssertionError(f"no hidden field {name}")


def form_fields(response, action: str, **data) -> dict:
    """Return what a browser sends with the form posting to ``action``: its hidden
    fields (CSRF token, the revision the page showed), with ``data`` over them."""
    pattern = rb'<form[^>]+action="' + re.escape(action.encode()) + rb'[#"].*?</form>'
    form = re.search(pattern, response.data, re.S)
    assert form, f"no form posting to {action}"
    fields = {}
    for tag in re.findall(rb"<input[^>]*>", form.group(0)):
        if b'type="hidden"' in tag:
            name = re.search(rb'name="([^"]+)"', tag).group(1).decode()
            value = re.search(rb'value="([^"]*)"', tag)
            fields[name] = html.unescape(value.group(1).decode()) if value else ""
    return fields | data


def field_errors(response, field_id: str) -> list[str]:
    """Return the error messages shown next to a field."""
    match = re.search(
        rf'<ul[^>]*id="{field_id}-errors"[^>]*>(.*?)</ul>'.encode(), response.data, re.S
    )
    if not match:
        return []
    return [html.unescape(m.decode()) for m in re.findall(rb"<li>(.*?)</li>", match.group(1))]


def textarea_value(response, name: str) -> str:
    """Return the text inside a textarea."""
    match = re.search(
        rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>'.encode(), response.data, re.S
    )
    assert match, f"no textarea {name}"
    return html.unescape(match.group(1).decode()).lstrip("\r\n")


def input_value(response, name: str) -> str:
    """Return the value of a text input."""
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>'.encode(), response.data)
    assert tag, f"no input {name}"
    value = re.search(rb'value="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1).decode()) if value else ""


def count(app, model) -> int:
    """Return the number of rows of ``model``."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def text_of(response) -> str:
    """Return the page as text with the markup removed and whitespace collapsed."""
    plain = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(plain).split())


def bar_width(svg: str, label: str) -> int:
    """Return the width of the bar drawn for ``label`` (0 if none is drawn)."""
    group = re.search(rf"<g><title>{re.escape(html.escape(label))}: [^<]*</title>(.*?)</g>", svg)
    assert group, label
    rect = re.search(r"<rect [^>]*?\swidth=\"(\d+)\"", group.group(1))
    return int(rect.group(1)) if rect else 0
