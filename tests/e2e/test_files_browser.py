"""Files as a source and an adviser see them in Chromium, JavaScript off (issue 12, item 5).

In English and Dutch, on a 390 px phone and a desktop: a file is chosen on the
observation form and arrives with it under a neutral name; the source removes a file
after a confirmation page; once the adviser downloaded a file, its Remove link is gone
and the inbox says why; the adviser sees the neutral name.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.helpers.browser import BROWSER_MARKS, VIEWS, staff_login

pytestmark = BROWSER_MARKS

NEUTRAL = {
    "en": re.compile(r"Image \(JPEG, [\d.]+ (KB|bytes)\)\.jpg"),
    "nl": re.compile(r"Afbeelding \(JPEG, [\d,]+ (KB|bytes)\)\.jpg"),
}
OPENED = {
    "en": (
        "Staff have opened this file or exported its observation, so it can no longer be removed."
    ),
    "nl": (
        "Medewerkers hebben dit bestand geopend of de melding geëxporteerd, dus u kunt het "
        "niet meer verwijderen."
    ),
}


@pytest.fixture
def page(localized_page):
    return localized_page


def photo(tmp_path: Path, name: str) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (80, 40), (20, 90, 160)).save(out, "JPEG")
    path = tmp_path / name
    path.write_bytes(out.getvalue())
    return path


def file_with_photo(page: Page, tmp_path: Path, shot, language: str, view: str) -> str:
    """File an observation with a photo from the form; confirm the codename; return the
    name the photo was stored under."""
    page.goto("/submit")
    page.locator('input[name="category"]').first.check()
    page.locator("#what").fill("The clinic's opening hours in the report were invented.")
    page.locator("#files").set_input_files(str(photo(tmp_path, "IMG_4711_jdoe.jpg")))
    expect(page.locator('input[name="keep_names"]')).not_to_be_checked()
    shot(page, f"{language}-{view}-form-with-file")
    page.locator("main form button.primary").click()
    expect(page.locator("#codename")).to_be_visible()
    listed = page.locator("main ul.attachments li").first
    expect(listed).to_contain_text(NEUTRAL[language])
    assert "jdoe" not in page.locator("main").inner_text()
    shot(page, f"{language}-{view}-codename-with-file")
    name = NEUTRAL[language].search(listed.inner_text()).group(0)
    page.locator('input[name="saved"]').check()
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/inbox")
    return name


def test_a_file_sent_with_the_observation_is_removed_after_confirming(
    page, tmp_path, shot, language, view
):
    name = file_with_photo(page, tmp_path, shot, language, view)
    files = page.locator("main section.attachments").first
    expect(files).to_contain_text(name)
    remove = files.locator("a.remove")
    expect(remove).to_have_count(1)
    box = remove.bounding_box()
    assert box is not None and box["x"] + box["width"] <= VIEWS[view]["width"]

    remove.click()

    page.wait_for_url(re.compile(r"/inbox/attachments/\d+/remove$"))
    expect(page.locator("main .file-to-remove")).to_contain_text(name)
    shot(page, f"{language}-{view}-confirm-removal")
    page.locator("main form button.primary").click()

    page.wait_for_url(re.compile(r"/inbox\?removed=[0-9A-Z-]+#attachments-"))
    files = page.locator("main section.attachments").first
    expect(files.get_by_role("status")).to_be_visible()
    expect(files.locator("ul.attachments")).to_have_count(0)
    expect(page.locator("main ol.thread")).to_contain_text(name)
    shot(page, f"{language}-{view}-removed")


def test_after_the_adviser_downloads_it_the_file_cannot_be_removed(
    browser, live_server, page, tmp_path, shot, language, view
):
    name = file_with_photo(page, tmp_path, shot, language, view)
    adviser = browser.new_context(
        base_url=live_server.base_url, java_script_enabled=False, accept_downloads=True
    )
    staff = adviser.new_page()
    staff_login(staff, live_server.adviser, shot, home="/adviser/")
    staff.locator("main table a, main a.case").first.click()
    files = staff.locator("#attachments")
    expect(files).to_contain_text(name)  # the adviser sees the neutral name
    shot(staff, f"{language}-{view}-adviser-sees-neutral-name")
    with staff.expect_download() as download:
        files.get_by_role("link", name=name).click()
    assert download.value.suggested_filename == name
    adviser.close()

    page.reload()

    files = page.locator("main section.attachments").first
    expect(files.locator("a.remove")).to_have_count(0)
    expect(files).to_contain_text(OPENED[language])
    shot(page, f"{language}-{view}-opened-no-remove")
