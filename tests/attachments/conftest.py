"""Fixtures of the attachment tests: a source with an observation, and its adviser."""

from __future__ import annotations

import pytest

from tests.helpers.casework import observation_ref
from tests.helpers.source import file_observation
from tests.helpers.staff import login_staff


@pytest.fixture
def source(app, new_client, adviser, mission):
    """A browser logged in as a source who filed one observation; ``.ref`` is its reference."""
    browser = new_client()
    file_observation(browser, what="The convoy log was rewritten after the inspection.")
    browser.ref = observation_ref(app, mission_id=mission.id)
    return browser


@pytest.fixture
def staff(new_client, adviser):
    """A browser logged in as the mission's adviser."""
    browser = new_client()
    login_staff(browser, adviser)
    return browser
