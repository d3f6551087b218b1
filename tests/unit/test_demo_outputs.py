"""The demo worker's outputs: real files of the stated kind and size, the same bytes
for the same prompt and seed, served from a loopback port that closes on stop, and
reported to the backend (or left out when an older backend refuses them)."""

from __future__ import annotations

import base64
import io
import logging
import random
import socket
import sys
import urllib.error
import urllib.request
import wave
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

# scripts/ holds commands, not a package, so pytest's pythonpath leaves it out.
SCRIPTS = str(Path(__file__).resolve().parents[2] / "scripts")
if SCRIPTS not in sys.path:
    sys.path.append(SCRIPTS)

import demo_outputs  # noqa: E402
import demo_traffic  # noqa: E402
from demo_outputs import MediaFile, OutputServer, render  # noqa: E402
from harness.clients import AppUser, CallableClient, CallableError  # noqa: E402

PROMPT = "a lighthouse in a storm, oil painting"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WEBM_MAGIC = bytes.fromhex("1A45DFA3")  # the EBML header every Matroska/WebM file opens with


def opened_png(data: bytes) -> Image.Image:
    assert data.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    return image


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - a loopback URL
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - a loopback URL
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# Rendering


def test_the_image_is_a_png_of_the_stated_size() -> None:
    image = demo_outputs.render_image(PROMPT, 1)

    picture = opened_png(image.data)
    assert picture.size == (image.width, image.height) == demo_outputs.IMAGE_SIZE == (768, 512)
    assert image.content_type == "image/png"
    # Not a flat fill: the prompt's colours and shapes are there.
    colours = picture.convert("RGB").getcolors(picture.width * picture.height)
    assert colours is not None
    assert len(colours) > 100


def test_a_batch_gives_one_distinct_image_each_and_the_first_as_preview() -> None:
    rendered = render("image", PROMPT, 5, count=4)

    assert len(rendered.files) == 4
    assert len({image.data for image in rendered.files}) == 4
    assert rendered.preview == rendered.files[0].data
    assert len(rendered.preview) <= demo_outputs.MAX_PREVIEW_BYTES


def test_the_wav_parses_and_lasts_the_stated_duration() -> None:
    audio, _ = demo_outputs.render_audio("lo-fi beat for studying, 90 bpm", 3)

    with wave.open(io.BytesIO(audio.data), "rb") as sound:
        assert (sound.getnchannels(), sound.getsampwidth()) == (1, 2)
        duration_ms = sound.getnframes() * 1000 / sound.getframerate()
        frames = sound.readframes(sound.getnframes())
    assert audio.duration_ms == duration_ms == 2000
    assert audio.content_type == "audio/wav"
    assert any(frames)  # not silence


def test_the_pitch_follows_the_prompt() -> None:
    one, _ = demo_outputs.render_audio("a warm voice reading a bedtime story", 3)
    other, _ = demo_outputs.render_audio("lo-fi beat for studying, 90 bpm", 3)
    assert one.data != other.data


def test_the_previews_are_pngs_the_backend_accepts() -> None:
    video, poster = demo_outputs.render_video("drone shot over a misty fjord at sunrise", 2)
    _, waveform = demo_outputs.render_audio("lo-fi beat for studying, 90 bpm", 2)

    assert opened_png(poster).size == (video.width, video.height)
    strip = opened_png(waveform)
    assert strip.size == demo_outputs.WAVEFORM_SIZE
    # The backend refuses previews longer than 32 times their height.
    assert strip.width / strip.height <= 32
    for preview in (poster, waveform):
        assert len(preview) <= demo_outputs.MAX_PREVIEW_BYTES


def test_the_video_is_a_webm_that_decodes_to_its_frames() -> None:
    video, _ = demo_outputs.render_video("a paper boat drifting down a rainy street", 4)

    assert video.data.startswith(WEBM_MAGIC)
    assert (video.content_type, video.extension) == ("video/webm", "webm")
    with av.open(io.BytesIO(video.data), mode="r") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "vp8"
        frames = list(container.decode(stream))
    assert len(frames) == demo_outputs.VIDEO_FRAMES
    assert {(frame.width, frame.height) for frame in frames} == {(video.width, video.height)}
    assert video.duration_ms == 2000
    # The circles move: the clip is not one frame repeated.
    assert bytes(frames[0].planes[0]) != bytes(frames[-1].planes[0])


