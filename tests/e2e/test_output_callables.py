"""What a generation produced, end to end: a worker completes it with outputs and
a preview through ``updateGenerationStatus``; clients read the preview's
placeholder in the feed, the preview image under the security rules, and the
outputs through ``getGenerationOutputs``."""

from __future__ import annotations

import base64
import io
import random
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image

from generations_live.domain.bounds import MAX_PREVIEW_INPUT_BYTES, MAX_STATUS_REPORT_BODY_BYTES
from harness.clients import AppUser, CallableClient, CallableError, FirestoreAdminRest
from harness.emulators import PROJECT_ID, EmulatorSuite
from harness.signed_urls import verify_signed_url

# The Functions emulator describes the project's default bucket this way.
BUCKET = f"{PROJECT_ID}.appspot.com"


def track(api: CallableClient, user: AppUser, **fields: Any) -> str:
    data = {"type": "image", "prompt": "a lighthouse at dusk", **fields}
    generation_id: str = api.call("trackGeneration", data, id_token=user.id_token)["generationId"]
    return generation_id


def object_uri(owner: AppUser, generation_id: str, name: str) -> str:
    return f"gs://{BUCKET}/generations/{owner.uid}/{generation_id}/{name}"


def preview_png(width: int = 1024, height: int = 768) -> str:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 200)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def complete(
    api: CallableClient, worker: AppUser, generation_id: str, **fields: Any
) -> dict[str, Any]:
    report = {"generationId": generation_id, "status": "completed", **fields}
    answer: dict[str, Any] = api.call("updateGenerationStatus", report, id_token=worker.id_token)
    return answer


def feed_entry(api: CallableClient, reader: AppUser, generation_id: str) -> dict[str, Any]:
    feed = api.call("getLiveGenerations", {}, id_token=reader.id_token)["generations"]
    (entry,) = [item for item in feed if item["id"] == generation_id]
    return dict(entry)


def read_preview(suite: EmulatorSuite, reader: AppUser, generation_id: str) -> requests.Response:
    """The preview document as a client reads it: the emulator applies the security rules."""
    url = (
        f"{suite.url('firestore')}/v1/projects/{suite.project}/databases/(default)/documents/"
        f"previews/{generation_id}"
    )
    return requests.get(url, headers={"Authorization": f"Bearer {reader.id_token}"}, timeout=30)


