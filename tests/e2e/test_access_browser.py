"""A replacement adviser gets the mission's earlier files, in a real browser, JavaScript off.

The first adviser is there when a source files; a second adviser enrols afterwards and
cannot open the observation; the first sees them waiting on the inbox and grants access;
the second then reads it. Server, browser and screenshots are those of ``test_browser``.
"""

from __future__ import annotations

from playwright.sync_api import expect

from dissent.models import Role
from dissent.services import access
from tests.helpers.browser import BROWSER_MARKS, staff_login
from tests.helpers.source import submit_observation

pytestmark = BROWSER_MARKS

OBSERVATION = "The water-point audit in the north was postponed twice without a reason."


def test_a_colleague_grants_the_earlier_files(
    app, live_server, make_staff, fresh_context, shot, monkeypatch
):
    # One press must do it: on a loaded machine the step's 2 s budget could end it early
    # (tests/services/test_access.py covers granting in steps).
    monkeypatch.setattr(access, "STEP_SECONDS", 600.0)
    submit_observation(app.test_client(), what=OBSERVATION)
    later = make_staff(Role.ADVISER, username="replacement")

    newcomer = fresh_context().new_page()
    staff_login(newcomer, later, shot, home="/adviser/")
    expect(newcomer.get_by_role("status")).to_contain_text(
        "Another adviser of the mission must grant you access"
    )
    ref = newcomer.locator("table.list tbody tr a").first.inner_text().strip()
    newcomer.goto(f"/adviser/o/{ref}")
    expect(newcomer.locator(".notice.error")).to_contain_text("Your key cannot open")
    shot(newcomer, "newcomer-cannot-open")

    first = fresh_context().new_page()
    staff_login(first, live_server.adviser, shot, home="/adviser/")
    waiting = first.locator("#access")
    expect(waiting).to_contain_text("Colleagues waiting for access")
    expect(waiting.locator("tbody tr")).to_contain_text("replacement")
    shot(first, "colleague-waiting")
    first.get_by_role("button", name="Grant access to replacement").click()
    first.wait_for_url("**/adviser/?access=done*")
    expect(first.get_by_role("status").first).to_contain_text("Access granted")
    expect(first.locator("#access")).to_have_count(0)
    shot(first, "access-granted")

    newcomer.goto("/adviser/")
    expect(newcomer.get_by_text("must grant you access")).to_have_count(0)
    newcomer.goto(f"/adviser/o/{ref}")
    expect(newcomer.locator("section .text").first).to_have_text(OBSERVATION)
    shot(newcomer, "newcomer-reads")
