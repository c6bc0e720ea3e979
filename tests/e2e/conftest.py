"""Fixtures of the browser tests: the test app on a loopback port, Chromium, contexts."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from dissent.models import Role
from tests.helpers.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    VIEWS,
    LiveServer,
    Screenshots,
)
from tests.helpers.http import serving


@pytest.fixture
def live_server(app, mission, make_staff) -> Iterator[LiveServer]:
    """Serve the test app (one mission, one enrolled adviser) on a free loopback port."""
    adviser = make_staff(Role.ADVISER)
    with serving(app) as url:
        yield LiveServer(base_url=url, adviser=adviser)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, shared by the tests of this module."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def fresh_context(browser, live_server) -> Iterator[Callable[[], BrowserContext]]:
    """Return a factory of new browser contexts (no shared cookies), JavaScript off."""
    contexts: list[BrowserContext] = []

    def make() -> BrowserContext:
        context = browser.new_context(base_url=live_server.base_url, java_script_enabled=False)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shot(request) -> Screenshots:
    """Save screenshots under test-artifacts/e2e/<test name>/ (emptied first)."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Screenshots(folder)


@pytest.fixture(params=["en", "nl"])
def language(request) -> str:
    """Each test that takes it runs in English and in Dutch."""
    return request.param


@pytest.fixture(params=sorted(VIEWS))
def view(request) -> str:
    """Each test that takes it runs on a phone and on a desktop."""
    return request.param


@pytest.fixture
def localized_page(browser, live_server, language, view):
    """A page in ``language`` on ``view``, JavaScript off."""
    context = browser.new_context(
        base_url=live_server.base_url,
        java_script_enabled=False,
        locale="nl-NL" if language == "nl" else "en-GB",
        viewport=VIEWS[view],
    )
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()
