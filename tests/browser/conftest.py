"""A real ``segue serve`` and Debian's Chromium driven by Playwright, for the console's tests.

The browser is ``/usr/bin/chromium`` from the Debian package (``make chromium`` installs
it); Playwright never downloads one here. Screenshots of each state go to
``test-artifacts/console/`` (ignored by git).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from segue import console
from tests.conftest import REPO
from tests.support.server import served

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "test-artifacts" / "console"

expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``segue serve`` as a subprocess on a free loopback port, on a database of its own."""
    if not console.available():
        pytest.fail("The console is not built (src/segue/console/static): run make console.")
    tmp = tmp_path_factory.mktemp("console")
    database = f"sqlite:///{tmp / 'console.db'}"
    blobs = ("--blob-dir", str(tmp / "blobs"))
    with served(database, before=blobs, log=tmp / "serve.log") as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"No browser at {CHROMIUM}: run make chromium (Debian's chromium package).")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """A fresh page at 1280 px, its console errors collected and checked at the end."""
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture
def api(server: str) -> Iterator[httpx.Client]:
    """A second client of the same server (another person, or a script)."""
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


def shot(page: Page, name: str, *, full: bool = True) -> None:
    """Save a screenshot of the current state (the whole page, or the window) as a test artifact."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=full)
