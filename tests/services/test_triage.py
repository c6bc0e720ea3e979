"""Triage: manual state changes and their history, assignment, severity, category and notes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dissent.extensions import current_context, db
from dissent.models import AuditEntry, Category, Role, Severity, State, StateChange, today
from dissent.services import accounts, audit, triage
from dissent.services.errors import ChangedMeanwhile, InvalidInput, Problem, TransitionRefused
from dissent.services.triage import NOTE_MAX, REASON_MAX
from tests.helpers.services import (
    Case,
    put_in_state,
    staff_user,
    stranger,
)
from tests.helpers.staff import adviser_keys


@pytest.fixture
def adviser(mission, make_staff):
    return make_staff(Role.ADVISER, username="adviser-a")


def change(app, case: Case, adviser, to_state: State, reason: str = "") -> None:
    with app.app_context(), db.unit():
        triage.change_state(
            db.session,
            current_context(),
            staff=staff_user(adviser),
            observation=case.observation(),
            to_state=to_state,
            reason=reason,
        )


def note(app, case: Case, adviser, text: str) -> None:
    with app.app_context(), db.unit():
        triage.add_note(
            db.session,
            current_context(),
            staff=staff_user(adviser),
            observation=case.observation(),
            text=text,
        )


def history(app, case: Case, reader) -> list[triage.HistoryItem]:
    with app.app_context():
        _, identity = adviser_keys(reader)
        return triage.history(db.session, case.observation(), identity)


def changes() -> int:
    return db.session.scalar(select(func.count()).select_from(StateChange))


# --- state changes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (State.ACKNOWLEDGED, State.RECEIVED),
        (State.ACKNOWLEDGED, State.ESCALATED),
        (State.ACKNOWLEDGED, State.FEEDBACK_GIVEN),
        (State.ESCALATED, State.IN_REVIEW),
        (State.CLOSED, State.CLOSED),
        (State.CLOSED, State.ADVICE_ONLY),
    ],
)
def test_a_change_the_procedure_does_not_allow_is_refused_and_leaves_no_trace(
    app, case, adviser, start, target
):
    put_in_state(app, case, start)
    with pytest.raises(TransitionRefused) as refused:
        change(app, case, adviser, target, "Trying anyway.")
    assert start.value in str(refused.value) and target.value in str(refused.value)
    with app.app_context():
        assert case.observation().state is start
        assert changes() == 1  # only the acknowledgement


def test_an_allowed_change_is_kept_with_its_reason_for_advisers(app, case, adviser):
    change(app, case, adviser, State.IN_REVIEW, "  Needs a second look.\r\n")
    with app.app_context():
        assert case.observation().state is State.IN_REVIEW
    last = history(app, case, adviser)[-1]
    assert (last.kind, last.from_state, last.to_state) == (
        "state",
        State.ACKNOWLEDGED,
        State.IN_REVIEW,
    )
    assert (last.text, last.author, last.readable) == ("Needs a second look.", "adviser-a", True)


def test_closing_records_the_day_and_reopening_is_possible(app, case, adviser):
    change(app, case, adviser, State.CLOSED)
    with app.app_context():
        assert case.observation().closed_on == today()
    change(app, case, adviser, State.IN_REVIEW, "The source wrote again.")
    with app.app_context():
        assert case.observation().state is State.IN_REVIEW
    assert [(h.from_state, h.to_state) for h in history(app, case, adviser)] == [
        (State.RECEIVED, State.ACKNOWLEDGED),
        (State.ACKNOWLEDGED, State.CLOSED),
        (State.CLOSED, State.IN_REVIEW),
    ]


def test_an_over_long_reason_is_refused_and_the_state_stays(app, case, adviser):
    change(app, case, adviser, State.IN_REVIEW, "x" * REASON_MAX)  # at the limit
    with pytest.raises(InvalidInput) as refused:
        change(app, case, adviser, State.CLOSED, "x" * (REASON_MAX + 1))
    assert (refused.value.field, refused.value.problem, refused.value.limit) == (
        "reason",
        Problem.TOO_LONG,
        REASON_MAX,
    )
    with app.app_context():
        assert case.observation().state is State.IN_REVIEW


def test_a_change_without_a_reason_stores_none(app, case, adviser):
    change(app, case, adviser, State.ADVICE_ONLY)
    with app.app_context():
        latest = db.session.scalar(select(StateChange).order_by(StateChange.id.desc()))
        assert latest.reason is None
    assert history(app, case, adviser)[-1].text == ""


# --- who works on it ----------------------------------------------------------------------------


def test_mission_staff_are_the_active_enrolled_ones_in_that_role_by_name(
    app, mission, adviser, make_staff
):
    make_staff(Role.ADVISER, username="adviser-c")
    gone = make_staff(Role.ADVISER, username="adviser-b")
    make_staff(Role.LEADERSHIP, username="leader-a")
    with app.app_context(), db.unit():
        accounts.set_active(db.session, staff_id=gone.id, active=False)
        accounts.create_account(  # never enrolled: no key yet
            db.session, username="adviser-d", role=Role.ADVISER, mission_slugs=["eupol"]
        )
        accounts.create_mission(db.session, slug="eutm", name="EUTM Mission")
    make_staff(Role.ADVISER, username="adviser-e", missions=["eutm"])
    with app.app_context():
        advisers = triage.mission_staff(db.session, mission.id, Role.ADVISER)
        leaders = triage.mission_staff(db.session, mission.id, Role.LEADERSHIP)
    assert [u.username for u in advisers] == ["adviser-a", "adviser-c"]
    assert [u.username for u in leaders] == ["leader-a"]


def assign(app, case: Case, adviser, assignee_id: int | None) -> None:
    with app.app_context(), db.unit():
        triage.assign(
            db.session,
            staff=staff_user(adviser),
            observation=case.observation(),
            assignee_id=assignee_id,
        )


def test_an_observation_is_assigned_to_an_adviser_of_its_mission_or_to_nobody(
    app, case, adviser, make_staff
):
    colleague = make_staff(Role.ADVISER)
    assign(app, case, adviser, colleague.id)
    with app.app_context():
        assert case.observation().assigned_to_id == colleague.id
    assign(app, case, adviser, None)
    with app.app_context():
        assert case.observation().assigned_to_id is None


@pytest.mark.parametrize("who", ["leader", "adviser_elsewhere", "unknown"])
def test_assigning_to_anyone_else_is_refused(app, case, adviser, make_staff, who):
    assign(app, case, adviser, adviser.id)
    if who == "leader":
        assignee = make_staff(Role.LEADERSHIP).id
    elif who == "adviser_elsewhere":
        with app.app_context(), db.unit():
            accounts.create_mission(db.session, slug="eutm", name="EUTM Mission")
        assignee = make_staff(Role.ADVISER, missions=["eutm"]).id
    else:
        assignee = 999_999
    with pytest.raises(InvalidInput) as refused:
        assign(app, case, adviser, assignee)
    assert (refused.value.field, refused.value.problem) == ("assignee", Problem.NOT_ALLOWED)
    with app.app_context():
        assert case.observation().assigned_to_id == adviser.id


def test_severity_and_a_corrected_category_are_kept(app, case, adviser):
    with app.app_context(), db.unit():
        user, observation = staff_user(adviser), case.observation()
        triage.set_severity(db.session, staff=user, observation=observation, severity=Severity.HIGH)
        triage.correct_category(
            db.session, staff=user, observation=observation, category=Category.SAFETY_SECURITY
        )
    with app.app_context():
        observation = case.observation()
        assert (observation.severity, observation.category) == (
            Severity.HIGH,
            Category.SAFETY_SECURITY,
        )
    with app.app_context(), db.unit():
        triage.set_severity(
            db.session, staff=staff_user(adviser), observation=case.observation(), severity=None
        )
    with app.app_context():
        assert case.observation().severity is None


# --- notes and history --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem", "limit"),
    [("  ", Problem.MISSING, None), ("x" * (NOTE_MAX + 1), Problem.TOO_LONG, NOTE_MAX)],
)
def test_an_empty_or_over_long_note_is_refused(app, case, adviser, text, problem, limit):
    with pytest.raises(InvalidInput) as refused:
        note(app, case, adviser, text)
    assert (refused.value.field, refused.value.problem, refused.value.limit) == (
        "text",
        problem,
        limit,
    )
    assert [h.kind for h in history(app, case, adviser)] == ["state"]


def test_notes_and_changes_come_in_order_and_only_advisers_read_them(
    app, case, adviser, make_staff
):
    note(app, case, adviser, "Check the Q3 annex.")
    change(app, case, adviser, State.IN_REVIEW, "Annex checked.")
    assert [(h.kind, h.text) for h in history(app, case, adviser)] == [
        ("state", ""),
        ("note", "Check the Q3 annex."),
        ("state", "Annex checked."),
    ]
    leader = make_staff(Role.LEADERSHIP)
    for item in history(app, case, leader):
        assert item.text == ""
        assert item.readable is (item.kind == "state" and item.to_state is State.ACKNOWLEDGED)
    with app.app_context():
        shown = triage.history(db.session, case.observation(), stranger())
    assert [h.readable for h in shown] == [True, False, False]


def update(app, case: Case, adviser, *, seen: int | None, **choices) -> None:
    values = {"assignee_id": None, "severity": None, "category": Category.REPORTING_ACCURACY}
    values.update(choices)
    with app.app_context(), db.unit():
        triage.update_triage(
            db.session,
            staff=staff_user(adviser),
            observation=case.observation(),
            seen=seen,
            **values,
        )


def test_triage_saves_what_the_adviser_chose_and_only_audits_what_changed(app, case, adviser):
    with app.app_context():
        seen = case.observation().revision
        entries = db.session.scalar(select(func.count()).select_from(AuditEntry))
    update(app, case, adviser, seen=seen, severity=Severity.CRITICAL, assignee_id=adviser.id)
    with app.app_context():
        observation = case.observation()
        assert (observation.severity, observation.assigned_to_id) == (
            Severity.CRITICAL,
            adviser.id,
        )
        assert observation.category is Category.REPORTING_ACCURACY
        added = db.session.scalars(
            select(AuditEntry.action).order_by(AuditEntry.seq).offset(entries)
        ).all()
    assert sorted(added) == sorted([audit.Action.ASSIGN, audit.Action.SEVERITY])


def test_a_change_from_a_page_a_colleague_overtook_is_refused(app, case, adviser):
    with app.app_context():
        seen = case.observation().revision
    change(app, case, adviser, State.IN_REVIEW)  # a colleague, a moment earlier
    with pytest.raises(ChangedMeanwhile):
        update(app, case, adviser, seen=seen, severity=Severity.LOW)
    with pytest.raises(ChangedMeanwhile), app.app_context(), db.unit():
        triage.change_state(
            db.session,
            current_context(),
            staff=staff_user(adviser),
            observation=case.observation(),
            to_state=State.CLOSED,
            seen=seen,
        )
    with app.app_context():
        assert case.observation().state is State.IN_REVIEW
        assert case.observation().severity is None
