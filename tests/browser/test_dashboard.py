"""The dashboard (web/dashboard) as a person meets it: Hosting serves the page,
Chromium runs it against the suite, and the tests change the backend through
the callables, as apps and workers do, then look at what the page shows.
"""

from __future__ import annotations

import re
import statistics
import time
import uuid
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from harness.clients import AppUser, AuthEmulator, CallableClient
from harness.emulators import EmulatorSuite, run_operator_command

# Generous: the page loads the SDK and opens its streams on a 2-core machine
# that also runs every emulator. Speed is measured, not asserted.
UI_TIMEOUT_MS = 20_000
PASSWORD = "browser-test-password"
DELAY_TRIES = 5
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# The status pills (amber, green, red, grey) and the type colours the cards use.
STATUS_BACKGROUNDS = {
    "processing": "rgb(254, 243, 199)",
    "completed": "rgb(220, 252, 231)",
    "failed": "rgb(254, 226, 226)",
    "canceled": "rgb(229, 231, 235)",
}
CARD_COLOURS = {
    "image": "rgb(79, 70, 229)",  # indigo
    "video": "rgb(147, 51, 234)",  # purple
    "audio": "rgb(219, 39, 119)",  # pink
    "successRate": "rgb(22, 163, 74)",  # green
}
# Stamps each feed row with the moment it entered the page (ms since the epoch,
# the same clock as Python's time.time()), from a MutationObserver.
RECORD_ARRIVALS = """() => {
    window.seenAt = {};
    const list = document.getElementById("feed-list");
    const record = () => {
        const now = performance.timeOrigin + performance.now();
        for (const row of list.querySelectorAll("[data-generation-id]")) {
            window.seenAt[row.dataset.generationId] ??= now;
        }
    };
    record();
    new MutationObserver(record).observe(list, { childList: true });
}"""


class Dashboard:
    """The page, as the tests look at it."""

    def __init__(self, page: Page, suite: EmulatorSuite) -> None:
        self.page = page
        self.suite = suite

    def open(self, *, refresh_s: float = 1) -> None:
        """Load the page (analytics every ``refresh_s``) and wait until the feed is live."""
        self.page.goto(f"{self.suite.dashboard_url}?refresh={refresh_s}")
        expect(self.page.locator("#feed-note")).to_have_attribute(
            "data-state", "live", timeout=UI_TIMEOUT_MS
        )

    def sign_in(self, account: AppUser) -> None:
        """Sign in with the email form of the "My generations" panel (password PASSWORD)."""
        self.page.locator(".sign-in-box summary").click()
        form = self.page.locator("#sign-in")
        form.locator('input[name="email"]').fill(account.email)
        form.locator('input[name="password"]').fill(PASSWORD)
        form.locator('button[value="sign-in"]').click()
        expect(self.page.locator("#account-email")).to_have_text(
            account.email, timeout=UI_TIMEOUT_MS
        )
        expect(self.page.locator("#mine")).to_have_attribute("data-uid", account.uid)

    def feed_row(self, generation_id: str) -> Locator:
        return self.page.locator(f'#feed-list [data-generation-id="{generation_id}"]')

    def history_row(self, generation_id: str) -> Locator:
        return self.page.locator(f'#history [data-generation-id="{generation_id}"]')

    def card_value(self, metric: str) -> Locator:
        return self.page.locator(f'[data-metric="{metric}"] .value')

    def stat(self, name: str) -> Locator:
        return self.page.locator(f'[data-stat="{name}"]')

    def set_visibility(self, state: str) -> None:
        """Make the page report ``state`` ("hidden" or "visible") and tell it, as tabs do."""
        self.page.evaluate(
            """(state) => {
                const reports = (value) => ({ configurable: true, get: () => value });
                Object.defineProperty(document, "visibilityState", reports(state));
                Object.defineProperty(document, "hidden", reports(state === "hidden"));
                document.dispatchEvent(new Event("visibilitychange"));
            }""",
            state,
        )


@pytest.fixture
def dashboard(page: Page, suite: EmulatorSuite) -> Dashboard:
    return Dashboard(page, suite)


@pytest.fixture
def account(auth: AuthEmulator) -> AppUser:
    """An email account the page signs in with (the tests know its password)."""
    return auth.create_user(
        display_name="Page Owner",
        email=f"owner-{uuid.uuid4().hex[:10]}@example.com",
        password=PASSWORD,
    )


def track(api: CallableClient, creator: AppUser, **fields: Any) -> str:
    data = {"type": "image", "prompt": "a lighthouse at dusk", **fields}
    generation_id: str = api.call("trackGeneration", data, id_token=creator.id_token)[
        "generationId"
    ]
    return generation_id


