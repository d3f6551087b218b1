"""The bell of the dashboard: the signed-in user's in-app notifications, which
the backend writes with the change they report. A worker completes the user's
generation through the callables and the bell counts it, the panel says it in
a sentence, "Mark all read" clears it in the backend too, and a click opens the
generation. Another user's notifications never reach the page. While the tab is
hidden, a new notification can show as a browser alert once the user allows it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from harness.clients import (
    AppUser,
    AuthEmulator,
    CallableClient,
    FirestoreAdminRest,
    grant_credits,
)
from harness.emulators import EmulatorSuite
from harness.pages import UI_TIMEOUT_MS, email_account
from harness.pages import open_signed_in as sign_in

ENGINE = "flux-1.1"
COMPLETED = f"Your image generation ({ENGINE}) completed"
FAILED = f"Your image generation ({ENGINE}) failed"
GRANTED = "100 credits granted"
# An image costs 5 credits and the daily free credits are 10: each test grants the
# viewer 100 first (itself a notification), so no "credits are low" joins the count.
CREDITS = 100

# Stands in for the browser's Notification API and for a hidden tab (headless
# Chromium shows no alerts and never hides the tab): records what the page asks
# and shows, and lets the test say when the tab is hidden.
FAKE_NOTIFICATIONS = """
window.shownAlerts = [];
window.permissionAsked = 0;
// Kept in sessionStorage, so a reload keeps the tab hidden and the permission given.
window.tabHidden = sessionStorage.getItem("tab-hidden") === "1";
Object.defineProperty(Document.prototype, "hidden", {
  configurable: true,
  get() { return window.tabHidden; },
});
class RecordedNotification extends EventTarget {
  static get permission() { return sessionStorage.getItem("permission") ?? "default"; }
  static async requestPermission() {
    window.permissionAsked += 1;
    sessionStorage.setItem("permission", "granted");
    return "granted";
  }
  constructor(title, options) {
    super();
    window.shownAlerts.push({ title, tag: options?.tag ?? null });
  }
}
window.Notification = RecordedNotification;
"""


@pytest.fixture
def viewer(auth: AuthEmulator) -> AppUser:
    """The email account the page signs in with."""
    return email_account(auth, "Bell Owner")


def open_signed_in(page: Page, suite: EmulatorSuite, account: AppUser) -> None:
    sign_in(page, suite, account)
    expect(page.locator("#bell")).to_have_attribute("data-state", "live", timeout=UI_TIMEOUT_MS)


def start(api: CallableClient, creator: AppUser) -> str:
    data = {
        "type": "image",
        "prompt": f"a lantern on the quay {uuid.uuid4().hex[:6]}",
        "engine": ENGINE,
        "requestId": f"test-{uuid.uuid4().hex}",
    }
    generation_id: str = api.call("trackGeneration", data, id_token=creator.id_token)[
        "generationId"
    ]
    return generation_id


def finish(api: CallableClient, worker: AppUser, generation_id: str, status: str) -> None:
    """The worker reports the generation ``completed`` or ``failed``."""
    report: dict[str, Any] = {"generationId": generation_id, "status": status}
    if status == "failed":
        report["error"] = {"code": "engine_timeout", "message": "the engine did not answer"}
    api.call("updateGenerationStatus", report, id_token=worker.id_token)


def notifications_of(firestore_admin: FirestoreAdminRest, owner: AppUser) -> dict[str, Any]:
    """The owner's notification documents (REST fields) by id."""
    prefix = f"/documents/users/{owner.uid}/notifications/"
    return {
        path.split(prefix, 1)[1]: fields
        for path, fields in firestore_admin.collection_group("notifications").items()
        if prefix in path
    }


def entry(page: Page, text: str) -> Locator:
    return page.locator("#notice-list .notice", has_text=text)


