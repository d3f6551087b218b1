"""The dashboard's pure modules (web/dashboard/messages.js, credits.js,
outputs.js, notifications.js and the helpers of format.js), run by Node as the
browser runs them: what the page says for each refusal, the credits it shows,
the cards' shares, which feed rows it highlights, what a row shows of a
generation's result, and what the bell says and alerts about.
No emulator: each case is a plain value in, a value out.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from harness.emulators import ROOT

DASHBOARD = ROOT / "web" / "dashboard"
CALLABLE_CODES = (
    "invalid-argument",
    "unauthenticated",
    "permission-denied",
    "failed-precondition",
    "resource-exhausted",
    "not-found",
    "aborted",
    "internal",
    "unavailable",
    "deadline-exceeded",
)
REQUEST_FIELDS = ("type", "engine", "prompt", "mode", "batchSize", "visibility", "requestId")
WRONG_CREDENTIALS = "That email and password do not match an account."
# What no sentence for people may carry: codes, HTTP statuses, validator wording.
TECHNICAL = re.compile(
    r"functions/|auth/|firebase|\[\d{3}\]|should match|pattern|invalid-argument|"
    r"resource-exhausted|user-not-found|wrong-password|undefined|null|NaN",
    re.I,
)


def run_js(body: str) -> Any:
    """Run ``body`` (an async module body that returns a JSON-able value) in Node."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the dashboard's modules run in Node 20+")
    imports = "\n".join(
        f'import * as {name} from "{(DASHBOARD / f"{name}.js").as_uri()}";'
        for name in ("messages", "credits", "format", "outputs", "notifications")
    )
    script = f"{imports}\nconst result = await (async () => {{ {body} }})();\n"
    script += "process.stdout.write(JSON.stringify(result));\n"
    done = subprocess.run(  # noqa: S603 - Node running the project's own modules
        [node, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def error_messages(errors: list[dict[str, Any]]) -> list[str]:
    said: list[str] = run_js(
        f"return {json.dumps(errors)}.map((error) => messages.errorMessage(error));"
    )
    return said


def test_every_callable_code_reads_as_its_own_sentence() -> None:
    said = error_messages([{"code": f"functions/{code}"} for code in CALLABLE_CODES])
    assert len(set(said)) == len(CALLABLE_CODES), said
    fallback = error_messages([{"code": "functions/no-such-code"}])[0]
    for code, sentence in zip(CALLABLE_CODES, said, strict=True):
        assert sentence != fallback, code
        assert not TECHNICAL.search(sentence), (code, sentence)
        assert sentence.endswith("."), (code, sentence)


def test_every_field_of_a_start_reads_as_its_own_sentence() -> None:
    refusals = [
        {
            "code": "functions/invalid-argument",
            "message": f"{field}: String should match pattern '^[a-z0-9]' [400]",
            "details": {"errors": [{"field": field, "message": "String should match pattern"}]},
        }
        for field in REQUEST_FIELDS
    ]
    said = error_messages(refusals)
    generic = error_messages([{"code": "functions/invalid-argument"}])[0]
    assert len(set(said)) == len(REQUEST_FIELDS), said
    for field, sentence in zip(REQUEST_FIELDS, said, strict=True):
        assert sentence != generic, field
        assert not TECHNICAL.search(sentence), (field, sentence)
    # Two problems, two sentences; an unknown engine is not a malformed one.
    both, unknown = error_messages(
        [
            {
                "code": "functions/invalid-argument",
                "details": {"errors": [{"field": "prompt"}, {"field": "batchSize"}]},
            },
            {
                "code": "functions/invalid-argument",
                "details": {"errors": [{"field": "engine", "message": "unknown engine 'x'"}]},
            },
        ]
    )
    assert (
        both == f"{said[REQUEST_FIELDS.index('prompt')]} {said[REQUEST_FIELDS.index('batchSize')]}"
    )
    assert unknown != said[REQUEST_FIELDS.index("engine")]
    assert "not available" in unknown


def test_limits_and_missing_credits_say_what_to_do() -> None:
    rate, concurrency, credits, bare = error_messages(
        [
            {
                "code": "functions/resource-exhausted",
                "details": {"reason": "rate", "retryAfterSeconds": 7},
            },
            {
                "code": "functions/resource-exhausted",
                "details": {"reason": "concurrency", "retryAfterSeconds": 5, "limit": 5},
            },
            {
                "code": "functions/resource-exhausted",
                "details": {"cost": 10, "available": 3, "shortfall": 7},
            },
            {"code": "functions/resource-exhausted"},
        ]
    )
    assert rate == "You are starting generations too quickly. Please try again in 7 seconds."
    assert "at most 5 at once" in concurrency
    assert "5 seconds" in concurrency
    assert (
        credits == "Not enough credits: this generation costs 10 credits and you have 3 available."
    )
    assert len({rate, concurrency, credits, bare}) == 4
    for sentence in (rate, concurrency, credits, bare):
        assert not TECHNICAL.search(sentence), sentence


def test_a_failed_sign_in_never_tells_whether_the_account_exists() -> None:
    codes = [
        "auth/user-not-found",
        "auth/wrong-password",
        "auth/invalid-credential",
        "auth/invalid-login-credentials",
        "auth/invalid-email",
    ]
    said = run_js(
        f"return {json.dumps(codes)}.map((code) => messages.signInMessage({{ code, "
        f"message: `Firebase: Error (${{code}}).` }}));"
    )
    assert said == [WRONG_CREDENTIALS] * len(codes)
    others = run_js(
        'return ["auth/too-many-requests", "auth/network-request-failed", "auth/weak-password",'
        ' "auth/email-already-in-use"].map((code) => messages.signInMessage({ code }));'
    )
    for sentence in others:
        assert not TECHNICAL.search(sentence), sentence


def test_the_credits_shown_are_those_the_quote_uses() -> None:
    views = run_js(
        """
        const guest = { cost: 1, balance: 0, held: 0, available: 0, canAfford: false,
          freeCredits: { qualifies: false, dailyFloor: 10, overdraftAllowance: 10,
            reason: "Guest accounts get no free credits." } };
        const firstToday = { cost: 1, balance: 10, held: 0, available: 10, canAfford: true,
          freeCredits: { qualifies: true, reason: null, dailyFloor: 10, overdraftAllowance: 10 } };
        const older = { cost: 1, balance: 10, held: 2, available: 8, canAfford: true };
        return [
          credits.creditView(null, guest),
          credits.creditView(null, firstToday),
          credits.creditView({ balance: 10, held: 2 }, older),
          credits.creditView({ balance: 4, held: 0 }, { ...older, balance: 10, held: 0,
            available: 10 }),
          credits.creditView({ balance: 7, held: 1 }, null),
          credits.creditView(null, null),
        ];
        """
    )
    guest, first_today, settled, without_free_credits, no_quote, nothing = views
    assert guest == {
        "balance": 0,
        "held": 0,
        "available": 0,
        "note": "Guest accounts get no free credits.",
    }
    assert first_today["available"] == 10
    assert "10 free credits for today" in first_today["note"]
    assert "first generation of the day" in first_today["note"]
    assert settled == {"balance": 10, "held": 2, "available": 8, "note": ""}
    # Answers without freeCredits still explain credits the account does not hold yet.
    assert without_free_credits["available"] == 10
    assert "6 free credits for today" in without_free_credits["note"]
    assert no_quote == {"balance": 7, "held": 1, "available": 6, "note": ""}
    assert nothing == {"balance": None, "held": None, "available": None, "note": ""}


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([1, 1, 1, 3], [17, 17, 16, 50]),
        ([1, 1, 1, 0], [34, 33, 33, 0]),
        ([3, 2, 1, 1], [43, 29, 14, 14]),
        ([0, 0, 0, 0], [0, 0, 0, 0]),
        ([5, 0, 0, 0], [100, 0, 0, 0]),
        ([1, 1, 1, 1, 1, 1, 1], [15, 15, 14, 14, 14, 14, 14]),
    ],
)
def test_card_shares_add_up_to_exactly_100(counts: list[int], expected: list[int]) -> None:
    shares = run_js(f"return format.shares({json.dumps(counts)});")
    assert shares == expected
    assert sum(shares) in {0, 100}


