"""The leadership blueprint; its routes live in ``escalations`` and ``reports``."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("leadership", __name__, url_prefix="/leadership")