def grant(api: CallableClient, admin: AppUser, receiver: AppUser, amount: int) -> None:
    data = {
        "userId": receiver.uid,
        "amount": amount,
        "reason": "browser test",
        "grantId": f"browser-{uuid.uuid4().hex}",
    }
    api.call("grantCredits", data, id_token=admin.id_token)


def settle(api: CallableClient, caller: AppUser, generation_id: str, status: str) -> None:
    report: dict[str, Any] = {"generationId": generation_id, "status": status}
    if status == "failed":
        report["error"] = {"code": "engine_timeout", "message": "the engine did not answer"}
    api.call("updateGenerationStatus", report, id_token=caller.id_token)


def test_a_generation_appears_live_and_its_status_follows(
    page: Page,
    dashboard: Dashboard,
    api: CallableClient,
    user: AppUser,
    worker: AppUser,
    admin: AppUser,
    request: pytest.FixtureRequest,
) -> None:
    grant(api, admin, user, 100)
    dashboard.open()
    page.evaluate(RECORD_ARRIVALS)
    started: list[str] = []
    delays_ms: dict[str, list[float]] = {"returned": [], "made": []}
    for take in range(DELAY_TRIES):
        called = time.time()
        generation_id = track(
            api, user, type="video", engine="klingai", prompt=f"a lighthouse at dusk, take {take}"
        )
        returned = time.time()
        expect(dashboard.feed_row(generation_id)).to_be_visible(timeout=UI_TIMEOUT_MS)
        seen_at_ms: float = page.evaluate("(id) => window.seenAt[id]", generation_id)
        # Negative when the row arrived before the callable's answer did: the
        # write commits, and the listener hears of it, before the answer is back.
        delays_ms["returned"].append(seen_at_ms - returned * 1000)
        delays_ms["made"].append(seen_at_ms - called * 1000)
        started.append(generation_id)
    # Kept on the test report (junit user properties, and the output -rP shows).
    for since, delays in delays_ms.items():
        median = statistics.median(delays)
        request.node.user_properties.append((f"feed_row_delay_after_call_{since}_ms", median))
        print(
            f"feed row delay after trackGeneration was {since}: median {median:.1f} ms "
            f"over {DELAY_TRIES} tries ({', '.join(f'{d:.1f}' for d in delays)})"
        )

    newest = dashboard.feed_row(started[-1])
    expect(page.locator("#feed-list [data-generation-id]").first).to_have_attribute(
        "data-generation-id", started[-1]
    )
    expect(newest.locator(".user")).to_have_text("Grace Hopper")
    expect(newest.locator(".badge")).to_have_text("Video")
    expect(newest.locator(".engine")).to_have_text("klingai")
    expect(newest.locator(".prompt")).to_have_text("a lighthouse at dusk, take 4")
    expect(newest.locator(".when")).to_have_text(re.compile(r"just now|\d+ s ago"))
    # to_have_css retries: a snapshot may replace the row between finding it and reading it.
    expect(newest.locator(".badge")).to_have_css("background-color", CARD_COLOURS["video"])

    settle(api, worker, started[0], "completed")
    settle(api, worker, started[1], "failed")
    settle(api, user, started[2], "canceled")  # the owner gives up
    expected = dict(zip(started, ["completed", "failed", "canceled", "processing"], strict=False))
    for generation_id, status in expected.items():
        pill = dashboard.feed_row(generation_id).locator(".status")
        expect(pill).to_have_text(status, timeout=UI_TIMEOUT_MS)
        expect(pill).to_have_css("background-color", STATUS_BACKGROUNDS[status])
    # A failed row says why, with the public error code only.
    failed_row = dashboard.feed_row(started[1])
    expect(failed_row.locator(".error-code")).to_have_text("engine_timeout")
    expect(dashboard.feed_row(started[0]).locator(".error-code")).to_have_count(0)
    # Every row arrived in the page that was opened first: nothing reloaded it.
    assert page.evaluate("() => Object.keys(window.seenAt).length") >= DELAY_TRIES


