"""The dashboard (web/dashboard) as a person meets it: Hosting serves the page,
Chromium runs it against the suite, and the tests change the backend through
the callables, as apps and workers do, then look at what the page shows.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import uuid
from typing import Any

import pytest
import requests
from playwright.sync_api import Locator, Page, Request, ViewportSize, expect

from generations_live.domain.lifecycle import GenerationType
from harness.clients import AppUser, AuthEmulator, CallableClient, grant_credits
from harness.emulators import ROOT, EmulatorSuite, run_operator_command
from harness.pages import in_feed_snapshot

# Generous: the page loads the SDK and opens its streams on a 2-core machine
# that also runs every emulator. Speed is measured, not asserted.
UI_TIMEOUT_MS = 20_000
PASSWORD = "browser-test-password"
DELAY_TRIES = 5
# Between the bottom of the feed's list and the bottom of its panel: the panel's padding.
FEED_PANEL_PADDING_PX = 24
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
    "text": "rgb(13, 148, 136)",  # teal
    "successRate": "rgb(22, 163, 74)",  # green
}
# The generation types the backend knows, in its order: the page shows a card for each.
TYPES = [generation_type.value for generation_type in GenerationType]
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

    def submit_sign_in(self, email: str, password: str) -> None:
        """Fill the email form of the "My generations" panel and press "Sign in"."""
        box = self.page.locator(".sign-in-box")
        if not box.evaluate("(details) => details.open"):
            box.locator("summary").click()
        form = self.page.locator("#sign-in")
        form.locator('input[name="email"]').fill(email)
        form.locator('input[name="password"]').fill(password)
        form.locator('button[value="sign-in"]').click()

    def sign_in(self, account: AppUser) -> None:
        """Sign in with the email form (password PASSWORD) and wait for the account's panel."""
        self.submit_sign_in(account.email, PASSWORD)
        expect(self.page.locator("#account-email")).to_have_text(
            account.email, timeout=UI_TIMEOUT_MS
        )
        expect(self.page.locator("#mine")).to_have_attribute("data-uid", account.uid)

    def settled_text(self, locator: Locator, *, busy: str) -> str:
        """The text of a message line once it says something other than ``busy``."""
        expect(locator).to_have_text(
            re.compile(rf"^(?!{re.escape(busy)}$).+", re.DOTALL), timeout=UI_TIMEOUT_MS
        )
        return locator.inner_text()

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
    grant_credits(api, admin, receiver, amount, "browser test")


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
    expect(dashboard.card_value("text")).to_have_text("1")
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
    # The feed fills its row down to the end of the long history: no empty block under it.
    feed_box, list_box, side_box = (
        page.locator(selector).bounding_box() for selector in ("#feed", "#feed-list", ".side")
    )
    assert feed_box is not None
    assert list_box is not None
    assert side_box is not None
    feed_bottom = feed_box["y"] + feed_box["height"]
    assert abs(feed_bottom - (side_box["y"] + side_box["height"])) <= 1
    assert feed_bottom - (list_box["y"] + list_box["height"]) <= FEED_PANEL_PADDING_PX
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
    cards = len(TYPES) + 1  # one per type, and the success rate
    # Panels: one, two, four columns. Cards: compact pairs on phones, one row above.
    for width, panels, card_columns in ((390, 1, 2), (800, 2, cards), (1280, 4, cards)):
        page.set_viewport_size({"width": width, "height": 900})
        for grid, columns in ((".panels", panels), (".cards", card_columns)):
            template: str = page.locator(grid).evaluate(
                "(node) => getComputedStyle(node).gridTemplateColumns"
            )
            assert len(template.split()) == columns, (width, grid, template)
    for metric, colour in CARD_COLOURS.items():
        card: str = page.locator(f'[data-metric="{metric}"]').evaluate(
            "(node) => getComputedStyle(node).backgroundImage"
        )
        assert colour in card, (metric, card)


