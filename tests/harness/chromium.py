"""Debian's headless Chromium, driven by Playwright: the browser tests and the
dashboard screenshot use it. Playwright never downloads a browser of its own
here (that fails offline); scripts/setup.sh installs ``chromium`` with apt.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


class ChromiumMissing(RuntimeError):
    """Debian's chromium package is not installed."""


def launch(playwright: Playwright) -> Browser:
    """Start headless Chromium from Debian with the flags this machine needs."""
    if not CHROMIUM.is_file():
        raise ChromiumMissing(f"{CHROMIUM} is missing: run scripts/setup.sh (apt chromium)")
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS), headless=True
    )
