"""The leadership interface: escalations sent to a leader, and the periodic report."""

from __future__ import annotations

from .blueprint import bp

# Importing the route modules registers their views on the blueprint.
from .escalations import index
from .reports import report

__all__ = ["bp", "index", "report"]
