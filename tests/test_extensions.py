"""The request's database session and its one transaction (dissent.extensions)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dissent.extensions import current_context, db
from dissent.models import AuditEntry
from dissent.services import audit
from dissent.services.context import ServiceContext
from dissent.services.errors import InvalidInput, LoginFailed, Problem
from dissent.services.transaction import on_rollback


def entries(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_a_unit_commits_once_when_its_block_ends(app):
    before = entries(app)
    with app.app_context(), db.unit():
        audit.record(db.session, actor="tester", action=audit.Action.VIEW)
        audit.record(db.session, actor="tester", action=audit.Action.VIEW)
    assert entries(app) == before + 2


def test_a_refusal_half_way_leaves_nothing(app):
    before = entries(app)
    with app.app_context():
        with pytest.raises(InvalidInput), db.unit():
            audit.record(db.session, actor="tester", action=audit.Action.VIEW)
            raise InvalidInput("text", Problem.MISSING)
        # The same session reads the state before the unit, not what it left behind.
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert entries(app) == before


def test_a_refusal_that_is_a_record_keeps_it(app):
    before = entries(app)
    with app.app_context(), pytest.raises(LoginFailed), db.unit():
        audit.record(db.session, actor="tester", action=audit.Action.LOGIN_FAILED)
        raise LoginFailed
    assert entries(app) == before + 1


def test_a_failed_commit_rolls_back_and_runs_the_rollback_work(app, monkeypatch):
    undone = []
    before = entries(app)
    with app.app_context():
        monkeypatch.setattr(
            db.session, "commit", lambda: (_ for _ in ()).throw(OSError("disk full"))
        )
        with pytest.raises(OSError), db.unit():
            audit.record(db.session, actor="tester", action=audit.Action.VIEW)
            on_rollback(db.session, lambda: undone.append(True))
        assert undone == [True]
        monkeypatch.undo()
    assert entries(app) == before


def test_each_application_has_its_own_context(app, config):
    from dissent.app import create_app

    other = create_app(config)
    with app.app_context():
        mine = current_context()
    with other.app_context():
        theirs = current_context()
    assert isinstance(mine, ServiceContext) and mine is not theirs
    db.engine(other).dispose()
