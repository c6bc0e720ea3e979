"""The audit ledger's hash chain: entries link up, and a changed or removed row is found."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from dissent.extensions import db
from dissent.models import AuditEntry
from dissent.models.audit import GENESIS_HASH
from dissent.services import audit


def record_views(app, count: int) -> None:
    with app.app_context(), db.unit():
        for n in range(count):
            audit.record(db.session, actor="adviser1", action=audit.Action.VIEW, subject=f"R{n}")


def verify(app) -> audit.Verification:
    with app.app_context():
        return audit.verify_chain(db.session)


def test_a_new_ledger_verifies_and_starts_at_the_genesis_hash(app):
    result = verify(app)

    assert result.ok
    assert (result.checked, result.head_seq) == (0, 0)
    with app.app_context():
        assert audit.chain_head(db.session) == (0, GENESIS_HASH.hex())


def test_entries_are_numbered_in_order_and_each_links_to_the_one_before(app):
    record_views(app, 4)

    with app.app_context():
        entries = list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        head = audit.chain_head(db.session)

    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(
        later.prev_hash == earlier.entry_hash for earlier, later in itertools.pairwise(entries)
    )
    assert head == (4, entries[-1].entry_hash.hex())
    result = verify(app)
    assert (result.ok, result.checked, result.head_seq, result.head_hash) == (True, 4, 4, head[1])


def test_a_rolled_back_action_leaves_no_gap_in_the_chain(app):
    record_views(app, 2)

    with app.app_context(), pytest.raises(RuntimeError), db.unit():
        audit.record(db.session, actor="adviser1", action=audit.Action.REPLY, subject="R9")
        raise RuntimeError("the action failed after its entry was written")
    record_views(app, 1)

    result = verify(app)
    assert (result.ok, result.checked) == (True, 3)


@pytest.mark.parametrize(
    ("column", "new_value"),
    [
        ("actor", lambda _entry: "someone-else"),
        ("action", lambda _entry: audit.Action.LOGIN),
        ("subject", lambda _entry: "R-OTHER"),
        ("at", lambda entry: entry.at + timedelta(seconds=1)),
    ],
)
def test_a_changed_row_is_found_by_its_number(app, column, new_value):
    record_views(app, 4)
    with app.app_context(), db.unit():
        entry = db.session.get(AuditEntry, 3)
        db.session.execute(
            update(AuditEntry).where(AuditEntry.seq == 3).values({column: new_value(entry)})
        )

    result = verify(app)

    assert not result.ok
    assert result.broken_seq == 3
    assert result.problem == "entry 3 was altered"
    assert result.checked == 2


def test_a_row_rewritten_with_a_fresh_hash_breaks_the_next_link(app):
    record_views(app, 4)
    with app.app_context(), db.unit():
        entry = db.session.get(AuditEntry, 2)
        forged = audit._hash(
            entry.prev_hash,
            seq=2,
            at=entry.at,
            actor="nobody",
            action=entry.action,
            subject=entry.subject,
        )
        entry.actor, entry.entry_hash = "nobody", forged

    result = verify(app)

    assert (result.ok, result.broken_seq) == (False, 3)
    assert result.problem == "entry 3 does not link to entry 2"


def test_a_removed_row_in_the_middle_is_reported_missing(app):
    record_views(app, 4)
    with app.app_context(), db.unit():
        db.session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))

    result = verify(app)

    assert (result.ok, result.broken_seq, result.problem) == (False, 2, "entry 2 is missing")


def test_removed_last_rows_are_found_against_the_head(app):
    record_views(app, 4)
    with app.app_context(), db.unit():
        db.session.execute(delete(AuditEntry).where(AuditEntry.seq >= 3))

    result = verify(app)

    assert not result.ok
    assert (result.checked, result.head_seq, result.broken_seq) == (2, 4, 3)


def test_over_long_values_are_cut_to_their_columns_and_still_verify(app):
    with app.app_context(), db.unit():
        entry = audit.record(db.session, actor="a" * 100, action="b" * 100, subject="c" * 200)

    with app.app_context():
        stored = db.session.get(AuditEntry, entry.seq)
        assert (len(stored.actor), len(stored.action), len(stored.subject)) == (
            audit.ACTOR_MAX,
            audit.ACTION_MAX,
            audit.SUBJECT_MAX,
        )
    assert verify(app).ok
