"""Links that leave the site, made from the instance's configured public address."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from ..extensions import current_context


def public_url_for(endpoint: str, **values: Any) -> str:
    """Return the absolute URL of ``endpoint`` at the instance's public address.

    Never from the request's Host header: whoever sends a request chooses that, and an
    enrolment link made from it could send a new staff member to another server to type
    their password and second factor in (issue 15, finding 16).
    """
    public_url = current_context().settings.public_url
    if public_url is None:
        # create_app refuses to serve without one; only a test app can get here.
        raise RuntimeError("no public_url is configured")
    parts = urlsplit(public_url)
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme
    )
    return adapter.build(endpoint, values, force_external=True)
