"""Where dissent's shipped data lives: templates, migrations, static files, catalogues.

``templates/`` and ``migrations/`` stay at the top of the repository and are installed
inside the package (as ``dissent.templates`` and ``dissent.migrations``); these
functions find them in both layouts, so nothing needs the application to locate them.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped_folder(name: str) -> Path:
    """Return the folder installed as ``dissent.<name>``, or the repository's own."""
    try:
        located = Path(str(resources.files(f"dissent.{name}")))
        if located.is_dir():
            return located
    except ModuleNotFoundError:
        pass
    return _PACKAGE.parent / name


def templates_dir() -> Path:
    """Return the folder of the Jinja templates."""
    return _shipped_folder("templates")


def migrations_dir() -> Path:
    """Return the folder of the Alembic migrations."""
    return _shipped_folder("migrations")


def static_dir() -> Path:
    """Return the folder of the static files (CSS)."""
    return _PACKAGE / "static"


def translations_dir() -> Path:
    """Return the folder of the message catalogues."""
    return _PACKAGE / "translations"