# Collects what the page's Content-Security-Policy refused, before any script of the page runs.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.cspViolations.push(`${event.effectiveDirective} ${event.blockedURI}`);
}, true);
"""
# Records every feed row that enters the page highlighted as new, from the first render on.
RECORD_HIGHLIGHTS = """
window.highlighted = [];
document.addEventListener("DOMContentLoaded", () => {
    new MutationObserver((records) => {
        for (const record of records) {
            for (const node of record.addedNodes) {
                if (node.classList?.contains("fresh")) {
                    window.highlighted.push(node.dataset.generationId);
                }
            }
        }
    }).observe(document.getElementById("feed-list"), { childList: true });
});
"""
DASH = "\u2013"  # what the page shows for a figure it does not have
PHONE: ViewportSize = {"width": 390, "height": 844}
FIREBASE_CODE = re.compile(r"auth/|firebase|user-not-found|wrong-password|credential", re.I)
VALIDATOR_WORDING = re.compile(r"should match|pattern|\[\d{3}\]|invalid-argument|\^\[", re.I)
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


def shipped_headers() -> dict[str, str]:
    """The headers firebase.json gives every file Hosting serves (lower-case names)."""
    hosting = json.loads((ROOT / "firebase.json").read_text())["hosting"]
    headers: dict[str, str] = {}
    for rule in hosting["headers"]:
        if rule["source"] == "**":
            headers.update({item["key"].lower(): item["value"] for item in rule["headers"]})
    return headers


def test_a_failed_sign_in_does_not_tell_whether_the_account_exists(
    dashboard: Dashboard, account: AppUser
) -> None:
    dashboard.open()
    message = dashboard.page.locator("#sign-in-message")
    dashboard.submit_sign_in(f"nobody-{uuid.uuid4().hex[:10]}@example.com", PASSWORD)
    unknown = dashboard.settled_text(message, busy="Signing in…")
    dashboard.submit_sign_in(account.email, "not-the-password")
    wrong_password = dashboard.settled_text(message, busy="Signing in…")

    assert unknown == wrong_password, (unknown, wrong_password)
    assert unknown == "That email and password do not match an account."
    assert not FIREBASE_CODE.search(unknown), unknown
    expect(dashboard.page.locator("body")).to_have_attribute("data-auth", "guest")


def test_a_refused_start_reads_as_a_sentence(
    page: Page, dashboard: Dashboard, api: CallableClient, admin: AppUser, account: AppUser
) -> None:
    grant(api, admin, account, 50)
    dashboard.open()
    dashboard.sign_in(account)
    message = page.locator("#start-message")
    expect(page.locator("#quote")).to_have_attribute(
        "data-can-afford", "true", timeout=UI_TIMEOUT_MS
    )
    said: dict[str, str] = {}
    for engine in ("Not An Engine!", "nosuchengine"):
        page.locator("#start-engine").fill(engine)
        page.locator("#start-prompt").fill("a lighthouse at dusk")
        page.locator("#start-button").click()
        said[engine] = dashboard.settled_text(message, busy="Starting…")
        expect(page.locator("#start-button")).to_be_enabled()
    for engine, text in said.items():
        assert not VALIDATOR_WORDING.search(text), (engine, text)
        assert not text.startswith("Started"), (engine, text)
    assert "engine name" in said["Not An Engine!"]
    assert "not available" in said["nosuchengine"]
    expect(page.locator("#history [data-generation-id]")).to_have_count(0)


def test_signing_out_leaves_a_signed_out_page_with_nothing_of_the_user(
    page: Page, dashboard: Dashboard, account: AppUser
) -> None:
    dashboard.open()
    dashboard.sign_in(account)
    page.locator("#start-prompt").fill("my lighthouse for signing out")
    page.locator("#start-button").click()
    expect(page.locator("#start-message")).to_contain_text("Started", timeout=UI_TIMEOUT_MS)
    own_id = page.locator("#start-message").get_attribute("data-generation-id")
    assert own_id is not None
    expect(dashboard.history_row(own_id)).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator('[data-credit="balance"]')).to_have_text(re.compile(r"^\d"))
    expect(dashboard.feed_row(own_id)).to_be_visible(timeout=UI_TIMEOUT_MS)

    page.locator("#sign-out").click()
    expect(page.locator("body")).to_have_attribute("data-auth", "signed-out")
    expect(page.locator("#who")).to_have_text("Signed out")
    expect(page.locator("#mine")).to_have_attribute("data-uid", "")
    for where in ("#feed-list", "#history"):
        expect(page.locator(f"{where} [data-generation-id]")).to_have_count(0)
    expect(page.locator("#top-users li")).to_have_count(0)
    for figure in ("balance", "held", "available"):
        expect(page.locator(f'[data-credit="{figure}"]')).to_have_text(DASH)
    expect(page.locator("#start-message")).to_have_text("")
    expect(page.locator("#quote")).to_have_text("")
    content = page.content()
    for trace in (account.email, "Page Owner", "Started", "my lighthouse", own_id):
        assert trace not in content, trace
    # The page says why the feed is empty and offers both ways in.
    prompt = page.locator("#feed-signed-out")
    expect(prompt).to_be_visible()
    expect(prompt).to_contain_text("signed-in")
    expect(prompt.locator('[data-sign-in="guest"]')).to_be_visible()
    expect(prompt.locator('[data-sign-in="email"]')).to_be_visible()
    expect(page.locator("#sign-in-guest")).to_be_visible()
    expect(page.locator(".sign-in-box")).to_be_visible()
    expect(page.locator("#sign-out")).to_be_hidden()

    # A reload stays signed out: no guest is signed in behind the visitor's back.
    sign_ups: list[str] = []
    page.on(
        "request", lambda sent: sign_ups.append(sent.url) if "accounts:signUp" in sent.url else None
    )
    page.reload()
    expect(page.locator("#who")).to_have_text("Signed out", timeout=UI_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    expect(page.locator("body")).to_have_attribute("data-auth", "signed-out")
    assert sign_ups == []

    prompt.locator('[data-sign-in="guest"]').click()
    expect(page.locator("body")).to_have_attribute("data-auth", "guest", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#feed-note")).to_have_attribute(
        "data-state", "live", timeout=UI_TIMEOUT_MS
    )
    expect(page.locator("#account-name")).to_have_text("Guest")
    expect(page.locator("#account-email")).to_have_text("")
    expect(page.locator("#sign-out")).to_be_visible()


def test_every_type_has_a_card_and_the_shares_add_up_to_100(
    suite: EmulatorSuite,
    page: Page,
    dashboard: Dashboard,
    api: CallableClient,
    admin: AppUser,
    user: AppUser,
) -> None:
    suite.wipe_firestore()
    grant(api, admin, user, 100)
    # 1, 1, 1 and 3 of 6: 16.7% thrice and 50%; rounded each on its own they make 101%.
    for kind in ("image", "video", "audio", "text", "text", "text"):
        track(api, user, type=kind)
    rolled = run_operator_command(suite, "rollup", "--lag", "0")
    assert rolled.returncode == 0, rolled.stderr
    dashboard.open()
    expect(dashboard.card_value("text")).to_have_text("3", timeout=UI_TIMEOUT_MS)

    metrics = page.locator(".cards [data-metric]")
    assert [card.get_attribute("data-metric") for card in metrics.all()] == [*TYPES, "successRate"]
    percents: dict[str, int] = {}
    for kind in TYPES:
        sub = page.locator(f'[data-metric="{kind}"] .sub').inner_text()
        found = re.search(r"(\d+)% of all", sub)
        assert found, (kind, sub)
        percents[kind] = int(found[1])
    assert sum(percents.values()) == 100, percents
    assert percents == {"image": 17, "video": 17, "audio": 16, "text": 50}


def test_on_a_phone_the_feed_and_the_form_are_on_the_first_screen(
    page: Page, dashboard: Dashboard, api: CallableClient, user: AppUser
) -> None:
    track(api, user, prompt="a lighthouse seen from a phone")
    page.set_viewport_size(PHONE)
    dashboard.open()
    first_row = page.locator("#feed-list [data-generation-id]").first
    expect(first_row).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.locator("#start-button")).to_be_visible()
    for what, node in (("feed row", first_row), ("form", page.locator("#start"))):
        box = node.bounding_box()
        assert box is not None, what
        assert box["y"] >= 0, (what, box)
        assert box["y"] + box["height"] <= PHONE["height"], (what, box)
    # The statistics come after the feed and the form.
    stats = page.locator("#stats").bounding_box()
    feed = page.locator("#feed").bounding_box()
    assert stats is not None
    assert feed is not None
    assert stats["y"] > feed["y"]


def test_only_really_new_rows_are_highlighted(
    suite: EmulatorSuite,
    page: Page,
    dashboard: Dashboard,
    api: CallableClient,
    admin: AppUser,
    worker: AppUser,
    user: AppUser,
    account: AppUser,
) -> None:
    grant(api, admin, user, 100)
    before = [track(api, user, prompt=f"made before the page, {n}") for n in range(2)]
    # Made before the page opened means in the feed it first shows.
    in_feed_snapshot(suite, before)
    page.add_init_script(RECORD_HIGHLIGHTS)
    dashboard.open()
    for generation_id in before:
        expect(dashboard.feed_row(generation_id)).to_be_visible()
    expect(page.locator("#feed-list .fresh")).to_have_count(0)

    arrived = track(api, user, prompt="made while the page watched")
    expect(dashboard.feed_row(arrived)).to_have_class(
        re.compile(r"\bfresh\b"), timeout=UI_TIMEOUT_MS
    )
    # A change to another row redraws the feed: no row is highlighted again for it.
    settle(api, worker, before[0], "completed")
    expect(dashboard.feed_row(before[0]).locator(".status")).to_have_text(
        "completed", timeout=UI_TIMEOUT_MS
    )

    # Signing in subscribes again: the rows shown then are not news.
    dashboard.sign_in(account)
    expect(page.locator("#feed-note")).to_have_attribute(
        "data-state", "live", timeout=UI_TIMEOUT_MS
    )
    for generation_id in [*before, arrived]:
        expect(dashboard.feed_row(generation_id)).to_be_visible()
    later = track(api, user, prompt="made after signing in")
    expect(dashboard.feed_row(later)).to_have_class(re.compile(r"\bfresh\b"), timeout=UI_TIMEOUT_MS)
    assert page.evaluate("() => window.highlighted") == [arrived, later]
    for generation_id in [*before, arrived]:
        expect(dashboard.feed_row(generation_id)).not_to_have_class(re.compile(r"\bfresh\b"))


def test_hosting_sends_security_headers_and_the_page_breaks_no_policy(
    page: Page, suite: EmulatorSuite, dashboard: Dashboard, account: AppUser
) -> None:
    shipped = shipped_headers()
    policy = shipped["content-security-policy"]
    script_sources = re.search(r"script-src ([^;]*)", policy)
    assert script_sources, policy
    assert "'unsafe-inline'" not in script_sources[1], policy
    assert "'unsafe-eval'" not in policy
    assert shipped["x-content-type-options"] == "nosniff"
    assert shipped["referrer-policy"] in {"strict-origin-when-cross-origin", "no-referrer"}
    # The page itself needs no inline script or handler.
    html = (ROOT / "web" / "dashboard" / "index.html").read_text()
    assert not re.search(r"<script\b(?![^>]*\bsrc=)", html), "an inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"

    console_errors: list[str] = []
    page.on(
        "console", lambda line: console_errors.append(line.text) if line.type == "error" else None
    )
    page.add_init_script(RECORD_CSP_VIOLATIONS)
    served = page.goto(suite.dashboard_url)
    assert served is not None
    assert served.ok
    for name in SECURITY_HEADERS:
        assert served.headers.get(name) == shipped[name], name
    script = requests.get(f"{suite.dashboard_url}app.js", timeout=30)
    assert script.headers.get("x-content-type-options") == "nosniff"

    # A whole visit: the feed as a guest, an email sign-in, a generation, signing out.
    expect(page.locator("#feed-note")).to_have_attribute(
        "data-state", "live", timeout=UI_TIMEOUT_MS
    )
    dashboard.sign_in(account)
    page.locator("#start-prompt").fill("a lighthouse under a strict policy")
    page.locator("#start-button").click()
    expect(page.locator("#start-message")).to_contain_text("Started", timeout=UI_TIMEOUT_MS)
    expect(page.locator("#freshness")).not_to_have_text("Waiting for analytics…")
    page.locator("#sign-out").click()
    expect(page.locator("body")).to_have_attribute("data-auth", "signed-out")
    page.wait_for_load_state("networkidle")

    assert page.evaluate("() => window.cspViolations") == []
    assert console_errors == []