def test_only_rows_newer_than_what_was_shown_are_news() -> None:
    fresh = run_js(
        """
        const rows = [
          { id: "new", createdAt: 300 },
          { id: "known", createdAt: 250 },
          { id: "moved-up", createdAt: 100 },
          { id: "no-time", createdAt: null },
        ];
        const known = new Set(["known"]);
        return [
          [...format.freshRows({ first: true, known, newest: 200 }, rows)],
          [...format.freshRows({ first: false, known, newest: 200 }, rows)],
          [...format.freshRows({ first: false, known: new Set(), newest: null }, rows)],
        ];
        """
    )
    assert fresh == [[], ["new"], ["new", "known", "moved-up", "no-time"]]


# A BlurHash of 4 x 3 components (the sample of blurha.sh), and a 1 x 1 PNG.
BLURHASH = "LEHV6nWB2yk8pyo0adR*.7kCMdnj"
PIXEL_PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)


def test_a_preview_is_shown_from_a_data_url_built_from_its_bytes() -> None:
    urls = run_js(
        f"""
        const base64 = {json.dumps(PIXEL_PNG_BASE64)};
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const firestoreBytes = {{ toBase64: () => base64 }};
        const big = new Uint8Array(200_000).fill(7);
        return [
          outputs.previewDataUrl(firestoreBytes),
          outputs.previewDataUrl(bytes, "image/png"),
          outputs.previewDataUrl(base64, "image/png"),
          outputs.previewDataUrl(big).length,
          outputs.previewDataUrl(firestoreBytes, "text/html"),
          outputs.previewDataUrl("not base64 <script>"),
          outputs.previewDataUrl(null),
          outputs.previewDataUrl({{}}),
        ];
        """
    )
    from_bytes_object, from_array, from_string, big_length, *refused = urls
    assert from_bytes_object == f"data:image/webp;base64,{PIXEL_PNG_BASE64}"
    assert from_array == from_string == f"data:image/png;base64,{PIXEL_PNG_BASE64}"
    # Large arrays are encoded in chunks: 200,000 bytes make 266,668 base64 characters.
    assert big_length == len("data:image/webp;base64,") + 266_668
    assert refused == [None, None, None, None]


