"""Instances made by `dissent init` for command line tests, and what init prints."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import Result

from dissent.cli import cli
from tests.helpers.cli import run

# One printed share of the recovery key ceremony: its number and its text.
SHARE = re.compile(r"^\s*share (\d+): (DISSENT-SHARE1 [A-Z0-9 ]+)$", re.M)


def recovery_recipient(result: Result) -> str:
    """Return the recovery recipient `dissent init` printed."""
    match = re.search(r"^Recovery recipient: (age1\S+)$", result.stdout, re.M)
    assert match, result.stdout
    return match.group(1)


# The address an instance made by init_instance is reached at (`dissent serve` needs one).
PUBLIC_URL = "http://127.0.0.1:5000"


def init_instance(path: Path) -> Path:
    """Run `dissent init` into ``path`` and add the mission ``eupol``; return ``path``."""
    assert run("init", "--instance", str(path), "--public-url", PUBLIC_URL).exit_code == 0
    assert run("mission", "add", "eupol", "EUPOL Test Mission", instance=path).exit_code == 0
    return path


def run_in(app, *args: str, answer: str | None = None) -> Result:
    """Run ``dissent ARGS`` against the test application ``app``."""
    return app.test_cli_runner().invoke(cli, list(args), input=answer)


def run_without_mail(config: dict, *args: str) -> Result:
    """Run ``dissent ARGS`` against an application made from ``config`` without its mail
    settings (no mail server: notifications are off)."""
    from dissent.app import create_app
    from dissent.extensions import db

    quiet = create_app({key: value for key, value in config.items() if not key.startswith("SMTP")})
    try:
        return run_in(quiet, *args)
    finally:
        db.engine(quiet).dispose()
