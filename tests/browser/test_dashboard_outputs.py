"""What the dashboard shows of finished generations: a worker completes one with
outputs and a preview through the callables, and the page shows a thumbnail in
the feed (a BlurHash placeholder, then the stored preview), a detail dialog with
the outputs, and "Regenerate" in the owner's history. Another user's private
generation never reaches the page: no preview of it is read, nothing shown.

The outputs are served by a small HTTP server on a free loopback port that each
test starts and stops: the emulators accept http://127.0.0.1 output URLs, and
the page's policy allows images from there.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, Request, expect

from harness.clients import AppUser, AuthEmulator, CallableClient, FirestoreAdminRest, grant_credits
from harness.emulators import EmulatorSuite
from harness.pages import UI_TIMEOUT_MS, email_account, in_feed_snapshot
from harness.pages import open_signed_in as sign_in

OUTPUT_SIZE = (96, 64)
DATA_WEBP = re.compile(r"^data:image/webp;base64,")


def png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    """A small PNG with a gradient, so its preview and placeholder are not flat."""
    image = Image.new("RGB", size, colour)
    for x in range(size[0]):
        for y in range(0, size[1], 4):
            image.putpixel((x, y), (x * 2 % 256, colour[1], y * 3 % 256))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class OutputServer:
    """Serves one PNG at /output.png on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/output.png":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test output stays readable."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/output.png"

    def __enter__(self) -> OutputServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@pytest.fixture
def output_server() -> Iterator[OutputServer]:
    with OutputServer(png(OUTPUT_SIZE, (30, 120, 200))) as server:
        yield server


@pytest.fixture
def viewer(auth: AuthEmulator) -> AppUser:
    """The email account the page signs in with."""
    return email_account(auth, "Page Owner")


def open_signed_in(page: Page, suite: EmulatorSuite, account: AppUser) -> None:
    sign_in(page, suite, account)
    expect(page.locator("#feed-note")).to_have_attribute(
        "data-state", "live", timeout=UI_TIMEOUT_MS
    )


def start(api: CallableClient, creator: AppUser, **fields: Any) -> str:
    data = {"type": "image", "prompt": "a lighthouse at dusk", **fields}
    data.setdefault("requestId", f"test-{uuid.uuid4().hex}")
    generation_id: str = api.call("trackGeneration", data, id_token=creator.id_token)[
        "generationId"
    ]
    return generation_id


def complete(
    api: CallableClient, worker: AppUser, generation_id: str, outputs: list[dict[str, Any]]
) -> None:
    """Report the generation completed with ``outputs`` and a preview made here."""
    preview = base64.b64encode(png((160, 100), (200, 90, 40))).decode()
    report = {
        "generationId": generation_id,
        "status": "completed",
        "durationMs": 4200,
        "outputs": outputs,
        "preview": preview,
    }
    api.call("updateGenerationStatus", report, id_token=worker.id_token)


def image_output(server: OutputServer) -> dict[str, Any]:
    width, height = OUTPUT_SIZE
    return {"uri": server.url, "contentType": "image/png", "width": width, "height": height}


def feed_row(page: Page, generation_id: str) -> Locator:
    return page.locator(f'#feed-list [data-generation-id="{generation_id}"]')


def history_row(page: Page, generation_id: str) -> Locator:
    return page.locator(f'#history [data-generation-id="{generation_id}"]')


def grant(api: CallableClient, admin: AppUser, receiver: AppUser, amount: int) -> None:
    grant_credits(api, admin, receiver, amount, "browser test")