def test_a_row_shows_a_preview_an_icon_an_excerpt_or_nothing() -> None:
    preview = {"blurhash": BLURHASH, "width": 320, "height": 180}
    generations = {
        "image": {"type": "image", "prompt": "a fox", "preview": preview, "outputCount": 1},
        "waveform": {"type": "audio", "prompt": "rain", "preview": preview, "outputCount": 1},
        "audio": {"type": "audio", "prompt": "rain", "preview": None, "outputCount": 1},
        "text": {"type": "text", "prompt": "a poem", "preview": None, "textExcerpt": "Roses"},
        "video without preview": {"type": "video", "prompt": "waves", "outputCount": 1},
        "processing": {"type": "image", "prompt": "a fox", "preview": None, "outputCount": None},
        "private": {"type": "image", "prompt": None, "preview": preview, "textExcerpt": "x"},
        "hidden": {"type": "image", "prompt": "a fox", "preview": preview, "hidden": True},
        "broken hash": {
            "type": "image",
            "prompt": "a fox",
            "preview": {**preview, "blurhash": "x"},
        },
        "no size": {"type": "image", "prompt": "a fox", "preview": {**preview, "width": 0}},
        "blank excerpt": {"type": "text", "prompt": "a poem", "textExcerpt": "  "},
    }
    shown = run_js(
        f"""
        const generations = {json.dumps(generations)};
        return Object.fromEntries(Object.entries(generations).map(
          ([name, generation]) => [name, outputs.rowResult(generation)]));
        """
    )
    kinds = {name: result["kind"] for name, result in shown.items()}
    assert kinds == {
        "image": "preview",
        "waveform": "preview",
        "audio": "icon",
        "text": "excerpt",
        "video without preview": "none",
        "processing": "none",
        "private": "none",
        "hidden": "none",
        "broken hash": "none",
        "no size": "none",
        "blank excerpt": "none",
    }
    assert shown["image"] == {"kind": "preview", "preview": preview, "audio": False}
    assert shown["waveform"]["audio"] is True
    assert shown["text"]["text"] == "Roses"


