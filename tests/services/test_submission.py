"""Filing an observation through the service: what is stored, who can read it, replays."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dissent.crypto import identity_from_secret
from dissent.crypto.codename import generate_codename
from dissent.extensions import current_context, db
from dissent.models import Category, Consent, Mission, Observation, Role, Source, State
from dissent.services import accounts, submission
from dissent.services.content import open_document
from dissent.services.errors import MissionUnavailable, NotFound, SubmissionReplayed
from tests.helpers.filing import WHAT, draft, file_directly
from tests.helpers.staff import adviser_keys

REF = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_submission_stores_a_source_and_its_observation_sealed_for_its_readers(
    app, mission, adviser, recovery_identity
):
    with app.app_context():
        with db.unit():
            _codename, result = file_directly(
                db.session,
                current_context(),
                mission.id,
                category=Category.SAFETY_SECURITY,
                consent=Consent.NEVER,
            )
        observation = db.session.scalar(select(Observation))
        source = db.session.get(Source, result.source_id)
        _user, adviser_identity = adviser_keys(adviser)
        source_identity = identity_from_secret(
            result.identity_secret, kind=current_context().settings.key_kind
        )

        assert observation.source_id == source.id
        assert source.recipient == source_identity.recipient.encode()
        assert (observation.mission_id, observation.state) == (mission.id, State.RECEIVED)
        assert (observation.category, observation.consent) == (
            Category.SAFETY_SECURITY,
            Consent.NEVER,
        )
        assert REF.fullmatch(observation.ref)
        assert WHAT.encode() not in observation.content
        for reader in (source_identity, adviser_identity, recovery_identity):
            document = open_document(observation.content, identities=[reader])
            assert document["what"] == WHAT
            assert (document["when"], document["where"]) == ("last_month", "Camp North")
            assert (document["contradicts"], document["official_report"]) == (
                "yes",
                "Q3 progress report",
            )


def test_a_replayed_submit_token_files_nothing_and_finds_the_first_source(app, mission, adviser):
    codename = generate_codename()
    with app.app_context():
        ctx = current_context()
        with db.unit():
            _, first = file_directly(db.session, ctx, mission.id, token="tok-1", codename=codename)

        with pytest.raises(SubmissionReplayed), db.unit():
            file_directly(
                db.session, ctx, mission.id, token="tok-1", codename=codename, what="again"
            )

        assert (count(Observation), count(Source)) == (1, 1)
        again = submission.replayed_submission(db.session, ctx, codename=codename)
        assert again == first
        assert again.identity_secret == first.identity_secret


def test_a_replay_is_told_by_its_token_even_with_another_codename(app, mission, adviser):
    with app.app_context():
        ctx = current_context()
        with db.unit():
            file_directly(db.session, ctx, mission.id, token="tok-1")

        with pytest.raises(SubmissionReplayed), db.unit():
            file_directly(db.session, ctx, mission.id, token="tok-1")

        assert count(Source) == 1


def test_whether_a_form_was_submitted_is_known_by_its_token(app, mission, adviser):
    with app.app_context():
        assert not submission.was_submitted(db.session, "tok-1")
        with db.unit():
            file_directly(db.session, current_context(), mission.id, token="tok-1")

        assert submission.was_submitted(db.session, "tok-1")
        assert not submission.was_submitted(db.session, "tok-2")
        # Only a hash of the token is stored.
        stored = db.session.scalar(select(Observation.submit_token_hash))
        assert b"tok-1" not in stored


def test_a_codename_that_filed_nothing_has_no_replayed_submission(app, mission, adviser):
    with app.app_context(), pytest.raises(NotFound):
        submission.replayed_submission(db.session, current_context(), codename=generate_codename())


@pytest.mark.parametrize("why", ["unknown", "inactive", "no adviser"])
def test_a_mission_that_cannot_take_observations_is_refused(app, mission, adviser, why):
    with app.app_context():
        if why == "unknown":
            mission_id = mission.id + 100
        elif why == "inactive":
            with db.unit():
                db.session.get(Mission, mission.id).active = False
            mission_id = mission.id
        else:
            with db.unit():
                empty = accounts.create_mission(db.session, slug="eutm", name="EUTM")
                # An account that has not enrolled yet has no key to read with.
                accounts.create_account(
                    db.session, username="newcomer", role=Role.ADVISER, mission_slugs=["eutm"]
                )
            mission_id = empty.id

        with pytest.raises(MissionUnavailable), db.unit():
            submission.submit_observation(
                db.session,
                current_context(),
                draft=draft(mission_id),
                submit_token="tok-1",
                codename=generate_codename(),
            )

        assert (count(Observation), count(Source)) == (0, 0)


def test_open_missions_are_the_active_ones_with_an_adviser_by_name(app, make_staff):
    with app.app_context(), db.unit():
        for slug, name in [("zulu", "Zulu Mission"), ("alpha", "Alpha Mission")]:
            accounts.create_mission(db.session, slug=slug, name=name)
        accounts.create_mission(db.session, slug="empty", name="Beta Mission (no adviser)")
        accounts.create_mission(db.session, slug="closed", name="Closed Mission")
    make_staff(Role.ADVISER, missions=["zulu", "alpha", "closed"])
    with app.app_context():
        with db.unit():
            db.session.scalar(select(Mission).where(Mission.slug == "closed")).active = False

        assert [m.slug for m in submission.open_missions(db.session)] == ["alpha", "zulu"]


def test_references_are_short_and_never_use_look_alike_letters():
    refs = {submission.new_ref() for _ in range(300)}

    assert all(REF.fullmatch(ref) for ref in refs)
    assert not any(letter in "".join(refs) for letter in "ILOU")
    assert len(refs) == 300


def test_a_twin_stored_a_moment_ago_is_reported_as_a_replay(app, mission, adviser, monkeypatch):
    """A double click: both requests pass the first check before either has committed."""
    with app.app_context():
        ctx = current_context()
        with db.unit():
            file_directly(db.session, ctx, mission.id, token="tok-1")
        real = submission.was_submitted
        looks: list[str] = []

        def first_look_misses(session, token):
            looks.append(token)
            # The twin's first look happens before the first request was stored.
            return real(session, token) if len(looks) > 1 else False

        monkeypatch.setattr(submission, "was_submitted", first_look_misses)

        with pytest.raises(SubmissionReplayed), db.unit():
            file_directly(db.session, ctx, mission.id, token="tok-1")

        assert looks == ["tok-1", "tok-1"]  # looked again after the refused insert
        assert (count(Observation), count(Source)) == (1, 1)
