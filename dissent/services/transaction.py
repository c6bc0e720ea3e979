"""Work that must follow the request's one transaction: after it commits, or if it does not.

Services never commit; the view or command that calls them does, once. Some of their
work lives outside the database and must follow the transaction's fate: an attachment
file published for a new record is removed if the record is not committed, and the
files of purged records are deleted only once their deletion is. Services register
such work here; it runs when the session's transaction ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)

_ON_COMMIT = "dissent.on_commit"
_ON_ROLLBACK = "dissent.on_rollback"


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's current transaction has committed."""
    session.info.setdefault(_ON_COMMIT, []).append(action)


def on_rollback(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` if the session's current transaction ends without committing."""
    session.info.setdefault(_ON_ROLLBACK, []).append(action)


def _run(actions: list[Callable[[], None]], when: str) -> None:
    for action in actions:
        try:
            action()
        except Exception as exc:  # the transaction's outcome stands; say what was left
            log.error("work after %s failed: %s", when, type(exc).__name__)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(_ON_ROLLBACK, None)
    _run(session.info.pop(_ON_COMMIT, []), "commit")


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a nested transaction; the outer one decides
    # Reached after a commit too, but _committed has emptied both lists by then.
    session.info.pop(_ON_COMMIT, None)
    _run(session.info.pop(_ON_ROLLBACK, []), "rollback")
