"""The source's consent: summary limits, proposals and the source's decision, consent checks."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dissent.extensions import current_context, db
from dissent.models import Consent, Proposal, ProposalStatus, State, today
from dissent.services import consent
from dissent.services.consent import SUMMARY_MAX
from dissent.services.errors import (
    AlreadyDone,
    ConsentProblem,
    ConsentRefused,
    InvalidInput,
    NotFound,
    ObservationClosed,
    Problem,
    Refused,
)
from tests.helpers.services import Case, acknowledge, file_case, put_in_state, stranger
from tests.helpers.staff import adviser_keys

SUMMARY = "Completion figures in the Q3 report count attendance, not completion."


@pytest.fixture
def asked(app, mission, adviser) -> Case:
    """An acknowledged observation whose source wants to be asked first."""
    case = file_case(app, mission.id, consent=Consent.ASK_FIRST)
    acknowledge(app, case, adviser)
    return case


def propose(app, case: Case, adviser, summary: str = SUMMARY) -> int:
    with app.app_context(), db.unit():
        user, _ = adviser_keys(adviser)
        return consent.propose(
            db.session,
            current_context(),
            staff=user,
            observation=case.observation(),
            summary=summary,
        ).id


def decide(app, case: Case, proposal_id: int, *, approve: bool, source_id: int | None = None):
    with app.app_context(), db.unit():
        return consent.source_decides(
            db.session,
            source_id=case.source_id if source_id is None else source_id,
            proposal_id=proposal_id,
            approve=approve,
        ).status


def check(app, case: Case, adviser, summary: str = SUMMARY):
    with app.app_context():
        _, identity = adviser_keys(adviser)
        found = consent.check_consent(db.session, case.observation(), identity, summary)
        return found.id if found else None


# --- the summary's limits ---------------------------------------------------------------------


def test_a_summary_is_signed_trimmed_and_with_plain_line_breaks():
    assert consent.check_summary("  First line.\r\nSecond line.\r ") == "First line.\nSecond line."


@pytest.mark.parametrize("text", ["", "  \r\n "])
def test_an_empty_summary_is_refused_as_missing(text):
    with pytest.raises(InvalidInput) as refused:
        consent.check_summary(text)
    assert (refused.value.field, refused.value.problem) == ("summary", Problem.MISSING)


def test_a_summary_at_the_limit_goes_and_one_character_more_is_refused():
    assert len(consent.check_summary("x" * SUMMARY_MAX)) == SUMMARY_MAX
    with pytest.raises(InvalidInput) as refused:
        consent.check_summary("x" * (SUMMARY_MAX + 1))
    assert refused.value.field == "summary"
    assert refused.value.problem is Problem.TOO_LONG
    assert refused.value.limit == SUMMARY_MAX


# --- proposals --------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [Consent.SUMMARY_ALLOWED, Consent.NEVER])
def test_only_a_source_who_asked_to_be_asked_gets_a_proposal(app, mission, adviser, given):
    case = file_case(app, mission.id, consent=given)
    with pytest.raises(ConsentRefused) as refused:
        propose(app, case, adviser)
    assert refused.value.problem is ConsentProblem.NOT_ASKED_FIRST
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Proposal)) == 0


def test_an_over_long_proposal_is_refused_and_nothing_is_proposed(app, asked, adviser):
    with pytest.raises(InvalidInput) as refused:
        propose(app, asked, adviser, "x" * (SUMMARY_MAX + 1))
    assert (refused.value.field, refused.value.limit) == ("summary", SUMMARY_MAX)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Proposal)) == 0


def test_a_new_proposal_withdraws_the_one_still_waiting(app, asked, adviser):
    first = propose(app, asked, adviser, "First wording.")
    second = propose(app, asked, adviser, "Second wording.")
    with app.app_context():
        assert db.session.get(Proposal, first).status is ProposalStatus.WITHDRAWN
        assert db.session.get(Proposal, second).status is ProposalStatus.PENDING
        _, identity = adviser_keys(adviser)
        shown = consent.proposals_for(db.session, asked.observation(), identity)
    assert [(p.proposal.id, p.summary) for p in shown] == [
        (second, "Second wording."),
        (first, "First wording."),
    ]


def test_a_decided_proposal_is_not_withdrawn_by_a_new_one(app, asked, adviser):
    first = propose(app, asked, adviser)
    decide(app, asked, first, approve=True)
    propose(app, asked, adviser, "Another wording.")
    with app.app_context():
        assert db.session.get(Proposal, first).status is ProposalStatus.APPROVED


def test_the_source_reads_the_proposal_and_a_stranger_cannot(app, asked, adviser):
    propose(app, asked, adviser)
    with app.app_context():
        [mine] = consent.proposals_for(db.session, asked.observation(), asked.source_identity())
        [theirs] = consent.proposals_for(db.session, asked.observation(), stranger())
    assert (mine.summary, mine.readable) == (SUMMARY, True)
    assert (theirs.summary, theirs.readable) == ("", False)


# --- the source's decision --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("approve", "status"), [(True, ProposalStatus.APPROVED), (False, ProposalStatus.DECLINED)]
)
def test_the_source_approves_or_declines_on_the_day(app, asked, adviser, approve, status):
    proposal_id = propose(app, asked, adviser)
    assert decide(app, asked, proposal_id, approve=approve) is status
    with app.app_context():
        assert db.session.get(Proposal, proposal_id).decided_on == today()


def test_a_proposal_is_decided_once(app, asked, adviser):
    proposal_id = propose(app, asked, adviser)
    decide(app, asked, proposal_id, approve=False)
    with pytest.raises(AlreadyDone) as refused:
        decide(app, asked, proposal_id, approve=True)
    assert refused.value.what is Refused.DECISION
    with app.app_context():
        assert db.session.get(Proposal, proposal_id).status is ProposalStatus.DECLINED


def test_a_withdrawn_proposal_cannot_be_approved(app, asked, adviser):
    first = propose(app, asked, adviser, "First wording.")
    propose(app, asked, adviser, "Second wording.")
    with pytest.raises(AlreadyDone):
        decide(app, asked, first, approve=True)


def test_another_source_or_an_unknown_proposal_is_not_found(app, mission, asked, adviser):
    proposal_id = propose(app, asked, adviser)
    other = file_case(app, mission.id, consent=Consent.ASK_FIRST)
    with pytest.raises(NotFound):
        decide(app, asked, proposal_id, approve=True, source_id=other.source_id)
    with pytest.raises(NotFound):
        decide(app, asked, proposal_id + 1000, approve=True)
    with app.app_context():
        assert db.session.get(Proposal, proposal_id).status is ProposalStatus.PENDING


def test_a_proposal_on_a_closed_observation_cannot_be_decided(app, asked, adviser):
    proposal_id = propose(app, asked, adviser)
    put_in_state(app, asked, State.CLOSED)
    with pytest.raises(ObservationClosed) as refused:
        decide(app, asked, proposal_id, approve=True)
    assert refused.value.what is Refused.DECISION


# --- may this summary go? ---------------------------------------------------------------------


def test_summary_allowed_needs_no_proposal(app, mission, adviser):
    case = file_case(app, mission.id, consent=Consent.SUMMARY_ALLOWED)
    assert check(app, case, adviser) is None


def test_never_refuses_whatever_the_text(app, mission, adviser):
    case = file_case(app, mission.id, consent=Consent.NEVER)
    with pytest.raises(ConsentRefused) as refused:
        check(app, case, adviser)
    assert refused.value.problem is ConsentProblem.NEVER


def test_ask_first_goes_only_with_the_exact_text_approved(app, asked, adviser):
    proposal_id = propose(app, asked, adviser)
    with pytest.raises(ConsentRefused) as pending:
        check(app, asked, adviser)
    assert pending.value.problem is ConsentProblem.NOT_APPROVED

    decide(app, asked, proposal_id, approve=True)

    assert check(app, asked, adviser) == proposal_id
    with pytest.raises(ConsentRefused) as changed:
        check(app, asked, adviser, SUMMARY.replace("not completion", "and completion"))
    assert changed.value.problem is ConsentProblem.NOT_APPROVED


def test_a_declined_text_may_not_go(app, asked, adviser):
    decide(app, asked, propose(app, asked, adviser), approve=False)
    with pytest.raises(ConsentRefused) as refused:
        check(app, asked, adviser)
    assert refused.value.problem is ConsentProblem.NOT_APPROVED
