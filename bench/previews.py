"""How long the preview sanitiser takes on a photo-like 1024 x 1024 PNG, what it
produces, and what a completed generation's preview costs a feed listener.

    .venv/bin/python -m bench.previews [--runs 15] [--side 1024]

The input is made in memory: smooth colour gradients with grain on about 3% of
the pixels, which keeps the PNG under the 512 KiB input bound while giving the
encoder more than flat colour to work with. One untimed run first (Pillow loads
its codecs), then ``--runs`` timed calls of ``sanitise_preview`` in this
process. Prints the input size, the median and range of the timings, and the
output: WebP bytes, its size in pixels and the BlurHash.

Then, on a standalone Firestore emulator, the real use cases start an image
generation (batch of 4) and complete it with four ``gs://`` outputs and that
preview, and a text generation completed with 2 KB of text. Each feed
document is read back and encoded as the protobuf ``Document`` a listener's
change carries (``encode_dict``, then ``ByteSize``): as it is stored (the
preview's placeholder, the output count, the text excerpt), as it was before
generations had outputs (without those fields), and as it would be with the
preview image inline in the feed document (the design this one avoids). The
ratios are over the document before outputs.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.types import Document
from PIL import Image

from generations_live.adapters.generations import GenerationStore
from generations_live.domain.bounds import MAX_PREVIEW_INPUT_BYTES
from generations_live.domain.models import TrackGenerationRequest, UpdateGenerationStatusRequest
from generations_live.domain.outputs import OUTPUTS_PREFIX
from generations_live.domain.previews import (
    MAX_PREVIEW_BYTES,
    Preview,
    sanitise_preview,
)
from generations_live.domain.settings import OutputPolicy
from generations_live.services import tracking
from harness.callers import member
from harness.emulators import firestore_emulator
from harness.history import unlimited_credits

DEFAULT_RUNS = 15
DEFAULT_SIDE = 1024
SEED = 7
# The share of pixels that carry grain (out of 256): about 3%.
GRAIN_THRESHOLD = 8


def photo_like_png(side: int) -> bytes:
    """A side x side PNG of gradients with sparse grain (deterministic)."""
    size = (side, side)
    across = Image.linear_gradient("L").resize(size, Image.Resampling.BICUBIC)
    down = across.transpose(Image.Transpose.ROTATE_90)
    radial = Image.radial_gradient("L").resize(size, Image.Resampling.BICUBIC)
    smooth = Image.merge("RGB", (across, down, radial))
    rng = random.Random(SEED)
    grain = Image.frombytes("RGB", size, rng.randbytes(side * side * 3))
    grainy = Image.blend(smooth, grain, 0.25)
    sparse = Image.frombytes("L", size, rng.randbytes(side * side))
    mask = sparse.point(lambda value: 255 if value < GRAIN_THRESHOLD else 0)
    out = io.BytesIO()
    Image.composite(grainy, smooth, mask).save(out, format="PNG")
    return out.getvalue()


def time_sanitise(data: bytes, runs: int) -> tuple[list[float], Preview]:
    """Milliseconds of each timed call, after one untimed call, and the last preview."""
    preview = sanitise_preview(data)
    samples: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        preview = sanitise_preview(data)
        samples.append((time.perf_counter() - started) * 1000)
    return samples, preview


# The fields a feed document gained with outputs.
OUTPUT_FIELDS = ("preview", "outputCount", "textExcerpt")
BUCKET = "bench-outputs"
CREATOR = member("bench-creator", {"name": "Bench Creator"})
WORKER = member("bench-worker", {"worker": True})


def wire_bytes(path: str, fields: dict[str, Any]) -> int:
    """Bytes of the protobuf Document a listener receives for these fields."""
    document = Document(name=path, fields=_helpers.encode_dict(fields))
    size: int = Document.pb(document).ByteSize()
    return size


def completed_feed_document(
    store: GenerationStore,
    request: dict[str, Any],
    outputs: list[dict[str, Any]],
    preview: str | None,
) -> tuple[str, dict[str, Any]]:
    """Start a generation and complete it with ``outputs``: its feed document's path and fields."""
    now = datetime.now(UTC)
    started = tracking.track_generation(
        store, CREATOR, TrackGenerationRequest.model_validate(request), unlimited_credits(), now
    )
    generation_id = started["generationId"]
    objects = [
        {**output, "uri": output["uri"].format(uid=CREATOR.uid, id=generation_id)}
        if "uri" in output
        else output
        for output in outputs
    ]
    report = {"generationId": generation_id, "status": "completed", "outputs": objects}
    if preview is not None:
        report["preview"] = preview
    tracking.update_generation_status(
        store,
        WORKER,
        UpdateGenerationStatusRequest.model_validate(report),
        now,
        output_policy=OutputPolicy(bucket=BUCKET),
    )
    snapshot = store.public_ref(generation_id).get()
    return snapshot.reference._document_path, snapshot.to_dict() or {}