def test_a_completed_generation_shows_its_preview_and_its_outputs(
    page: Page,
    suite: EmulatorSuite,
    api: CallableClient,
    worker: AppUser,
    user: AppUser,
    viewer: AppUser,
    output_server: OutputServer,
) -> None:
    prompt = f"a red kite over the dunes {uuid.uuid4().hex[:6]}"
    generation_id = start(api, user, prompt=prompt, engine="flux-1.1")
    open_signed_in(page, suite, viewer)
    row = feed_row(page, generation_id)
    expect(row.locator(".status")).to_have_text("processing", timeout=UI_TIMEOUT_MS)
    expect(row.locator(".gen-result")).to_have_count(0)
    expect(row).not_to_contain_text("null")

    complete(api, worker, generation_id, [image_output(output_server)])
    thumb = row.locator("img.thumb")
    expect(thumb).to_have_attribute("src", DATA_WEBP, timeout=UI_TIMEOUT_MS)
    expect(thumb).to_have_attribute("data-state", "loaded")
    expect(thumb).to_have_attribute("alt", prompt)

    # Enter on the row opens the dialog: focus moves in, its heading names it.
    row.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#detail")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("aria-labelledby", "detail-title")
    expect(page.locator("#detail-title")).to_have_text("Image generation")
    assert page.evaluate("() => document.getElementById('detail').contains(document.activeElement)")
    facts = dialog.locator("#detail-facts")
    expect(facts.locator('[data-fact="prompt"] dd')).to_have_text(prompt)
    expect(facts.locator('[data-fact="engine"] dd')).to_have_text("flux-1.1")
    expect(facts.locator('[data-fact="status"] dd')).to_have_text("completed")
    expect(facts.locator('[data-fact="duration"] dd')).to_have_text("4.2 s")
    expect(facts.locator('[data-fact="creator"] dd')).to_have_text("Grace Hopper")
    expect(facts.locator('[data-fact="cost"]')).to_have_count(0)  # not the viewer's
    output = dialog.locator('.output[data-output="image"] img')
    expect(output).to_have_attribute("src", output_server.url, timeout=UI_TIMEOUT_MS)
    expect(output).to_have_attribute("alt", prompt)
    page.wait_for_function(
        "() => document.querySelector('#detail .output img')?.naturalWidth === 96",
        timeout=UI_TIMEOUT_MS,
    )

    # Escape closes it and focus returns to the row.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(row).to_be_focused()

    # A click opens it too; "Use this prompt" fills the form and starts nothing.
    row.locator(".prompt").click()
    expect(dialog).to_be_visible()
    dialog.locator("#detail-close").click()
    expect(dialog).to_be_hidden()
    row.locator("button.use-prompt").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#start-prompt")).to_have_value(prompt)
    expect(page.locator("#start-type")).to_have_value("image")
    expect(page.locator("#start-engine")).to_have_value("flux-1.1")
    expect(page.locator("#start-prompt")).to_be_focused()
    expect(page.locator("#history [data-generation-id]")).to_have_count(0)


def test_regenerate_starts_a_linked_generation_with_the_same_request(
    page: Page,
    suite: EmulatorSuite,
    api: CallableClient,
    admin: AppUser,
    worker: AppUser,
    viewer: AppUser,
    firestore_admin: FirestoreAdminRest,
    output_server: OutputServer,
) -> None:
    grant(api, admin, viewer, 100)
    prompt = f"my harbour at night {uuid.uuid4().hex[:6]}"
    asked = {"engine": "flux-1.1", "batchSize": 2, "visibility": "private"}
    original = start(api, viewer, prompt=prompt, **asked)
    complete(api, worker, original, [image_output(output_server)] * 2)
    open_signed_in(page, suite, viewer)

    # The owner sees the preview of their own private generation, in the history only.
    row = history_row(page, original)
    expect(row.locator("img.thumb")).to_have_attribute("src", DATA_WEBP, timeout=UI_TIMEOUT_MS)
    expect(feed_row(page, original).locator(".prompt")).to_have_text("Private prompt")
    expect(feed_row(page, original).locator(".gen-result")).to_have_count(0)

    # The owner's dialog shows the cost (as their history does) and both outputs.
    cost = row.locator(".cost").inner_text()
    assert re.fullmatch(r"\d+ credits?", cost), cost
    row.locator(".prompt").click()
    dialog = page.locator("#detail")
    expect(dialog.locator('[data-fact="cost"] dd')).to_have_text(cost)
    expect(dialog.locator('[data-fact="visibility"] dd')).to_have_text("private")
    expect(dialog.locator(".output img")).to_have_count(2, timeout=UI_TIMEOUT_MS)
    page.keyboard.press("Escape")
    expect(row).to_be_focused()

    regenerate = row.locator("button.regenerate")
    expect(regenerate).to_have_accessible_name(f"Regenerate: {prompt}")
    regenerate.click()
    message = page.locator("#start-message")
    expect(message).to_contain_text("Started again", timeout=UI_TIMEOUT_MS)
    expect(message).to_have_attribute("data-regenerated-from", original)
    again = message.get_attribute("data-generation-id")
    assert again is not None
    assert again != original
    expect(history_row(page, again).locator(".status")).to_have_text(
        "processing", timeout=UI_TIMEOUT_MS
    )

    record = firestore_admin.get(f"users/{viewer.uid}/generations/{again}")
    first = firestore_admin.get(f"users/{viewer.uid}/generations/{original}")
    assert record is not None
    assert first is not None
    assert record["regeneratedFrom"] == {"stringValue": original}
    for field in ("prompt", "type", "engine", "batchSize", "visibility"):
        assert record[field] == first[field], field
    assert record["requestId"] != first["requestId"]


def firestore_bodies(sent: Request) -> str:
    """What a request to the Firestore emulator says, decoded (WebChannel posts forms)."""
    return urllib.parse.unquote_plus(f"{sent.url} {sent.post_data or ''}")


