"""The dashboard in a real browser: Debian's headless Chromium driven by
Playwright, against the suite's Hosting emulator serving ``web/dist`` with a
``config.json`` that points the page at the suite's free ports.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``
(scripts/setup.sh installs it), and a missing one fails the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

import chromium


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        try:
            launched = chromium.launch(playwright)
        except chromium.ChromiumMissing as missing:
            pytest.fail(str(missing))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile (no signed-in user) at desktop size; fails on a script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], f"the page threw: {errors}"