def feed_change_bytes(png: bytes, webp: bytes) -> list[str]:
    """What one completed generation's feed change weighs, in each design (lines to print)."""
    with tempfile.TemporaryDirectory() as workdir:
        log = Path(workdir) / "firestore.log"
        with firestore_emulator(rules=None, log=log) as emulator:
            os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.address
            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
            store = GenerationStore(
                firestore.Client(project=emulator.project, credentials=credentials)
            )
            image = completed_feed_document(
                store,
                {
                    "type": "image",
                    "prompt": "a lighthouse in a storm, oil painting",
                    "batchSize": 4,
                },
                [
                    {
                        "uri": f"gs://{BUCKET}/{OUTPUTS_PREFIX}{{uid}}/{{id}}/{n}.png",
                        "contentType": "image/png",
                        "bytes": 1_500_000,
                        "width": 1024,
                        "height": 1024,
                    }
                    for n in range(4)
                ],
                base64.b64encode(png).decode(),
            )
            text = completed_feed_document(
                store,
                {"type": "text", "prompt": "the history of the analytical engine in 300 words"},
                [{"text": "The analytical engine was designed " * 60, "contentType": "text/plain"}],
                None,
            )
    lines = []
    for kind, (path, fields) in (("image", image), ("text", text)):
        before = wire_bytes(path, {k: v for k, v in fields.items() if k not in OUTPUT_FIELDS})
        stored = wire_bytes(path, fields)
        lines.append(
            f"feed change, completed {kind} generation: {before} bytes before outputs, "
            f"{stored} bytes as stored (x{stored / before:.2f})"
        )
        if kind == "image":
            for what, image_bytes in (
                ("this preview", webp),
                ("a preview at the size bound", bytes(MAX_PREVIEW_BYTES)),
            ):
                inline = wire_bytes(path, {**fields, "previewImage": image_bytes})
                lines.append(
                    f"feed change, completed {kind} generation with {what} inline: {inline} "
                    f"bytes (x{inline / before:.2f}; as stored is {stored / inline:.3f} of it)"
                )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.previews", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=DEFAULT_RUNS,
        help=f"timed calls (default {DEFAULT_RUNS})",
    )
    parser.add_argument(
        "--side",
        type=int,
        default=DEFAULT_SIDE,
        help=f"width and height of the input PNG (default {DEFAULT_SIDE})",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.side < 1:
        parser.error("--runs and --side must be at least 1")
    data = photo_like_png(args.side)
    if len(data) > MAX_PREVIEW_INPUT_BYTES:
        parser.error(f"a {args.side} px input is {len(data)} bytes, over the input bound")
    samples, preview = time_sanitise(data, args.runs)
    print(f"input: {args.side}x{args.side} PNG, {len(data)} bytes")
    print(
        f"sanitise_preview, {args.runs} run(s): median {statistics.median(samples):.1f} ms"
        f"  ({min(samples):.1f} to {max(samples):.1f} ms)"
    )
    print(
        f"output: {preview.width}x{preview.height} WebP, {len(preview.webp)} bytes,"
        f" blurhash {preview.blurhash}"
    )
    for line in feed_change_bytes(data, preview.webp):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
