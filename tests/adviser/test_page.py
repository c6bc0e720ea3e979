"""The adviser's observation page (dissent.adviser.page): finding it, its forms, its flags."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from werkzeug.exceptions import NotFound

from dissent.adviser import page
from dissent.extensions import current_context, db
from dissent.models import Observation, Role, StaffUser, State
from dissent.security import identity
from dissent.services import accounts, consent, names
from dissent.services.identifiers import FlagKind
from dissent.web.labels import FLAG_LABELS
from tests.helpers.casework import refs
from tests.helpers.pages import BASE_URL
from tests.helpers.source import submit_observation
from tests.helpers.staff import PASSWORD


@contextmanager
def logged_in(app, login):
    """A request in which ``login`` is the logged-in staff member."""
    with app.test_request_context("/adviser/", base_url=BASE_URL):
        accepted = accounts.check_password(
            db.session, current_context(), username=login.username, password=PASSWORD
        )
        identity.begin_staff_login(accepted)
        identity.complete_staff_login(db.session.get(StaffUser, login.id))
        yield


@pytest.fixture
def team(app, mission, make_staff):
    """Two advisers and a leader of the mission, and an adviser and a leader elsewhere."""
    with app.app_context(), db.unit():
        accounts.create_mission(db.session, slug="other", name="Other Mission")
    return {
        "adviser": make_staff(Role.ADVISER, username="anna"),
        "colleague": make_staff(Role.ADVISER, username="bram"),
        "leader": make_staff(Role.LEADERSHIP, username="chef"),
        "outsider": make_staff(Role.ADVISER, username="dirk", missions=["other"]),
        "other_leader": make_staff(Role.LEADERSHIP, username="eva", missions=["other"]),
    }


@pytest.fixture
def ref(app, new_client, team) -> str:
    submit_observation(new_client(), what="The figures were rounded up.", consent="ask_first")
    return refs(app)[-1]


def observation(ref: str) -> Observation:
    return db.session.query(Observation).filter_by(ref=ref).one()


def test_an_observation_of_another_mission_is_not_found(app, team, ref):
    with logged_in(app, team["outsider"]), pytest.raises(NotFound):
        page.find_observation(ref)
    with logged_in(app, team["adviser"]):
        assert page.find_observation(ref.lower()).ref == ref
        with pytest.raises(NotFound):
            page.find_observation(ref + "X")


def test_the_state_form_offers_only_the_manual_steps_from_the_current_state(app, team, ref):
    with logged_in(app, team["adviser"]):
        received = page.prepare_forms(observation(ref), {})
        observation(ref).state = State.ACKNOWLEDGED
        acknowledged = page.prepare_forms(observation(ref), {})

    assert [c.value for c in received["state_form"].to_state.choices] == ["advice_only"]
    assert [c.value for c in acknowledged["state_form"].to_state.choices] == [
        "in_review",
        "advice_only",
        "closed",
    ]


def test_the_assignee_can_be_nobody_or_an_adviser_of_the_mission(app, team, ref):
    with logged_in(app, team["adviser"]):
        forms = page.prepare_forms(observation(ref), {})

    choices = [(c.value, c.label) for c in forms["triage_form"].assignee.choices]
    assert choices == [
        ("", "—"),
        (str(team["adviser"].id), "anna"),
        (str(team["colleague"].id), "bram"),
    ]
    assert forms["triage_form"].category.data == "reporting_accuracy"
    assert forms["triage_form"].assignee.data == ""


def test_every_leader_of_the_mission_is_offered_and_chosen_unless_the_adviser_chose(app, team, ref):
    with logged_in(app, team["adviser"]):
        fresh = page.prepare_forms(observation(ref), {})["summary_form"]
        kept = page.SummaryForm(leaders=[])
        kept.leaders.data = [999]
        again = page.prepare_forms(observation(ref), {"summary_form": kept})["summary_form"]

    assert [(c.value, c.label) for c in fresh.leaders.choices] == [(str(team["leader"].id), "chef")]
    assert fresh.leaders.data == [team["leader"].id]
    assert again is kept
    assert again.leaders.data == [999]


def test_the_summary_the_source_approved_is_offered_for_escalation(app, team, ref):
    with logged_in(app, team["adviser"]):
        with db.unit():
            proposal = consent.propose(
                db.session,
                current_context(),
                staff=identity.current_staff(),
                observation=observation(ref),
                summary="Figures in the report were rounded up.",
            )
        with db.unit():
            consent.source_decides(
                db.session,
                source_id=observation(ref).source_id,
                proposal_id=proposal.id,
                approve=True,
            )
        offered = page.prepare_forms(observation(ref), {})["summary_form"].summary.data

    assert offered == "Figures in the report were rounded up."


def test_a_summary_the_source_has_not_approved_is_not_offered(app, team, ref):
    with logged_in(app, team["adviser"]):
        with db.unit():
            consent.propose(
                db.session,
                current_context(),
                staff=identity.current_staff(),
                observation=observation(ref),
                summary="Still waiting for the source.",
            )
        offered = page.prepare_forms(observation(ref), {})["summary_form"].summary.data

    assert not offered


def test_the_summary_is_shown_with_its_identifiers_marked_by_kind(app, team, ref):
    with logged_in(app, team["adviser"]):
        with db.unit():
            names.save_names(
                db.session,
                current_context(),
                staff=identity.current_staff(),
                mission_id=observation(ref).mission_id,
                text="Jansen\nDe Vries\n",
            )
        observation(ref).state = State.ACKNOWLEDGED  # the summary editor is shown
        body, status = page.render_observation(
            observation(ref), flags_for="Jansen and De Vries met in Kabul on 3 March."
        )

    assert status == 200
    assert "4 possible identifiers flagged" in body
    for piece, label in [
        ("Jansen", FLAG_LABELS[FlagKind.NAME]),
        ("De Vries", FLAG_LABELS[FlagKind.NAME]),
        ("Kabul", FLAG_LABELS[FlagKind.PLACE]),
        ("3 March", FLAG_LABELS[FlagKind.DATE]),
    ]:
        assert f'>{piece}<span class="flag-kind"> [{label}]</span></mark>' in body
    assert "</mark> and <mark" in body  # the plain text between the flags is kept


def test_without_a_summary_to_check_no_flags_are_shown(app, team, ref):
    with logged_in(app, team["adviser"]):
        observation(ref).state = State.ACKNOWLEDGED
        body, status = page.render_observation(observation(ref), status=409)

    assert status == 409
    assert "Write a de-identified summary" in body
    assert "possible identifier" not in body
    assert 'id="flags"' not in body


def test_leaders_the_adviser_unticked_stay_unticked(app, team, ref):
    with logged_in(app, team["adviser"]):
        posted = page.SummaryForm()
        posted.leaders.data = []
        again = page.prepare_forms(observation(ref), {"summary_form": posted})["summary_form"]

    assert again.leaders.data == []