def test_cards_and_statistics_match_what_the_test_created(
    suite: EmulatorSuite,
    page: Page,
    dashboard: Dashboard,
    api: CallableClient,
    auth: AuthEmulator,
    worker: AppUser,
) -> None:
    # Exact numbers need a clean slate: other tests' generations would count too.
    suite.wipe_firestore()
    asked: list[float] = []

    def count_analytics_calls(sent: Request) -> None:
        if sent.method == "POST" and sent.url.endswith("/getGenerationAnalytics"):
            asked.append(time.monotonic())

    page.on("request", count_analytics_calls)
    dashboard.open(refresh_s=1)
    expect(page.locator("#freshness")).to_contain_text("No rollup has run yet")
    expect(dashboard.card_value("image")).to_have_text("0")

    ada = auth.create_user(display_name="Ada Lovelace")
    alan = auth.create_user(display_name="Alan Turing")
    plan = [
        (ada, "image", "completed"),
        (ada, "image", "completed"),
        (ada, "image", "canceled"),
        (ada, "video", "failed"),
        (ada, "video", None),
        (alan, "audio", "completed"),
        (alan, "text", None),
    ]
    for creator, kind, outcome in plan:
        generation_id = track(api, creator, type=kind)
        if outcome is not None:
            settle(api, worker, generation_id, outcome)
    rolled = run_operator_command(suite, "rollup", "--lag", "0")
    assert rolled.returncode == 0, rolled.stderr

    # The page asks again by itself; no reload.
    expect(dashboard.card_value("image")).to_have_text("3", timeout=UI_TIMEOUT_MS)
    expect(dashboard.card_value("video")).to_have_text("2")
    expect(dashboard.card_value("audio")).to_have_text("1")
    expect(dashboard.card_value("successRate")).to_have_text("75.0%")  # 3 of 3 + 1 finished
    expected_stats = {
        "total": "7",
        "completed": "3",
        "processing": "2",
        "failed": "1",
        "canceled": "1",
        "activeUsers": "2",
    }
    for name, value in expected_stats.items():
        expect(dashboard.stat(name)).to_have_text(value)
    leaders = page.locator("#top-users li")
    expect(leaders).to_have_count(2)
    expect(leaders.nth(0)).to_have_text(re.compile(r"Ada Lovelace\s*5"))
    expect(leaders.nth(1)).to_have_text(re.compile(r"Alan Turing\s*2"))
    expect(page.locator("#freshness")).to_contain_text("Rollups complete up to")

    page.locator('[data-days="30"]').click()
    expect(page.locator("[data-window-days]")).to_have_text("30")
    expect(page.locator('[data-days="30"]')).to_have_attribute("aria-pressed", "true")
    expect(dashboard.card_value("image")).to_have_text("3")
    expect(page.locator('[data-metric="image"] .sub')).to_contain_text("in 30 days")

    # Paused while the tab is hidden, refreshed at once when it shows again.
    dashboard.set_visibility("hidden")
    page.wait_for_timeout(1500)  # an answer already on its way may still land
    before = len(asked)
    page.wait_for_timeout(3500)
    assert len(asked) == before, "analytics were refreshed while the tab was hidden"
    with page.expect_request(
        lambda sent: sent.method == "POST" and sent.url.endswith("/getGenerationAnalytics"),
        timeout=3000,
    ):
        dashboard.set_visibility("visible")


def test_private_prompts_and_other_users_emails_stay_out_of_the_page(
    suite: EmulatorSuite,
    page: Page,
    dashboard: Dashboard,
    api: CallableClient,
    user: AppUser,
    account: AppUser,
) -> None:
    dashboard.open()
    dashboard.sign_in(account)
    secret = f"my secret plan {uuid.uuid4().hex[:8]}"
    private_id = track(api, user, prompt=secret, visibility="private")
    public_id = track(api, user, prompt="a public lighthouse")
    expect(dashboard.feed_row(public_id).locator(".prompt")).to_have_text("a public lighthouse")
    private_prompt = dashboard.feed_row(private_id).locator(".prompt")
    expect(private_prompt).to_have_text("Private prompt")
    expect(private_prompt).to_have_class(re.compile(r"\bprivate\b"))
    expect(dashboard.feed_row(private_id).locator(".user")).to_have_text("Grace Hopper")

    # The signed-in user's own private generation: its prompt in their panel only.
    page.locator("#start-prompt").fill("my own private idea")
    page.locator("#start-private").check()
    page.locator("#start-button").click()
    expect(page.locator("#start-message")).to_contain_text("Started", timeout=UI_TIMEOUT_MS)
    own_id = page.locator("#start-message").get_attribute("data-generation-id")
    assert own_id is not None
    expect(dashboard.history_row(own_id).locator(".prompt")).to_have_text("my own private idea")
    expect(dashboard.history_row(own_id).locator(".tag")).to_have_text("private")
    expect(dashboard.feed_row(own_id).locator(".prompt")).to_have_text("Private prompt")

    # Top creators list names, never addresses.
    rolled = run_operator_command(suite, "rollup", "--lag", "0")
    assert rolled.returncode == 0, rolled.stderr
    expect(page.locator("#top-users")).to_contain_text("Grace Hopper", timeout=UI_TIMEOUT_MS)

    content = page.content()
    assert secret not in content
    assert user.email not in content
    assert set(EMAIL.findall(content)) == {account.email}, "an email outside the own panel"
    own_panel = page.locator("#account").inner_html()
    assert content.count(account.email) == own_panel.count(account.email) == 1