def test_a_placeholder_is_decoded_small_in_the_previews_shape() -> None:
    decoded = run_js(
        f"""
        const preview = {{ blurhash: "{BLURHASH}", width: 320, height: 180 }};
        const wide = outputs.placeholderPixels(preview);
        const tall = outputs.placeholderSize({{ width: 10, height: 4000 }});
        const average = [0, 1, 2].map((channel) => {{
          let sum = 0;
          for (let at = channel; at < wide.pixels.length; at += 4) sum += wide.pixels[at];
          return Math.round(sum / (wide.pixels.length / 4));
        }});
        return {{ width: wide.width, height: wide.height, length: wide.pixels.length,
          alpha: wide.pixels[3], average, tall }};
        """
    )
    assert (decoded["width"], decoded["height"]) == (32, 18)
    assert decoded["length"] == 32 * 18 * 4
    assert decoded["alpha"] == 255
    # The sample hash is of a warm, mostly brown-grey picture: not black, not blank.
    assert all(40 < channel < 220 for channel in decoded["average"]), decoded["average"]
    assert decoded["tall"] == {"width": 1, "height": 32}


def test_regenerate_asks_for_the_same_generation_again_under_a_new_request_id() -> None:
    record = {
        "type": "video",
        "engine": "klingai",
        "prompt": "a comet over the sea",
        "batchSize": 2,
        "visibility": "private",
        "requestId": "web-old",
        "cost": 20,
        "status": "completed",
        "userEmail": "someone@example.com",
    }
    first, second, default_engine = run_js(
        f"""
        const record = {json.dumps(record)};
        return [
          outputs.regenerateRequest(record, "gen-1"),
          outputs.regenerateRequest(record, "gen-1"),
          outputs.regenerateRequest({{ ...record, engine: null, visibility: "public" }}, "gen-2",
            "web-fixed"),
        ];
        """
    )
    for request in (first, second):
        assert {key: request[key] for key in ("type", "engine", "prompt", "batchSize")} == {
            "type": "video",
            "engine": "klingai",
            "prompt": "a comet over the sea",
            "batchSize": 2,
        }
        assert request["visibility"] == "private"
        assert request["regeneratedFrom"] == "gen-1"
        assert re.fullmatch(r"web-[0-9a-f-]{36}", request["requestId"]), request
        assert set(request) == {
            "type",
            "engine",
            "prompt",
            "batchSize",
            "visibility",
            "requestId",
            "regeneratedFrom",
        }
    assert first["requestId"] != second["requestId"] != record["requestId"]
    # No engine in the record: the backend's default is asked for again.
    assert default_engine == {
        "type": "video",
        "prompt": "a comet over the sea",
        "batchSize": 2,
        "visibility": "public",
        "requestId": "web-fixed",
        "regeneratedFrom": "gen-2",
    }


def test_use_this_prompt_and_alt_texts_share_only_public_prompts() -> None:
    fields, private, hidden, alts = run_js(
        """
        const entry = { type: "image", engine: "flux", prompt: "a fox", userId: "u1" };
        return [
          outputs.promptFields(entry),
          outputs.promptFields({ ...entry, prompt: null }),
          outputs.promptFields({ ...entry, hidden: true }),
          [outputs.altText(entry), outputs.altText({ type: "image", prompt: null }),
           outputs.altText({ type: "video", prompt: "  " }), outputs.altText({ type: "audio" })],
        ];
        """
    )
    assert fields == {"type": "image", "engine": "flux", "prompt": "a fox"}
    assert private is None
    assert hidden is None
    assert alts == [
        "a fox",
        "Preview of an image generation",
        "Preview of a video generation",
        "Preview of an audio generation",
    ]