def test_text_is_a_few_sentences_from_the_prompt() -> None:
    prompt = "the history of the analytical engine in 100 words"
    text = demo_outputs.render_text(prompt, 9)

    assert text.startswith(f"On {prompt}.")
    assert text.count(". ") >= 3
    assert len(text.encode("utf-8")) <= demo_outputs.MAX_TEXT_BYTES
    assert render("text", prompt, 9).text == text
    assert render("text", prompt, 9).preview is None


@pytest.mark.parametrize("kind", ["image", "video", "audio", "text"])
def test_the_same_prompt_and_seed_give_the_same_bytes(kind: str) -> None:
    first, again = render(kind, PROMPT, 11, count=2), render(kind, PROMPT, 11, count=2)
    assert first == again


def test_another_seed_gives_another_picture() -> None:
    assert demo_outputs.render_image(PROMPT, 1).data != demo_outputs.render_image(PROMPT, 2).data


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="podcast"):
        render("podcast", PROMPT, 1)


def test_a_report_names_only_what_the_kind_has() -> None:
    audio = MediaFile(b"RIFF....", "audio/wav", "wav", duration_ms=2000)
    assert audio.report("http://127.0.0.1:1/x.wav") == {
        "uri": "http://127.0.0.1:1/x.wav",
        "contentType": "audio/wav",
        "bytes": 8,
        "durationMs": 2000,
    }


# The loopback server


def test_the_server_answers_a_stored_output_and_404_otherwise_and_closes_on_stop() -> None:
    server = OutputServer().start()
    try:
        image = demo_outputs.render_image(PROMPT, 1)
        url = server.publish("uid-1", "gen-1", 0, image)
        assert url == f"http://127.0.0.1:{server.port}/outputs/uid-1/gen-1/0.png"

        status, headers, body = fetch(url)
        assert status == 200
        assert headers["Content-Type"] == "image/png"
        assert headers["Access-Control-Allow-Origin"] == "*"
        assert body == image.data

        missing = f"{server.base_url}/outputs/uid-1/gen-1/1.png"
        for unknown in (missing, f"{server.base_url}/", f"{server.base_url}/../etc/passwd"):
            status, headers, _ = fetch(unknown)
            assert status == 404
            assert headers["Access-Control-Allow-Origin"] == "*"
        assert port_is_open(server.port)
    finally:
        server.stop()
    assert not port_is_open(server.port)
    server.stop()  # a second stop is harmless


def test_the_server_answers_byte_ranges_as_players_ask() -> None:
    video, _ = demo_outputs.render_video("a paper boat drifting down a rainy street", 1)
    size = len(video.data)
    with OutputServer() as server:
        url = server.publish("u", "g", 0, video)

        status, headers, body = fetch(url, {"Range": "bytes=0-99"})
        assert (status, body) == (206, video.data[:100])
        assert headers["Content-Range"] == f"bytes 0-99/{size}"
        assert headers["Content-Type"] == "video/webm"

        status, _, body = fetch(url, {"Range": "bytes=-10"})
        assert (status, body) == (206, video.data[-10:])

        status, headers, _ = fetch(url, {"Range": f"bytes={size}-"})
        assert status == 416
        assert headers["Content-Range"] == f"bytes */{size}"


def test_the_server_keeps_only_the_most_recent_outputs() -> None:
    files = [MediaFile(bytes([index]) * 100, "image/png", "png") for index in range(3)]
    with OutputServer(capacity=2) as server:
        urls = [server.publish("u", f"g{index}", 0, media) for index, media in enumerate(files)]
        assert len(server) == 2
        assert fetch(urls[0])[0] == 404
        assert [fetch(url)[2] for url in urls[1:]] == [files[1].data, files[2].data]

    with OutputServer(max_bytes=250) as server:
        urls = [server.publish("u", f"g{index}", 0, media) for index, media in enumerate(files)]
        assert len(server) == 2
        assert fetch(urls[0])[0] == 404


def test_ids_cannot_add_path_segments() -> None:
    path = demo_outputs.output_path("a/b", "../c", 0, "png")
    assert path == "/outputs/a%2Fb/..%2Fc/0.png"


# The worker in the demo traffic