def test_the_bell_counts_lists_and_marks_read_only_the_users_own_notifications(
    page: Page,
    suite: EmulatorSuite,
    api: CallableClient,
    admin: AppUser,
    worker: AppUser,
    stranger: AppUser,
    viewer: AppUser,
    firestore_admin: FirestoreAdminRest,
) -> None:
    grant_credits(api, admin, viewer, CREDITS, "browser test")
    open_signed_in(page, suite, viewer)
    bell = page.locator("#bell")
    badge = page.locator("#bell-count")
    expect(bell).to_be_visible()
    expect(badge).to_have_text("1")
    expect(bell).to_have_accessible_name("Notifications, 1 unread")

    # Another user's generation ends: the backend tells them, the page counts nothing.
    theirs = start(api, stranger)
    finish(api, worker, theirs, "completed")
    stranger_notices = notifications_of(firestore_admin, stranger)
    assert any(
        fields["generationId"] == {"stringValue": theirs} for fields in stranger_notices.values()
    )

    mine = start(api, viewer)
    finish(api, worker, mine, "completed")
    expect(badge).to_have_text("2", timeout=UI_TIMEOUT_MS)
    expect(bell).to_have_accessible_name("Notifications, 2 unread")

    # The panel: opened with the keyboard, focus inside, the newest first, unread marked.
    bell.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#notifications-panel")
    expect(panel).to_be_visible()
    expect(bell).to_have_attribute("aria-expanded", "true")
    expect(panel).to_be_focused()
    notices = page.locator("#notice-list .notice")
    expect(notices).to_have_count(2, timeout=UI_TIMEOUT_MS)
    expect(notices.nth(0).locator(".notice-text")).to_have_text(COMPLETED)
    expect(notices.nth(1).locator(".notice-text")).to_have_text(GRANTED)
    expect(notices.nth(0)).to_have_attribute("data-read", "false")
    expect(notices.nth(0)).to_have_attribute("data-generation-id", mine)
    expect(notices.nth(0).locator("time.when")).to_have_text(re.compile(r"just now|\d+ s ago"))
    expect(page.locator(f'#notice-list [data-generation-id="{theirs}"]')).to_have_count(0)

    # Escape closes it and focus returns to the bell.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(bell).to_be_focused()
    expect(bell).to_have_attribute("aria-expanded", "false")

    bell.click()
    page.locator("#mark-all-read").click()
    expect(badge).to_be_hidden(timeout=UI_TIMEOUT_MS)
    expect(bell).to_have_accessible_name("Notifications")
    expect(notices.nth(0)).to_have_attribute("data-read", "true", timeout=UI_TIMEOUT_MS)
    expect(notices.nth(1)).to_have_attribute("data-read", "true")
    expect(notices.nth(1)).to_have_text(re.compile(rf"^{GRANTED}\s*(just now|\d+ s ago)$"))
    expect(page.locator("#notice-list")).not_to_contain_text("null")
    expect(page.locator("#mark-all-read")).to_be_disabled()
    mine_in_backend = notifications_of(firestore_admin, viewer)
    assert len(mine_in_backend) == 2
    assert all(fields["read"] == {"booleanValue": True} for fields in mine_in_backend.values())
    # Marking all read is the caller's own: the other user's stay unread.
    assert all(
        fields["read"] == {"booleanValue": False}
        for fields in notifications_of(firestore_admin, stranger).values()
    )

    # A read entry of a generation still opens its detail; Escape goes back to it.
    completed = entry(page, COMPLETED)
    completed.click()
    dialog = page.locator("#detail")
    expect(dialog).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(dialog).to_have_attribute("data-generation-id", mine)
    expect(dialog.locator('[data-fact="status"] dd')).to_have_text("completed")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(panel).to_be_visible()
    expect(completed).to_be_focused()

    # Signing out stops the listeners and clears the bell.
    page.keyboard.press("Escape")
    page.locator("#sign-out").click()
    expect(page.locator("#notifications")).to_be_hidden(timeout=UI_TIMEOUT_MS)
    expect(page.locator("#notice-list .notice")).to_have_count(0)
    expect(bell).to_have_attribute("data-unread", "0")