def test_only_https_and_loopback_outputs_are_loaded() -> None:
    views = run_js(
        """
        return [
          { url: "https://storage.googleapis.com/b/o.png?X-Goog-Signature=1",
            contentType: "image/png", width: 64, height: 64, bytes: 900 },
          { url: "http://127.0.0.1:8765/clip.mp4", contentType: "video/mp4", durationMs: 4000 },
          { url: "https://cdn.example.com/a.mp3", contentType: "audio/mpeg" },
          { text: "Once upon a time", contentType: "text/plain" },
          { url: "https://cdn.example.com/model.glb", contentType: "model/gltf-binary" },
          { url: "javascript:alert(1)", contentType: "image/png" },
          { url: "http://example.com/a.png", contentType: "image/png" },
          { url: "data:image/png;base64,AAAA", contentType: "image/png" },
          { contentType: "image/png" },
        ].map(outputs.outputView).map((view) => [view.kind, view.url ?? view.text ?? null]);
        """
    )
    assert views == [
        ["image", "https://storage.googleapis.com/b/o.png?X-Goog-Signature=1"],
        ["video", "http://127.0.0.1:8765/clip.mp4"],
        ["audio", "https://cdn.example.com/a.mp3"],
        ["text", "Once upon a time"],
        ["file", "https://cdn.example.com/model.glb"],
        ["unavailable", None],
        ["unavailable", None],
        ["unavailable", None],
        ["unavailable", None],
    ]


def test_durations_and_sizes_read_short() -> None:
    said = run_js(
        "return [[850, 12400, 125000, null, -1].map(format.duration),"
        " [900, 24576, 3.5e6, undefined].map(format.fileSize)];"
    )
    assert said == [
        ["850 ms", "12.4 s", "2 min 5 s", "\u2013", "\u2013"],
        ["900 B", "24 KB", "3.3 MB", ""],
    ]


def test_each_notification_reads_as_a_sentence() -> None:
    notifications = [
        {"type": "generation.completed", "generationType": "image", "engine": "gemini"},
        {"type": "generation.failed", "generationType": "video", "engine": "klingai"},
        {"type": "generation.completed", "generationType": None, "engine": None},
        {"type": "generation.failed", "generationType": "hologram", "engine": "  "},
        {"type": "credits.low", "available": 3, "threshold": 5},
        {"type": "credits.low", "available": -2, "threshold": None},
        {"type": "credits.low", "available": None, "threshold": 5},
        {"type": "credits.purchased", "credits": 100},
        {"type": "credits.granted", "credits": 50},
        {"type": "credits.granted", "credits": 1},
        {"type": "credits.purchased", "credits": None},
        {"type": "webhook.disabled"},
        {"type": "something.new", "credits": 5},
        {},
    ]
    said = run_js(f"return {json.dumps(notifications)}.map(notifications.noticeText);")
    assert said == [
        "Your image generation (gemini) completed",
        "Your video generation (klingai) failed",
        "Your generation completed",
        "Your generation failed",
        "Your credits are low: 3 left (alert below 5)",
        "Your credits are low: -2 left",
        "Your credits are low",
        "100 credits purchased",
        "50 credits granted",
        "1 credit granted",
        "Credits purchased",
        "A webhook endpoint was turned off after failing repeatedly",
        "You have a new notification",
        "You have a new notification",
    ]
    for sentence in said:
        assert not TECHNICAL.search(sentence), sentence


def test_the_badge_hides_at_zero_and_caps_past_99() -> None:
    counts = [0, 1, 3, 99, 100, -1, None]
    badges, labels = run_js(
        f"const counts = {json.dumps(counts)};"
        "return [counts.map(notifications.badgeText), counts.map(notifications.bellLabel)];"
    )
    assert badges == ["", "1", "3", "99", "99+", "", ""]
    assert labels == [
        "Notifications",
        "Notifications, 1 unread",
        "Notifications, 3 unread",
        "Notifications, 99 unread",
        "Notifications, more than 99 unread",
        "Notifications",
        "Notifications",
    ]