def test_a_private_preview_never_reaches_another_users_page(
    page: Page,
    suite: EmulatorSuite,
    api: CallableClient,
    worker: AppUser,
    user: AppUser,
    viewer: AppUser,
    output_server: OutputServer,
) -> None:
    secret = f"my secret storyboard {uuid.uuid4().hex[:8]}"
    private_id = start(api, user, prompt=secret, visibility="private")
    public_id = start(api, user, prompt="a public kite")
    complete(api, worker, private_id, [image_output(output_server)])
    complete(api, worker, public_id, [image_output(output_server)])
    firestore_host = suite.url("firestore").split("//", 1)[1]
    said: list[str] = []
    page.on(
        "request",
        lambda sent: said.append(firestore_bodies(sent)) if firestore_host in sent.url else None,
    )
    outputs_asked: list[str] = []
    page.on(
        "request",
        lambda sent: (
            outputs_asked.append(sent.post_data or "")
            if sent.url.endswith("/getGenerationOutputs")
            else None
        ),
    )
    open_signed_in(page, suite, viewer)

    # The public one loads (so the page does read previews), the private one shows nothing.
    expect(feed_row(page, public_id).locator("img.thumb")).to_have_attribute(
        "src", DATA_WEBP, timeout=UI_TIMEOUT_MS
    )
    private_row = feed_row(page, private_id)
    expect(private_row.locator(".prompt")).to_have_text("Private prompt")
    expect(private_row.locator(".gen-result, img")).to_have_count(0)
    expect(private_row).not_to_contain_text("null")
    assert any(f"previews/{public_id}" in body for body in said), "no preview read was seen"
    assert not any(f"previews/{private_id}" in body for body in said)

    # Its dialog says it is private and asks for no outputs.
    private_row.click()
    expect(page.locator("#detail-note")).to_have_text(
        "This generation is private: only its creator sees its outputs."
    )
    expect(page.locator("#detail .output")).to_have_count(0)
    page.keyboard.press("Escape")
    assert not any(private_id in body for body in outputs_asked)
    assert secret not in page.content()
    images = page.locator("img[data-preview-id]")
    ids = {images.nth(n).get_attribute("data-preview-id") for n in range(images.count())}
    assert private_id not in ids


def test_a_preview_is_read_once_and_only_when_its_row_comes_into_view(
    page: Page,
    suite: EmulatorSuite,
    api: CallableClient,
    worker: AppUser,
    user: AppUser,
    stranger: AppUser,
    viewer: AppUser,
    output_server: OutputServer,
) -> None:
    below = start(api, user, prompt="a kite far down the feed")
    complete(api, worker, below, [image_output(output_server)])
    # Newer rows push it out of a short window; each finishes, so no limit is reached.
    for n in range(6):
        newer = start(api, stranger, type="text", prompt=f"a newer poem {n}")
        text = {"text": f"Poem {n}: the tide comes in.", "contentType": "text/plain"}
        complete_text = {"generationId": newer, "status": "completed", "outputs": [text]}
        api.call("updateGenerationStatus", complete_text, id_token=worker.id_token)
    # Opened once the feed shows them all, so the kite is below the window from the start.
    in_feed_snapshot(suite, [below, newer])
    page.set_viewport_size({"width": 1280, "height": 480})
    said: list[str] = []
    firestore_host = suite.url("firestore").split("//", 1)[1]
    page.on(
        "request",
        lambda sent: said.append(firestore_bodies(sent)) if firestore_host in sent.url else None,
    )
    open_signed_in(page, suite, viewer)

    # Out of view: the BlurHash placeholder only, drawn from the feed entry itself.
    thumb = feed_row(page, below).locator("img.thumb")
    expect(thumb).to_have_attribute("data-state", "placeholder", timeout=UI_TIMEOUT_MS)
    expect(thumb).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    assert not thumb.evaluate("(image) => image.getBoundingClientRect().top < innerHeight")
    excerpt = feed_row(page, newer).locator(".excerpt")
    expect(excerpt).to_have_text("Poem 5: the tide comes in.")
    assert not any(f"previews/{below}" in body for body in said)

    thumb.scroll_into_view_if_needed()
    expect(thumb).to_have_attribute("src", DATA_WEBP, timeout=UI_TIMEOUT_MS)
    reads = sum(f"previews/{below}" in body for body in said)
    assert reads == 1

    # Later snapshots redraw the feed without reading the preview again.
    latest = start(api, stranger, prompt="the newest kite")
    expect(feed_row(page, latest)).to_be_attached(timeout=UI_TIMEOUT_MS)
    expect(thumb).to_have_attribute("src", DATA_WEBP)
    assert sum(f"previews/{below}" in body for body in said) == reads
