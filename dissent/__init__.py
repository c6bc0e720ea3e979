"""dissent: a confidential channel for reporting what official reporting leaves out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Any = None) -> Flask:
    """Return a configured application (see :func:`dissent.app.create_app`)."""
    from .app import create_app as factory

    return factory(config)