def test_only_unread_notifications_newer_than_those_seen_are_arrivals() -> None:
    first, cached_then_server, later, from_nothing = run_js(
        """
        const arrivals = notifications.newArrivals;
        const initial = [
          { type: "added", id: "a", read: false, createdAt: 100 },
          { type: "added", id: "b", read: false, createdAt: 200 },
        ];
        // The first snapshot: nothing arrives, the newest is remembered.
        const first = arrivals({ primed: false, newest: null }, initial);
        // A snapshot from the cache, then the server's with one more: still not arrivals.
        const cached = arrivals({ primed: false, newest: null }, [initial[0]]);
        const server = arrivals({ primed: false, newest: cached.newest }, [initial[1]]);
        const later = arrivals({ primed: true, newest: 200 }, [
          { type: "added", id: "new", read: false, createdAt: 300 },
          { type: "added", id: "moved-into-window", read: false, createdAt: 50 },
          { type: "added", id: "already-read", read: true, createdAt: 400 },
          { type: "modified", id: "b", read: false, createdAt: 200 },
          { type: "removed", id: "a", read: false, createdAt: 900 },
          { type: "added", id: "no-time", read: false, createdAt: null },
        ]);
        // Primed on an empty list: whatever is added is new.
        const fromNothing = arrivals({ primed: true, newest: null }, [
          { type: "added", id: "x", read: false, createdAt: 10 },
        ]);
        return [first, [cached, server], later, fromNothing];
        """
    )
    assert first == {"arrivals": [], "newest": 200}
    assert cached_then_server == [
        {"arrivals": [], "newest": 100},
        {"arrivals": [], "newest": 200},
    ]
    assert later == {"arrivals": ["new"], "newest": 400}
    assert from_nothing == {"arrivals": ["x"], "newest": 10}


def test_a_burst_of_arrivals_alerts_once() -> None:
    few, many = run_js(
        """
        const arrival = (n) => ({ id: `n${n}`, text: `Sentence ${n}` });
        return [
          notifications.alertsFor([1, 2, 3].map(arrival)),
          notifications.alertsFor([1, 2, 3, 4, 5].map(arrival)),
        ];
        """
    )
    assert few == [{"text": f"Sentence {n}", "tag": f"generations-live:n{n}"} for n in (1, 2, 3)]
    assert many == [{"text": "5 new notifications", "tag": "generations-live:many"}]


def test_mark_all_read_calls_again_while_more_remain() -> None:
    backlog, single, runaway, calls = run_js(
        """
        const answers = (list) => { let at = 0; const calls = [];
          return { calls, mark: async () => { calls.push(at); return list[at++]; } }; };
        const backlog = answers([{ marked: 500, more: true }, { marked: 500, more: true },
          { marked: 12, more: false }]);
        const single = answers([{ marked: 0, more: false }]);
        const runaway = { calls: 0, mark: async () => { runaway.calls += 1;
          return { marked: 500, more: true }; } };
        return [
          await notifications.markAllRead(backlog.mark),
          await notifications.markAllRead(single.mark),
          await notifications.markAllRead(runaway.mark, 4),
          [backlog.calls.length, single.calls.length, runaway.calls],
        ];
        """
    )
    assert backlog == 1012
    assert single == 0
    assert runaway == 2000
    assert calls == [3, 1, 4]


def test_the_alert_control_follows_the_browsers_permission() -> None:
    settings = run_js(
        """
        const setting = notifications.alertSetting;
        return [
          setting({ supported: false, permission: "granted", wanted: true }),
          setting({ supported: true, permission: "default", wanted: true }),
          setting({ supported: true, permission: "granted", wanted: false }),
          setting({ supported: true, permission: "granted", wanted: true }),
          setting({ supported: true, permission: "denied", wanted: true }),
        ];
        """
    )
    unsupported, not_asked, granted_off, granted_on, denied = settings
    assert unsupported["hidden"] is True
    assert not_asked == {"hidden": False, "checked": False, "disabled": False, "note": ""}
    assert granted_off["checked"] is False
    assert granted_on == {"hidden": False, "checked": True, "disabled": False, "note": ""}
    assert denied["disabled"] is True
    assert denied["checked"] is False
    assert "site settings" in denied["note"]
