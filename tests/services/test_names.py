"""A mission's list of names to flag: parsing, its limit, saving and who can read it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from dissent.extensions import current_context, db
from dissent.models import MissionNames, Role
from dissent.services import accounts, names
from dissent.services.errors import InvalidInput, Problem
from dissent.services.names import NAMES_MAX
from tests.helpers.services import staff_user, stranger
from tests.helpers.staff import adviser_keys


def save(app, adviser, mission_id: int, text: str) -> None:
    with app.app_context(), db.unit():
        names.save_names(
            db.session,
            current_context(),
            staff=staff_user(adviser),
            mission_id=mission_id,
            text=text,
        )


def read(app, reader, mission_id: int) -> list[str]:
    with app.app_context():
        _, identity = adviser_keys(reader)
        return names.read_names(db.session, mission_id, identity)


def test_one_name_a_line_trimmed_and_blank_lines_ignored():
    text = "  Sgt. Jansen \r\n\r\n\tKunduz\n   \n3rd Platoon"
    assert names.parse_names(text) == ["Sgt. Jansen", "Kunduz", "3rd Platoon"]
    assert names.parse_names("") == []


def test_a_mission_without_a_list_flags_nothing(app, mission, adviser):
    assert read(app, adviser, mission.id) == []


def test_the_advisers_of_the_mission_read_the_saved_list(app, mission, adviser, make_staff):
    colleague = make_staff(Role.ADVISER)
    save(app, adviser, mission.id, "Sgt. Jansen\n\nKunduz\n")
    assert read(app, adviser, mission.id) == ["Sgt. Jansen", "Kunduz"]
    assert read(app, colleague, mission.id) == ["Sgt. Jansen", "Kunduz"]


def test_leaders_and_strangers_cannot_read_the_list(app, mission, adviser, make_staff):
    leader = make_staff(Role.LEADERSHIP)
    save(app, adviser, mission.id, "Sgt. Jansen")
    assert read(app, leader, mission.id) == []
    with app.app_context():
        assert names.read_names(db.session, mission.id, stranger()) == []


def test_saving_replaces_the_list_and_records_who_did(app, mission, adviser, make_staff):
    colleague = make_staff(Role.ADVISER)
    save(app, adviser, mission.id, "Sgt. Jansen")
    save(app, colleague, mission.id, "Kunduz\nCapt. Smit")
    assert read(app, adviser, mission.id) == ["Kunduz", "Capt. Smit"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MissionNames)) == 1
        assert db.session.get(MissionNames, mission.id).updated_by_id == colleague.id


def test_an_empty_list_is_allowed_and_clears_the_names(app, mission, adviser):
    save(app, adviser, mission.id, "Sgt. Jansen")
    save(app, adviser, mission.id, "  \n ")
    assert read(app, adviser, mission.id) == []


def test_a_list_at_the_limit_is_saved_and_one_character_more_is_refused(app, mission, adviser):
    at_limit = ("x" * 99 + "\n") * 199 + "y" * 100
    assert len(at_limit) == NAMES_MAX
    save(app, adviser, mission.id, at_limit)
    saved = read(app, adviser, mission.id)
    assert len(saved) == 200 and saved[-1] == "y" * 100

    with pytest.raises(InvalidInput) as refused:
        save(app, adviser, mission.id, at_limit + "z")
    assert refused.value.field == "names"
    assert refused.value.problem is Problem.TOO_LONG
    assert refused.value.limit == NAMES_MAX
    assert read(app, adviser, mission.id) == saved  # the refused list replaced nothing


def test_each_mission_keeps_its_own_list(app, mission, adviser, make_staff):
    with app.app_context(), db.unit():
        other_id = accounts.create_mission(db.session, slug="eutm", name="EUTM Mission").id
    other_adviser = make_staff(Role.ADVISER, missions=["eutm"])
    save(app, adviser, mission.id, "Sgt. Jansen")
    save(app, other_adviser, other_id, "Capt. Smit")
    assert read(app, adviser, mission.id) == ["Sgt. Jansen"]
    assert read(app, other_adviser, other_id) == ["Capt. Smit"]
    # The other mission's adviser is not a reader of this mission's list.
    assert read(app, other_adviser, mission.id) == []
