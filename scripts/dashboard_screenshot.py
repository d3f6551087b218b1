"""Take the README's picture of the dashboard (docs/dashboard.png) in a
demo-like run: the emulators and Hosting on free ports, the demo traffic for a
while, one signed-in creator with generations of their own (finished ones with
outputs and previews, served from a loopback port as the demo worker does), a
rollup so the cards fill, then headless Chromium saves the page once every
preview in it has loaded.

    .venv/bin/python scripts/dashboard_screenshot.py [--seconds 60] [--out docs/dashboard.png]
"""

from __future__ import annotations

import argparse
import base64
import logging
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

from demo_outputs import OutputServer, render
from demo_traffic import run_demo
from harness import chromium
from harness.clients import AppUser, AuthEmulator, CallableClient
from harness.emulators import (
    REGION,
    ROOT,
    WITH_DASHBOARD,
    EmulatorSuite,
    emulator_suite,
    run_operator_command,
)

PASSWORD = "screenshot-password"
VIEWPORT: ViewportSize = {"width": 1440, "height": 1000}
UI_TIMEOUT_MS = 30_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="demo traffic before the shot")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING)
    log = ROOT / ".cache" / "dashboard-screenshot.log"
    log.parent.mkdir(exist_ok=True)
    print(f"starting the emulators (log: {log.relative_to(ROOT)}) ...", flush=True)
    with emulator_suite(log=log, only=WITH_DASHBOARD) as suite:
        stop = threading.Event()
        functions = f"{suite.url('functions')}/{suite.project}/{REGION}"
        traffic = threading.Thread(
            target=run_demo,
            args=(suite.url("auth"), functions, suite.project),
            kwargs={"stop": stop, "seed": args.seed, "users": 6},
            daemon=True,
        )
        traffic.start()
        try:
            with OutputServer() as outputs:
                owner = _own_generations(suite, outputs)
                print(f"demo traffic for {args.seconds:.0f} s ...", flush=True)
                time.sleep(args.seconds)
                rolled = run_operator_command(suite, "rollup", "--lag", "0")
                if rolled.returncode != 0:
                    print(rolled.stderr, file=sys.stderr)
                    return 1
                _shoot(suite, owner, args.out)
        finally:
            stop.set()
            traffic.join(15)
    print(f"saved {args.out}")
    return 0


def _own_generations(suite: EmulatorSuite, outputs: OutputServer) -> AppUser:
    """The creator the picture is signed in as, with a short history of their own:
    finished ones carry outputs and a preview, one is still running."""
    auth = AuthEmulator(suite.url("auth"), suite.project)
    api = CallableClient(suite.function_url(""))
    owner = auth.create_user(
        display_name="Annie Easley", email="annie@example.com", password=PASSWORD
    )
    worker = auth.create_user(display_name="Screenshot Worker", claims={"worker": True})
    admin = auth.create_user(display_name="Screenshot Admin", claims={"admin": True})
    grant = {"userId": owner.uid, "amount": 120, "reason": "welcome", "grantId": "shot-welcome"}
    api.call("grantCredits", grant, id_token=admin.id_token)
    for seed, (kind, prompt, outcome) in enumerate(
        (
            ("text", "a limerick about orbital mechanics", "completed"),
            ("video", "a satellite unfolding its panels", "completed"),
            ("image", "a rocket on the pad at dawn, watercolour", "completed"),
            ("audio", "countdown in a calm voice", None),
        )
    ):
        data = {"type": kind, "prompt": prompt, "requestId": f"shot-{uuid.uuid4().hex}"}
        started = api.call("trackGeneration", data, id_token=owner.id_token)
        if outcome is not None:
            report = {
                "generationId": started["generationId"],
                "status": outcome,
                "durationMs": 3200,
            }
            report.update(
                _outputs(
                    outputs, owner, started["generationId"], kind=kind, prompt=prompt, seed=seed
                )
            )
            api.call("updateGenerationStatus", report, id_token=worker.id_token)
    return owner


def _outputs(
    server: OutputServer,
    owner: AppUser,
    generation_id: str,
    *,
    kind: str,
    prompt: str,
    seed: int,
) -> dict[str, Any]:
    """``outputs`` and ``preview`` as the demo worker reports them (text inline)."""
    rendered = render(kind, prompt, seed)
    fields: dict[str, Any] = {}
    if rendered.text is not None:
        fields["outputs"] = [{"text": rendered.text, "contentType": "text/plain"}]
    else:
        fields["outputs"] = [
            media.report(server.publish(owner.uid, generation_id, index, media))
            for index, media in enumerate(rendered.files)
        ]
    if rendered.preview is not None:
        fields["preview"] = base64.b64encode(rendered.preview).decode("ascii")
    return fields


def _load_every_preview(page: Page) -> None:
    """Bring every row into view once, so each preview loads (they load lazily),
    and wait until none is still a placeholder."""
    for row in page.locator(".gen-list [data-generation-id]").all():
        row.scroll_into_view_if_needed()
    # Back to the top of the page and of the lists that scroll on their own.
    page.evaluate(
        "() => { window.scrollTo(0, 0);"
        " for (const list of document.querySelectorAll('.gen-list')) list.scrollTop = 0; }"
    )
    expect(page.locator('img.thumb[data-state="placeholder"]')).to_have_count(
        0, timeout=UI_TIMEOUT_MS
    )


def _shoot(suite: EmulatorSuite, owner: AppUser, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = chromium.launch(playwright)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{suite.dashboard_url}?refresh=2")
            expect(page.locator("#feed-note")).to_have_attribute(
                "data-state", "live", timeout=UI_TIMEOUT_MS
            )
            page.locator(".sign-in-box summary").click()
            page.locator('#sign-in input[name="email"]').fill(owner.email)
            page.locator('#sign-in input[name="password"]').fill(PASSWORD)
            page.locator('#sign-in button[value="sign-in"]').click()
            expect(page.locator("#history [data-generation-id]")).to_have_count(
                4, timeout=UI_TIMEOUT_MS
            )
            expect(page.locator("#credits")).to_have_attribute("data-loaded", "true")
            expect(page.locator("#freshness")).to_contain_text(
                "Rollups complete", timeout=UI_TIMEOUT_MS
            )
            # A private generation on top of the feed: no prompt there, in full in the panel.
            api = CallableClient(suite.function_url(""))
            private = {"type": "video", "prompt": "our launch teaser", "visibility": "private"}
            hidden = api.call("trackGeneration", private, id_token=owner.id_token)
            row = page.locator(f'#feed-list [data-generation-id="{hidden["generationId"]}"]')
            expect(row.locator(".prompt.private")).to_be_visible(timeout=UI_TIMEOUT_MS)
            page.locator("#start-prompt").fill("a quiet harbour at night, long exposure")
            page.wait_for_timeout(2000)  # let the last quote and feed changes settle
            _load_every_preview(page)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()


if __name__ == "__main__":
    sys.exit(main())