def test_clicking_an_unread_entry_marks_only_it_and_opens_its_generation(
    page: Page,
    suite: EmulatorSuite,
    api: CallableClient,
    admin: AppUser,
    worker: AppUser,
    viewer: AppUser,
    firestore_admin: FirestoreAdminRest,
) -> None:
    grant_credits(api, admin, viewer, CREDITS, "browser test")
    failed = start(api, viewer)
    finish(api, worker, failed, "failed")
    completed = start(api, viewer)
    finish(api, worker, completed, "completed")
    open_signed_in(page, suite, viewer)
    expect(page.locator("#bell-count")).to_have_text("3")

    page.locator("#bell").click()
    failed_entry = entry(page, FAILED)
    expect(failed_entry).to_have_attribute("data-read", "false", timeout=UI_TIMEOUT_MS)
    failed_entry.click()
    dialog = page.locator("#detail")
    expect(dialog).to_have_attribute("data-generation-id", failed, timeout=UI_TIMEOUT_MS)
    expect(dialog.locator('[data-fact="status"] dd')).to_have_text("failed")
    expect(page.locator("#bell-count")).to_have_text("2", timeout=UI_TIMEOUT_MS)
    expect(failed_entry).to_have_attribute("data-read", "true", timeout=UI_TIMEOUT_MS)
    expect(failed_entry).to_have_accessible_name(re.compile(f"^{re.escape(FAILED)}"))
    expect(entry(page, COMPLETED)).to_have_accessible_name(
        re.compile(f"^Unread: {re.escape(COMPLETED)}")
    )
    expect(entry(page, COMPLETED)).to_have_attribute("data-read", "false")
    expect(entry(page, GRANTED)).to_have_attribute("data-read", "false")

    by_generation = {
        fields["generationId"].get("stringValue"): fields["read"]["booleanValue"]
        for fields in notifications_of(firestore_admin, viewer).values()
        if "stringValue" in fields["generationId"]
    }
    assert by_generation == {failed: True, completed: False}


def test_a_new_notification_alerts_only_when_allowed_and_the_tab_is_hidden(
    page: Page,
    suite: EmulatorSuite,
    api: CallableClient,
    admin: AppUser,
    worker: AppUser,
    viewer: AppUser,
) -> None:
    page.add_init_script(FAKE_NOTIFICATIONS)
    grant_credits(api, admin, viewer, CREDITS, "browser test")
    before = start(api, viewer)
    finish(api, worker, before, "completed")
    open_signed_in(page, suite, viewer)
    badge = page.locator("#bell-count")
    expect(badge).to_have_text("2")

    # Nothing is asked of the browser until the user ticks the control.
    page.locator("#bell").click()
    toggle = page.locator("#alerts-toggle")
    expect(toggle).to_be_visible()
    expect(toggle).not_to_be_checked()
    assert page.evaluate("() => window.permissionAsked") == 0
    toggle.check()
    expect(toggle).to_be_checked()
    assert page.evaluate("() => window.permissionAsked") == 1

    # A visible tab shows the badge only; the badge moves in the same snapshot that
    # would alert, so the alert list is settled once the badge reads 3.
    visible = start(api, viewer)
    finish(api, worker, visible, "failed")
    expect(badge).to_have_text("3", timeout=UI_TIMEOUT_MS)
    assert page.evaluate("() => window.shownAlerts") == []

    page.evaluate("() => { window.tabHidden = true; }")
    hidden = start(api, viewer)
    finish(api, worker, hidden, "completed")
    expect(badge).to_have_text("4", timeout=UI_TIMEOUT_MS)
    alerts = page.evaluate("() => window.shownAlerts")
    assert [alert["title"] for alert in alerts] == [COMPLETED]

    # A reload with the tab hidden: what the first snapshot holds is not new.
    page.evaluate("() => sessionStorage.setItem('tab-hidden', '1')")
    page.reload()
    expect(page.locator("#bell")).to_have_attribute("data-state", "live", timeout=UI_TIMEOUT_MS)
    expect(badge).to_have_text("4", timeout=UI_TIMEOUT_MS)
    assert page.evaluate("() => [document.hidden, window.shownAlerts]") == [True, []]

    # Turned off, nothing more is shown.
    page.evaluate("() => { window.tabHidden = false; }")
    page.locator("#bell").click()
    expect(toggle).to_be_checked()
    toggle.uncheck()
    page.evaluate("() => { window.tabHidden = true; }")
    last = start(api, viewer)
    finish(api, worker, last, "failed")
    expect(badge).to_have_text("5", timeout=UI_TIMEOUT_MS)
    assert page.evaluate("() => window.shownAlerts") == []
    assert page.evaluate("() => window.permissionAsked") == 0
