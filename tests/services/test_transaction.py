"""Work that follows the request's one transaction (dissent.services.transaction)."""

from __future__ import annotations

import logging

from sqlalchemy import text

from dissent.extensions import db
from dissent.services.transaction import on_commit, on_rollback


def test_commit_work_runs_after_the_commit_and_rollback_work_is_dropped(app):
    done = []
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        on_commit(db.session, lambda: done.append("committed"))
        on_rollback(db.session, lambda: done.append("rolled back"))
        assert done == []
        db.session.commit()
        assert done == ["committed"]
        db.session.execute(text("SELECT 1"))
        db.session.rollback()  # a later transaction does not run the earlier work again
    assert done == ["committed"]


def test_rollback_work_runs_on_rollback_and_when_the_session_closes_uncommitted(app):
    done = []
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        on_rollback(db.session, lambda: done.append("first"))
        on_commit(db.session, lambda: done.append("never"))
        db.session.rollback()
        assert done == ["first"]
        db.session.execute(text("SELECT 1"))
        on_rollback(db.session, lambda: done.append("second"))
    # The application context ended without a commit: the session closed.
    assert done == ["first", "second"]


def test_failing_work_is_logged_by_type_only_and_the_rest_still_runs(app, caplog):
    done = []

    def fails() -> None:
        raise OSError("/secret/path of a file")

    with app.app_context():
        db.session.execute(text("SELECT 1"))
        on_commit(db.session, fails)
        on_commit(db.session, lambda: done.append("after"))
        with caplog.at_level(logging.ERROR):
            db.session.commit()
    assert done == ["after"]
    assert "OSError" in caplog.text and "/secret/path" not in caplog.text
