"""What is new to a source: the adviser's messages and files beyond the counters, and
the counters moved only forward (dissent.services.news)."""

from __future__ import annotations

from sqlalchemy import update

from dissent.extensions import current_context, db
from dissent.models import Observation
from dissent.services import attachments, conversation, news
from tests.helpers.services import Case, file_case
from tests.helpers.staff import adviser_keys


def source_says(app, case: Case, text: str) -> None:
    with app.app_context(), db.unit():
        conversation.post_source_message(
            db.session.connection(),
            current_context(),
            source_id=case.source_id,
            ref=case.ref,
            text=text,
        )


def adviser_says(app, case: Case, adviser, text: str) -> None:
    with app.app_context(), db.unit():
        user, _identity = adviser_keys(adviser)
        conversation.post_adviser_message(
            db.session, current_context(), staff=user, observation=case.observation(), text=text
        )


def news_for_source(app, case: Case) -> news.News:
    with app.app_context():
        identity = case.source_identity()
        observation = case.observation()
        view = conversation.view_observation(observation, identity, for_staff=False)
        files = attachments.list_attachments(db.session, observation, identity)
        return news.news_of(db.session, view, files)


def seen_so_far(app, case: Case, *, message: int, attachment: int) -> None:
    with app.app_context(), db.unit():
        db.session.execute(
            update(Observation)
            .where(Observation.id == case.observation_id)
            .values(source_seen_message=message, source_seen_attachment=attachment)
        )


def counters(app, case: Case) -> tuple[int, int]:
    with app.app_context():
        found = case.observation()
        return found.source_seen_message, found.source_seen_attachment


def test_only_the_adviser_s_messages_beyond_the_counter_are_new(app, case, adviser):
    # The case fixture's acknowledgement is message 1.
    source_says(app, case, "One more detail.")
    adviser_says(app, case, adviser, "Thank you, which month?")
    source_says(app, case, "March.")
    seen_so_far(app, case, message=1, attachment=0)

    found = news_for_source(app, case)

    assert found.messages == (3,)
    assert found.files == ()
    assert found.shown_message == 4
    assert found.from_adviser and found.any


def test_nothing_is_new_once_everything_was_shown(app, case):
    seen_so_far(app, case, message=1, attachment=0)

    found = news_for_source(app, case)

    assert not found.any and found.from_adviser
    assert found.shown_message == 1


def test_a_source_s_own_messages_are_not_news_even_unseen(app, mission, adviser):

    case = file_case(app, mission.id)
    source_says(app, case, "A detail I forgot.")

    found = news_for_source(app, case)

    assert found.messages == () and not found.from_adviser
    assert found.shown_message == 1


def test_marking_shown_moves_each_counter_only_forward(app, case):
    seen_so_far(app, case, message=5, attachment=2)
    with app.app_context(), db.unit():
        found = case.observation()
        # As a tab that read the row before the counters moved would hold it.
        found.source_seen_message = found.source_seen_attachment = 0
        db.session.expunge(found)
        shown = news.News((), (), shown_message=3, shown_attachment=4, from_adviser=True)
        news.mark_shown(db.session, source_id=case.source_id, shown=[(found, shown)])

    assert counters(app, case) == (5, 4)


def test_marking_shown_never_touches_another_source_s_observation(app, case, mission):

    other = file_case(app, mission.id)
    with app.app_context(), db.unit():
        found = case.observation()
        shown = news.News((1,), (), shown_message=1, shown_attachment=0, from_adviser=True)
        news.mark_shown(db.session, source_id=other.source_id, shown=[(found, shown)])

    assert counters(app, case) == (0, 0)
