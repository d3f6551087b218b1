"""How long the preview sanitiser takes on a photo-like 1024 x 1024 PNG, and what it
produces.

    .venv/bin/python -m bench.previews [--runs 15] [--side 1024]

The input is made in memory: smooth colour gradients with grain on about 3% of
the pixels, which keeps the PNG under the 512 KiB input bound while giving the
encoder more than flat colour to work with. One untimed run first (Pillow loads
its codecs), then ``--runs`` timed calls of ``sanitise_preview`` in this
process. Prints the input size, the median and range of the timings, and the
output: WebP bytes, its size in pixels and the BlurHash. No emulator involved.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time
from collections.abc import Sequence

from PIL import Image

from generations_live.domain.previews import MAX_PREVIEW_INPUT_BYTES, Preview, sanitise_preview

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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
