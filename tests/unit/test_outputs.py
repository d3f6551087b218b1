"""The rules for a worker's output references and what they add to the documents."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from generations_live.domain import outputs
from generations_live.domain.bounds import (
    MAX_OUTPUT_TEXT_BYTES,
    MAX_PREVIEW_BASE64_LENGTH,
    MAX_PREVIEW_INPUT_BYTES,
)
from generations_live.domain.errors import InvalidArgument
from generations_live.domain.lifecycle import GenerationType, Visibility
from generations_live.domain.models import OutputReport, UpdateGenerationStatusRequest
from generations_live.domain.settings import OutputPolicy

BUCKET = "demo-project.appspot.com"
OWNER = "owner-uid"
GENERATION = "gen-1"
PREFIX = f"gs://{BUCKET}/generations/{OWNER}/{GENERATION}/"
POLICY = OutputPolicy(bucket=BUCKET, https_hosts=frozenset({"cdn.example.com"}))
EMULATOR_POLICY = OutputPolicy(bucket=BUCKET, allow_loopback_http=True)


def report(**fields: Any) -> OutputReport:
    return OutputReport.model_validate({"contentType": "image/png", **fields})


def check(
    *reports: OutputReport,
    generation_type: GenerationType = GenerationType.IMAGE,
    batch_size: int = 4,
    policy: OutputPolicy = POLICY,
) -> list[dict[str, Any]]:
    return outputs.check_outputs(
        reports,
        generation_type=generation_type,
        batch_size=batch_size,
        owner_id=OWNER,
        generation_id=GENERATION,
        policy=policy,
    )


def refused_field(*reports: OutputReport, **kwargs: Any) -> str:
    with pytest.raises(InvalidArgument) as refusal:
        check(*reports, **kwargs)
    assert refusal.value.details is not None
    field: str = refusal.value.details["errors"][0]["field"]
    return field


def test_an_object_under_the_generations_own_prefix_is_stored_as_reported() -> None:
    stored = check(report(uri=PREFIX + "0.png", bytes=1234, width=1024, height=768))
    assert stored == [
        {
            "uri": PREFIX + "0.png",
            "contentType": "image/png",
            "bytes": 1234,
            "width": 1024,
            "height": 768,
        }
    ]


@pytest.mark.parametrize(
    "uri",
    [
        f"gs://other-bucket/generations/{OWNER}/{GENERATION}/0.png",  # another bucket
        f"gs://{BUCKET}/generations/someone-else/{GENERATION}/0.png",  # another user
        f"gs://{BUCKET}/generations/{OWNER}/gen-2/0.png",  # another generation
        f"gs://{BUCKET}/generations/{OWNER}/{GENERATION}/",  # the prefix itself
        f"gs://{BUCKET}/generations/{OWNER}/{GENERATION}/../gen-2/0.png",  # climbing out
        f"gs://{BUCKET}/generations/{OWNER}/{GENERATION}//0.png",  # an empty segment
        f"gs://{BUCKET}/elsewhere/0.png",
        f"gs://{BUCKET}/generations/{OWNER}/{GENERATION}/0.png?generation=1",
        f"gs://{BUCKET}/generations/{OWNER}/{GENERATION}/0 1.png",  # whitespace
        "https://evil.example.com/0.png",  # a host nobody allowed
        "https://cdn.example.com.evil.com/0.png",
        "https://user:pass@cdn.example.com/0.png",  # credentials
        "http://cdn.example.com/0.png",  # plain http off the emulators
        "http://127.0.0.1:8000/0.png",  # loopback off the emulators
        "file:///etc/passwd",
        "data:image/png;base64,AAAA",
        "javascript:alert(1)",
        "ftp://cdn.example.com/0.png",
        "https://cdn.example.com:99999/0.png",  # a port out of range
    ],
)
def test_a_uri_outside_the_rules_is_refused_naming_it(uri: str) -> None:
    assert refused_field(report(uri=uri)) == "outputs.0.uri"


def test_https_on_an_allowed_host_passes_in_any_case() -> None:
    assert check(report(uri="https://CDN.example.com/a/b.png"))[0]["uri"].startswith("https://")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.8.9.10"])
def test_loopback_http_passes_on_the_emulators_only(host: str) -> None:
    uri = f"http://{host}:8123/generations/{OWNER}/{GENERATION}/0.png"
    assert check(report(uri=uri), policy=EMULATOR_POLICY)[0]["uri"] == uri
    assert refused_field(report(uri=uri)) == "outputs.0.uri"


@pytest.mark.parametrize("host", ["10.0.0.1", "169.254.169.254", "example.com", "0x7f000001"])
def test_http_to_anything_but_loopback_is_refused_on_the_emulators_too(host: str) -> None:
    uri = f"http://{host}/0.png"
    assert refused_field(report(uri=uri), policy=EMULATOR_POLICY) == "outputs.0.uri"


@pytest.mark.parametrize(
    ("generation_type", "content_type"),
    [
        (GenerationType.IMAGE, "image/svg+xml"),  # can carry script
        (GenerationType.IMAGE, "video/mp4"),
        (GenerationType.VIDEO, "image/png"),
        (GenerationType.AUDIO, "text/plain"),
        (GenerationType.TEXT, "text/html"),
    ],
)
def test_a_content_type_foreign_to_the_generation_type_is_refused(
    generation_type: GenerationType, content_type: str
) -> None:
    output = report(uri=PREFIX + "0", contentType=content_type)
    assert refused_field(output, generation_type=generation_type) == "outputs.0.contentType"


def test_more_outputs_than_the_batch_are_refused() -> None:
    many = [report(uri=PREFIX + f"{index}.png") for index in range(3)]
    assert refused_field(*many, batch_size=2) == "outputs"
    assert len(check(*many, batch_size=3)) == 3


def test_the_refusal_names_the_bad_item_of_several() -> None:
    good, bad = report(uri=PREFIX + "0.png"), report(uri="https://evil.example.com/1.png")
    assert refused_field(good, bad) == "outputs.1.uri"


def test_text_is_inline_for_text_generations_only() -> None:
    text = report(text="Once upon a time", contentType="text/plain")
    assert check(text, generation_type=GenerationType.TEXT) == [
        {"text": "Once upon a time", "contentType": "text/plain"}
    ]
    image_text = report(text="no", contentType="image/png")
    assert refused_field(image_text) == "outputs.0.text"


def test_dimensions_and_durations_belong_to_the_types_that_have_them() -> None:
    audio = report(uri=PREFIX + "0.wav", contentType="audio/wav", width=10, height=10)
    assert refused_field(audio, generation_type=GenerationType.AUDIO) == "outputs.0.width"
    image = report(uri=PREFIX + "0.png", durationMs=1000)
    assert refused_field(image) == "outputs.0.durationMs"
    video = report(uri=PREFIX + "0.mp4", contentType="video/mp4", width=1, height=1, durationMs=9)
    assert check(video, generation_type=GenerationType.VIDEO)[0]["durationMs"] == 9


@pytest.mark.parametrize(
    "fields",
    [
        {"contentType": "image/png"},  # neither uri nor text
        {"contentType": "text/plain", "uri": PREFIX + "0", "text": "both"},
        {"contentType": "image/png", "uri": "x" * 2049},
        {"contentType": "text/plain", "text": "é" * (MAX_OUTPUT_TEXT_BYTES // 2 + 1)},
        {"contentType": "image/png", "uri": PREFIX + "0", "bytes": -1},
        {"contentType": "image/png", "uri": PREFIX + "0", "width": 0},
        {"contentType": "image/png", "uri": PREFIX + "0", "width": "1024"},
        {"contentType": "IMAGE/PNG", "uri": PREFIX + "0"},
        {"contentType": "image/png", "uri": PREFIX + "0", "colour": "red"},
        {"contentType": "image/png", "uri": "\ud800"},
    ],
)
def test_malformed_outputs_fail_validation(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        OutputReport.model_validate(fields)


def test_outputs_and_preview_come_only_with_a_completion() -> None:
    output = {"uri": PREFIX + "0.png", "contentType": "image/png"}
    for status in ("failed", "canceled", "processing"):
        with pytest.raises(ValidationError, match="only allowed with status 'completed'"):
            UpdateGenerationStatusRequest.model_validate(
                {"generationId": GENERATION, "status": status, "outputs": [output]}
            )
    with pytest.raises(ValidationError, match="a preview comes with the outputs"):
        UpdateGenerationStatusRequest.model_validate(
            {"generationId": GENERATION, "status": "completed", "preview": "AAAA"}
        )
    with pytest.raises(ValidationError):
        UpdateGenerationStatusRequest.model_validate(
            {"generationId": GENERATION, "status": "completed", "outputs": []}
        )
    with pytest.raises(ValidationError):
        UpdateGenerationStatusRequest.model_validate(
            {
                "generationId": GENERATION,
                "status": "completed",
                "outputs": [output],
                "preview": "A" * (MAX_PREVIEW_BASE64_LENGTH + 1),
            }
        )


def png(width: int = 640, height: int = 480) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 20)).save(out, format="PNG")
    return out.getvalue()


def test_a_preview_is_decoded_and_sanitised() -> None:
    preview = outputs.decode_preview(base64.b64encode(png()).decode())
    assert (preview.width, preview.height) == (320, 240)
    assert preview.webp.startswith(b"RIFF")
    assert preview.blurhash


@pytest.mark.parametrize(
    "encoded",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"\xfb\xff" * 30).decode(),  # the URL-safe alphabet
        base64.b64encode(b"just some text, not an image").decode(),
        base64.b64encode(b"\x00" * (MAX_PREVIEW_INPUT_BYTES + 1)).decode(),
    ],
)
def test_a_bad_preview_is_refused_naming_it(encoded: str) -> None:
    with pytest.raises(InvalidArgument) as refusal:
        outputs.decode_preview(encoded)
    assert refusal.value.details == {
        "errors": [{"field": "preview", "message": str(refusal.value)}]
    }


def test_a_private_generation_says_nothing_of_its_output_in_public() -> None:
    completion = outputs.Completion(
        outputs=[{"text": "hello", "contentType": "text/plain"}],
        preview=outputs.decode_preview(base64.b64encode(png()).decode()),
        text_excerpt="hello",
    )
    public, private = completion.summary(Visibility.PRIVATE)
    assert public == {"outputCount": None, "preview": None, "textExcerpt": None}
    assert private["outputCount"] == 1
    assert private["textExcerpt"] == "hello"
    assert set(private["preview"]) == {"blurhash", "width", "height"}
    public, _ = completion.summary(Visibility.PUBLIC)
    assert public == private


def test_the_excerpt_is_the_start_of_the_first_text_cut_on_a_word() -> None:
    words = " ".join(["lorem"] * 100)
    excerpt = outputs.text_excerpt([{"uri": "x"}, {"text": words}, {"text": "second"}])
    assert excerpt is not None
    assert len(excerpt) <= outputs.TEXT_EXCERPT_LENGTH
    assert excerpt.endswith("lorem…")
    assert outputs.text_excerpt([{"text": "  short\n\ntext "}]) == "short text"
    assert outputs.text_excerpt([{"uri": "x"}]) is None


def test_parse_gs_uri_splits_bucket_and_object() -> None:
    assert outputs.parse_gs_uri(PREFIX + "a b/0.png") == (
        BUCKET,
        f"generations/{OWNER}/{GENERATION}/a b/0.png",
    )
