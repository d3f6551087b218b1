"""The dashboard page as the browser tests drive it: an email account the tests
know the password of, and signing it in through the page's own form."""

from __future__ import annotations

import time
import uuid

from playwright.sync_api import Page, expect

from generations_live.adapters.collections import FEED_SNAPSHOTS
from generations_live.domain.feed_views import FeedView
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


def in_feed_snapshot(suite: EmulatorSuite, ids: list[str], timeout_s: float = 30.0) -> None:
    """Wait until the dashboard's feed (the snapshot of all generations) shows ``ids``:
    the snapshot follows the feed within about a second of each change, so a page
    opened sooner may first show the feed without them."""
    reference = suite.firestore_client().collection(FEED_SNAPSHOTS).document(FeedView().id)
    deadline = time.monotonic() + timeout_s
    while True:
        stored = reference.get()
        shown = {entry["id"] for entry in (stored.get("entries") if stored.exists else [])}
        if set(ids) <= shown:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{sorted(set(ids) - shown)} not in the feed snapshot")
        time.sleep(0.1)
