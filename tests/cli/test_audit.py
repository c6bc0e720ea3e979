"""``dissent audit verify`` against a test instance: an intact ledger, and each kind of break."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update

from dissent.cli import cli
from dissent.extensions import db
from dissent.models import AuditEntry, Role
from dissent.services import audit


def run(app, *args: str):
    """Run ``dissent ARGS`` against the test application."""
    return app.test_cli_runner().invoke(cli, list(args))


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def entries(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry))


@pytest.fixture
def ledger(app, mission, make_staff):
    """An audit ledger with a few entries (mission and accounts created)."""
    make_staff(Role.ADVISER)
    make_staff(Role.LEADERSHIP)
    with app.app_context():
        for n in range(3):
            audit.record(db.session, actor="tester", action=audit.Action.VIEW, subject=f"R{n}")
            db.session.commit()
    return entries(app)


# --- audit verify -------------------------------------------------------------------------------


def test_audit_verify_accepts_an_intact_ledger(app, ledger):
    result = run(app, "audit", "verify")

    assert result.exit_code == 0, result.stderr
    with app.app_context():
        head = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()))
    assert result.stdout == f"ok: {ledger} entries, head {head.seq} {head.entry_hash.hex()}\n"


def test_audit_verify_names_an_altered_entry(app, ledger):
    with app.app_context():
        db.session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(action="login"))
        db.session.commit()

    result = run(app, "audit", "verify")

    line = one_error_line(result)
    assert line.startswith("error: audit ledger broken at entry 3: entry 3 was altered")


def test_audit_verify_names_a_removed_entry(app, ledger):
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
        db.session.commit()

    result = run(app, "audit", "verify")

    assert one_error_line(result).startswith(
        "error: audit ledger broken at entry 2: entry 2 is missing"
    )


def test_audit_verify_notices_the_last_entry_removed(app, ledger):
    with app.app_context():
        db.session.execute(delete(AuditEntry).where(AuditEntry.seq == ledger))
        db.session.commit()

    result = run(app, "audit", "verify")

    assert f"broken at entry {ledger}:" in one_error_line(result)