def test_my_generations_quote_start_cancel_and_load_more(
    page: Page,
    dashboard: Dashboard,
    api: CallableClient,
    admin: AppUser,
    worker: AppUser,
    account: AppUser,
) -> None:
    grant(api, admin, account, 500)
    older = [track(api, account, type="text", prompt=f"older idea {n}") for n in range(11)]
    dashboard.open()
    dashboard.sign_in(account)

    balance, held = page.locator('[data-credit="balance"]'), page.locator('[data-credit="held"]')
    expect(balance).to_have_text("500", timeout=UI_TIMEOUT_MS)
    expect(held).to_have_text("11")
    expect(page.locator('[data-credit="available"]')).to_have_text("489")
    rows = page.locator("#history [data-generation-id]")
    expect(rows).to_have_count(10)
    expect(rows.first).to_have_attribute("data-generation-id", older[-1])
    expect(rows.first.locator(".cost")).to_have_text("1 credit")
    load_more = page.locator("#load-more")
    expect(load_more).to_be_visible()

    # The price follows the chosen type and batch size, before anything starts.
    quote = page.locator("#quote")
    page.locator("#start-type").select_option("video")
    expect(quote).to_have_attribute("data-cost", "10", timeout=UI_TIMEOUT_MS)
    page.locator("#start-batch").select_option("2")
    expect(quote).to_have_attribute("data-cost", "20", timeout=UI_TIMEOUT_MS)
    expect(quote).to_contain_text("20 credits · 489 available · 469 left after")

    page.locator("#start-prompt").fill("a comet over the sea")
    page.locator("#start-button").click()
    expect(page.locator("#start-message")).to_contain_text(
        "Started: 20 credits held", timeout=UI_TIMEOUT_MS
    )
    new_id = page.locator("#start-message").get_attribute("data-generation-id")
    assert new_id is not None
    started = dashboard.history_row(new_id)
    expect(rows.first).to_have_attribute("data-generation-id", new_id, timeout=UI_TIMEOUT_MS)
    expect(started.locator(".prompt")).to_have_text("a comet over the sea")
    expect(started.locator(".status")).to_have_text("processing")
    expect(started.locator(".cost")).to_have_text("20 credits")
    expect(held).to_have_text("31", timeout=UI_TIMEOUT_MS)

    started.locator("button.cancel").click()
    expect(started.locator(".status")).to_have_text("canceled", timeout=UI_TIMEOUT_MS)
    expect(started.locator("button.cancel")).to_have_count(0)
    expect(held).to_have_text("11", timeout=UI_TIMEOUT_MS)
    expect(dashboard.feed_row(new_id).locator(".status")).to_have_text("canceled")

    expect(rows).to_have_count(10)
    load_more.click()
    expect(rows).to_have_count(12, timeout=UI_TIMEOUT_MS)
    expect(load_more).to_be_hidden()
    shown = [row.get_attribute("data-generation-id") for row in rows.all()]
    assert shown == [new_id, *reversed(older)], "newest first, with no gap or repeat"
    # Entries past the first page stay live too.
    settle(api, worker, older[0], "completed")
    expect(dashboard.history_row(older[0]).locator(".status")).to_have_text(
        "completed", timeout=UI_TIMEOUT_MS
    )

    page.locator("#history-type").select_option("video")
    expect(rows).to_have_count(1, timeout=UI_TIMEOUT_MS)
    expect(rows.first).to_have_attribute("data-generation-id", new_id)
    expect(load_more).to_be_hidden()


def test_one_column_on_phones_two_on_tablets_four_on_desktops(
    page: Page, dashboard: Dashboard
) -> None:
    dashboard.open()
    expect(page.locator("body")).to_have_attribute("data-auth", "guest")
    expect(page.locator("#who")).to_have_text("Guest viewer")
    for width, columns in ((390, 1), (800, 2), (1280, 4)):
        page.set_viewport_size({"width": width, "height": 900})
        for grid in (".cards", ".panels"):
            template: str = page.locator(grid).evaluate(
                "(node) => getComputedStyle(node).gridTemplateColumns"
            )
            assert len(template.split()) == columns, (width, grid, template)
    for metric, colour in CARD_COLOURS.items():
        card: str = page.locator(f'[data-metric="{metric}"]').evaluate(
            "(node) => getComputedStyle(node).backgroundImage"
        )
        assert colour in card, (metric, card)