def outputs_of(api: CallableClient, reader: AppUser, generation_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = api.call(
        "getGenerationOutputs", {"generationId": generation_id}, id_token=reader.id_token
    )
    return answer


def test_a_worker_completes_with_outputs_and_a_preview_everyone_may_see(
    suite: EmulatorSuite, api: CallableClient, user: AppUser, stranger: AppUser, worker: AppUser
) -> None:
    generation_id = track(api, user, batchSize=2)
    outputs = [
        {
            "uri": object_uri(user, generation_id, f"{index}.png"),
            "contentType": "image/png",
            "bytes": 123_456,
            "width": 1024,
            "height": 768,
        }
        for index in range(2)
    ]
    complete(api, worker, generation_id, outputs=outputs, preview=preview_png())

    entry = feed_entry(api, stranger, generation_id)
    assert entry["status"] == "completed"
    assert entry["outputCount"] == 2
    assert set(entry["preview"]) == {"blurhash", "width", "height"}
    assert (entry["preview"]["width"], entry["preview"]["height"]) == (320, 240)

    for reader in (user, stranger):
        reply = read_preview(suite, reader, generation_id)
        assert reply.status_code == 200, reply.text
        fields = reply.json()["fields"]
        image = base64.b64decode(fields["image"]["bytesValue"])
        assert fields["contentType"]["stringValue"] == "image/webp"
        assert len(image) <= 24 * 1024
        with Image.open(io.BytesIO(image)) as decoded:
            assert (decoded.format, decoded.size) == ("WEBP", (320, 240))

    answer = outputs_of(api, stranger, generation_id)
    assert answer["type"] == "image"
    assert answer["expiresAt"] is not None
    assert [output["bytes"] for output in answer["outputs"]] == [123_456, 123_456]
    for index, output in enumerate(answer["outputs"]):
        assert "uri" not in output
        url = urlsplit(output["url"])
        assert url.netloc == "storage.googleapis.com"
        assert url.path == f"/{BUCKET}/generations/{user.uid}/{generation_id}/{index}.png"
        assert parse_qs(url.query)["X-Goog-Algorithm"] == ["GOOG4-RSA-SHA256"]
        verify_signed_url(output["url"])


def test_a_private_generations_output_is_its_owners_and_the_admins(
    suite: EmulatorSuite,
    api: CallableClient,
    user: AppUser,
    stranger: AppUser,
    worker: AppUser,
    admin: AppUser,
) -> None:
    generation_id = track(api, user, visibility="private", prompt="my secret plan")
    output = {"uri": object_uri(user, generation_id, "0.png"), "contentType": "image/png"}
    complete(api, worker, generation_id, outputs=[output], preview=preview_png())

    entry = feed_entry(api, stranger, generation_id)
    assert (entry["preview"], entry["outputCount"], entry["textExcerpt"]) == (None, None, None)
    assert read_preview(suite, stranger, generation_id).status_code == 403
    with pytest.raises(CallableError) as refused:
        outputs_of(api, stranger, generation_id)
    assert refused.value.code == "permission-denied"
    for reader in (user, admin):
        assert read_preview(suite, reader, generation_id).status_code == 200
        assert len(outputs_of(api, reader, generation_id)["outputs"]) == 1


def test_a_text_generation_shows_an_excerpt_and_its_text(
    api: CallableClient, user: AppUser, stranger: AppUser, worker: AppUser
) -> None:
    generation_id = track(api, user, type="text", prompt="a haiku about compilers")
    text = "Tokens fall like rain\n" + "parse trees grow in silence " * 20
    complete(api, worker, generation_id, outputs=[{"text": text, "contentType": "text/plain"}])
    entry = feed_entry(api, stranger, generation_id)
    assert entry["textExcerpt"].startswith("Tokens fall like rain parse trees")
    assert len(entry["textExcerpt"]) <= 280
    assert entry["preview"] is None
    answer = outputs_of(api, stranger, generation_id)
    assert answer["outputs"] == [{"text": text, "contentType": "text/plain"}]
    assert answer["expiresAt"] is None


def test_loopback_outputs_pass_through_on_the_emulators(
    api: CallableClient, user: AppUser, worker: AppUser
) -> None:
    generation_id = track(api, user, type="audio", prompt="a bell")
    uri = f"http://127.0.0.1:8123/generations/{user.uid}/{generation_id}/0.wav"
    output = {"uri": uri, "contentType": "audio/wav", "durationMs": 2000}
    complete(api, worker, generation_id, outputs=[output])
    assert outputs_of(api, user, generation_id)["outputs"] == [
        {"url": uri, "contentType": "audio/wav", "durationMs": 2000}
    ]


BAD_COMPLETIONS = [
    (
        {
            "outputs": [
                {"uri": "gs://another-bucket/generations/x/y/0.png", "contentType": "image/png"}
            ]
        },
        "outputs.0.uri",
    ),
    (
        {"outputs": [{"uri": "https://evil.example.com/0.png", "contentType": "image/png"}]},
        "outputs.0.uri",
    ),
    (
        {"outputs": [{"uri": "http://169.254.169.254/latest", "contentType": "image/png"}]},
        "outputs.0.uri",
    ),
    ({"outputs": [{"uri": "OWN:0.mp4", "contentType": "video/mp4"}]}, "outputs.0.contentType"),
    ({"outputs": [{"uri": "OWN:0.svg", "contentType": "image/svg+xml"}]}, "outputs.0.contentType"),
    (
        {"outputs": [{"uri": f"OWN:{n}.png", "contentType": "image/png"} for n in range(2)]},
        "outputs",
    ),
    ({"outputs": [{"text": "hello", "contentType": "text/plain"}]}, "outputs.0.contentType"),
    (
        {
            "outputs": [{"uri": "OWN:0.png", "contentType": "image/png"}],
            "preview": "bm90IGFuIGltYWdl",
        },
        "preview",
    ),
    ({"outputs": [{"uri": "OWN:0.png", "contentType": "image/png"}], "preview": "***"}, "preview"),
    (
        {"outputs": [{"uri": "OWN:0.png", "contentType": "image/png", "width": -1}]},
        "outputs.0.width",
    ),
    ({"preview": "AAAA"}, "data"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_COMPLETIONS)
def test_bad_outputs_are_refused_naming_the_field_and_nothing_is_written(
    api: CallableClient,
    user: AppUser,
    worker: AppUser,
    firestore_admin: FirestoreAdminRest,
    fields: dict[str, Any],
    field: str,
) -> None:
    generation_id = track(api, user)
    own = object_uri(user, generation_id, "")
    report = {
        name: [
            {key: v.replace("OWN:", own) if isinstance(v, str) else v for key, v in item.items()}
            for item in value
        ]
        if name == "outputs"
        else value
        for name, value in fields.items()
    }
    before = firestore_admin.written_by_changes()
    with pytest.raises(CallableError) as refused:
        complete(api, worker, generation_id, **report)
    assert refused.value.code == "invalid-argument"
    named = {problem["field"] for problem in refused.value.details["errors"]}
    assert field in named, refused.value.message
    after = firestore_admin.written_by_changes()
    assert {path: doc for path, doc in after.items() if "/request_claims/" not in path} == {
        path: doc for path, doc in before.items() if "/request_claims/" not in path
    }
    assert feed_entry(api, user, generation_id)["status"] == "processing"


def test_moderation_hides_the_preview_and_restoring_brings_it_back(
    suite: EmulatorSuite,
    api: CallableClient,
    user: AppUser,
    stranger: AppUser,
    worker: AppUser,
    admin: AppUser,
) -> None:
    generation_id = track(api, user)
    output = {"uri": object_uri(user, generation_id, "0.png"), "contentType": "image/png"}
    complete(api, worker, generation_id, outputs=[output], preview=preview_png())
    shown = feed_entry(api, stranger, generation_id)["preview"]

    def moderate(action: str) -> None:
        request = {"generationId": generation_id, "action": action, "reason": "review"}
        api.call("moderateGeneration", request, id_token=admin.id_token)

    moderate("hide")
    hidden = feed_entry(api, stranger, generation_id)
    assert (hidden["preview"], hidden["outputCount"], hidden["prompt"]) == (None, None, None)
    assert read_preview(suite, stranger, generation_id).status_code == 403
    assert read_preview(suite, user, generation_id).status_code == 200
    with pytest.raises(CallableError) as refused:
        outputs_of(api, stranger, generation_id)
    assert refused.value.code == "permission-denied"

    moderate("restore")
    assert feed_entry(api, stranger, generation_id)["preview"] == shown
    assert read_preview(suite, stranger, generation_id).status_code == 200
    assert len(outputs_of(api, stranger, generation_id)["outputs"]) == 1


def test_regenerate_links_to_the_callers_own_generation_only(
    api: CallableClient,
    user: AppUser,
    stranger: AppUser,
    firestore_admin: FirestoreAdminRest,
) -> None:
    original = track(api, user)
    again = track(api, user, regeneratedFrom=original, requestId=f"re-{uuid.uuid4().hex}")
    record = firestore_admin.get(f"users/{user.uid}/generations/{again}")
    assert record is not None
    assert record["regeneratedFrom"] == {"stringValue": original}
    assert "regeneratedFrom" not in (firestore_admin.get(f"live_generations/{again}") or {})

    before = firestore_admin.written_by_changes()
    for foreign in (original, "no-such-generation"):
        with pytest.raises(CallableError) as refused:
            track(api, stranger, regeneratedFrom=foreign)
        assert refused.value.code == "not-found"
        assert refused.value.details["field"] == "regeneratedFrom"
    assert firestore_admin.written_by_changes() == before


def test_getting_outputs_of_an_unknown_generation_is_not_found(
    api: CallableClient, user: AppUser
) -> None:
    with pytest.raises(CallableError) as refused:
        outputs_of(api, user, "no-such-generation")
    assert refused.value.code == "not-found"


def noisy_png(max_bytes: int) -> bytes:
    """The largest square of noise (it hardly compresses) whose PNG fits in ``max_bytes``."""
    side = 64
    best = b""
    while True:
        out = io.BytesIO()
        Image.frombytes("RGB", (side, side), random.Random(side).randbytes(side * side * 3)).save(
            out, format="PNG"
        )
        if len(out.getvalue()) > max_bytes:
            return best
        best, side = out.getvalue(), side + 16


def test_a_preview_near_the_input_bound_goes_through_and_one_past_it_is_refused(
    api: CallableClient, user: AppUser, worker: AppUser
) -> None:
    largest = noisy_png(MAX_PREVIEW_INPUT_BYTES)
    assert len(largest) > MAX_PREVIEW_INPUT_BYTES - 64 * 1024
    generation_id = track(api, user)
    output = {"uri": object_uri(user, generation_id, "0.png"), "contentType": "image/png"}
    padded = base64.b64encode(largest + b"\0" * (MAX_PREVIEW_INPUT_BYTES + 1 - len(largest)))
    with pytest.raises(CallableError) as refused:
        complete(api, worker, generation_id, outputs=[output], preview=padded.decode())
    assert refused.value.code == "invalid-argument"
    complete(
        api, worker, generation_id, outputs=[output], preview=base64.b64encode(largest).decode()
    )
    assert feed_entry(api, user, generation_id)["preview"] is not None


def test_a_status_report_over_the_body_bound_is_refused_unread(
    api: CallableClient, user: AppUser, worker: AppUser
) -> None:
    generation_id = track(api, user)
    with pytest.raises(CallableError) as refused:
        complete(api, worker, generation_id, padding="x" * MAX_STATUS_REPORT_BODY_BYTES)
    assert refused.value.code == "invalid-argument"
    assert "request body must be at most" in refused.value.message