class RecordingBackend(CallableClient):
    """Answers updateGenerationStatus as a backend would, recording every call;
    ``takes_outputs=False`` refuses the fields as one that predates them does."""

    def __init__(self, *, takes_outputs: bool) -> None:
        super().__init__("http://127.0.0.1:9")
        self.takes_outputs = takes_outputs
        self.calls: list[dict[str, Any]] = []

    def call(self, name: str, data: Any, *, id_token: str | None = None) -> Any:
        assert name == "updateGenerationStatus"
        self.calls.append(data)
        unknown = [field for field in ("outputs", "preview") if field in data]
        if unknown and not self.takes_outputs:
            problems = [
                {"field": field, "message": "Extra inputs are not permitted"} for field in unknown
            ]
            raise CallableError(
                400,
                "INVALID_ARGUMENT",
                "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                {"errors": problems},
            )
        return {"generationId": data["generationId"], "status": data["status"]}


WORKER = AppUser("worker-uid", "worker@example.com", "Render Worker", "token")
OWNER = AppUser("owner-uid", "owner@example.com", "Ada Lovelace", "token")


def pending(generation_id: str, kind: str, batch_size: int = 1) -> demo_traffic._Pending:
    prompt = demo_traffic.PROMPTS[kind][0]
    return demo_traffic._Pending(
        generation_id, OWNER, "completed", 0.0, 3.0, kind, prompt, batch_size, 42
    )


def test_completed_generations_carry_outputs_served_by_the_worker() -> None:
    backend = RecordingBackend(takes_outputs=True)
    with OutputServer() as server:
        worker = demo_traffic._Worker(WORKER, server)
        for item in (pending("g-img", "image", 4), pending("g-vid", "video")):
            demo_traffic._settle(backend, item, worker, random.Random(1), now=3.0)
        demo_traffic._settle(backend, pending("g-txt", "text"), worker, random.Random(1), 3.0)

        images, video, text = backend.calls
        assert len(images["outputs"]) == 4
        for output in [*images["outputs"], *video["outputs"]]:
            status, headers, body = fetch(output["uri"])
            assert status == 200
            assert headers["Content-Type"] == output["contentType"]
            assert len(body) == output["bytes"]
            assert output["uri"].startswith(f"http://127.0.0.1:{server.port}/outputs/owner-uid/")
    assert video["outputs"][0]["contentType"] == "video/webm"
    assert set(video["outputs"][0]) == {
        "uri",
        "contentType",
        "bytes",
        "width",
        "height",
        "durationMs",
    }
    for update in (images, video):
        opened_png(base64.b64decode(update["preview"], validate=True))
    assert text["outputs"] == [
        {
            "text": demo_outputs.render_text(demo_traffic.PROMPTS["text"][0], 42),
            "contentType": "text/plain",
        }
    ]
    assert "preview" not in text


def test_an_older_backend_gets_its_completions_without_outputs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = RecordingBackend(takes_outputs=False)
    caplog.set_level(logging.INFO, logger="demo")
    with OutputServer() as server:
        worker = demo_traffic._Worker(WORKER, server)
        for generation_id in ("g-1", "g-2"):
            item = pending(generation_id, "audio")
            demo_traffic._settle(backend, item, worker, random.Random(1), now=3.0)

    refused, retried, later = backend.calls
    assert {"outputs", "preview"} <= set(refused)
    assert retried == {"generationId": "g-1", "status": "completed", "durationMs": 3000}
    assert later == {"generationId": "g-2", "status": "completed", "durationMs": 3000}
    assert worker.sends_outputs is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "refused the outputs" in warnings[0].getMessage()
    assert sum("completed" in r.getMessage() for r in caplog.records) == 2


def test_other_refusals_are_not_taken_for_a_missing_outputs_field() -> None:
    permission = CallableError(403, "PERMISSION_DENIED", "outputs are for workers", None)
    generation = CallableError(
        400, "INVALID_ARGUMENT", "generationId: bad", {"errors": [{"field": "generationId"}]}
    )
    nested = CallableError(
        400, "INVALID_ARGUMENT", "bad uri", {"errors": [{"field": "outputs.0.uri"}]}
    )
    assert not demo_traffic._refuses_outputs(permission)
    assert not demo_traffic._refuses_outputs(generation)
    assert demo_traffic._refuses_outputs(nested)
