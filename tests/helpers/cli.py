"""Running the command line in tests."""

from __future__ import annotations

from click.testing import CliRunner, Result

from dissent.cli import cli

# The environment of a machine with nothing configured: only what each test sets counts.
CLEAN_ENV = {
    name: None
    for name in (
        "DISSENT_INSTANCE",
        "DISSENT_SECRET_KEY",
        "DISSENT_SOURCE_SALT",
        "DISSENT_KEY_KIND",
        "DISSENT_RECOVERY_RECIPIENT",
        "DISSENT_PUBLIC_URL",
        "DATABASE_URL",
        "REDIS_URL",
        "DISSENT_SMTP_URL",
        "DISSENT_SMTP_FROM",
        "DISSENT_SMTP_USERNAME",
        "DISSENT_SMTP_PASSWORD",
        "DISSENT_SMTP_ALLOW_PLAIN_LOOPBACK",
        "DISSENT_NOTIFY_REFERENCES",
    )
}


def assert_one_line_error(result: Result) -> str:
    """Check the command failed with one ``error:`` line and no traceback; return it."""
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def run(*args: str, instance=None) -> Result:
    """Run ``dissent ARGS`` in-process, with DISSENT_INSTANCE set if ``instance`` is given."""
    env = dict(CLEAN_ENV)
    if instance is not None:
        env["DISSENT_INSTANCE"] = str(instance)
    return CliRunner().invoke(cli, list(args), env=env)
