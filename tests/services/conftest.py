"""Fixtures of the service tests."""

from __future__ import annotations

import pytest

from tests.helpers.services import Case, acknowledge, file_case


@pytest.fixture
def case(app, mission, adviser) -> Case:
    """An observation filed to the test mission and acknowledged by its adviser (test
    modules that need it in another state define their own)."""
    case = file_case(app, mission.id)
    acknowledge(app, case, adviser)
    return case
