"""The dashboard page as the browser tests drive it: an email account the tests
know the password of, and signing it in through the page's own form."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from harness.clients import AppUser, AuthEmulator
from harness.emulators import EmulatorSuite

# Generous: the page loads the SDK and opens its streams on a 2-core machine
# that also runs every emulator. Speed is measured, not asserted.
UI_TIMEOUT_MS = 20_000
PASSWORD = "browser-test-password"


def email_account(auth: AuthEmulator, display_name: str) -> AppUser:
    """A verified email account the page can sign in with."""
    return auth.create_user(
        display_name=display_name,
        email=f"page-{uuid.uuid4().hex[:10]}@example.com",
        password=PASSWORD,
    )


def open_signed_in(page: Page, suite: EmulatorSuite, account: AppUser) -> None:
    """Load the page, wait for the live feed, and sign in with the email form."""
    page.goto(f"{suite.dashboard_url}?refresh=60")
    expect(page.locator("#feed-note")).to_have_attribute(
        "data-state", "live", timeout=UI_TIMEOUT_MS
    )
    page.locator(".sign-in-box summary").click()
    page.locator('#sign-in input[name="email"]').fill(account.email)
    page.locator('#sign-in input[name="password"]').fill(PASSWORD)
    page.locator('#sign-in button[value="sign-in"]').click()
    expect(page.locator("#mine")).to_have_attribute("data-uid", account.uid, timeout=UI_TIMEOUT_MS)
