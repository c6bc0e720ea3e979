"""Fixtures of the browser tests: the test app on a loopback port, Chromium, contexts."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright
from werkzeug.serving import make_server

from dissent.models import Role
from tests.helpers.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    LiveServer,
    Screenshots,
)


@pytest.fixture
def live_server(app, mission, make_staff) -> Iterator[LiveServer]:
    """Serve the test app (one mission, one enrolled adviser) on a free loopback port."""
    adviser = make_staff(Role.ADVISER)
    # Port 0: the kernel picks a free port, so there is no race with other processes.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    yield LiveServer(base_url=f"http://127.0.0.1:{server.server_port}", adviser=adviser)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


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
