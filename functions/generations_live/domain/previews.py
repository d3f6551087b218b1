"""Previews: a worker's small image of an output, made safe to store and show.

A worker may send a preview it already has (an image, a video's poster frame, an
audio waveform). Those bytes are untrusted: they may be a decompression bomb, a
truncated or corrupt file, a polyglot, metadata that locates the person who
made the photo, or not an image at all. ``sanitise_preview`` decodes the first
frame of a PNG, JPEG, WebP or GIF within fixed bounds, applies the EXIF
orientation, copies only the pixels into a fresh image (no EXIF, GPS, ICC, XMP
or comments survive, nor any byte of the input) and encodes a small WebP plus
a BlurHash placeholder. Pure: bytes in, bytes out, no I/O.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from typing import Final

# The pure-Python encoder ships no type information; ``_blurhash_of`` is its only caller.
import blurhash  # type: ignore[import-untyped]
from PIL import ExifTags, Image, ImageFile, UnidentifiedImageError

from generations_live.domain.bounds import MAX_PREVIEW_INPUT_BYTES
from generations_live.domain.errors import InvalidArgument

FIELD = "preview"


# What every stored preview is.
PREVIEW_CONTENT_TYPE: Final = "image/webp"

# The longest side of the stored preview: a feed card or a thumbnail, shown at
# up to 160 CSS px on a 2x screen.
MAX_PREVIEW_SIDE: Final = 320

# The largest stored preview, so that it fits inline in a Firestore document
# (1 MiB at most) many times over and a feed page of them loads quickly.
MAX_PREVIEW_BYTES: Final = 24 * 1024

# The most pixels an input may declare. A 512 KiB PNG of flat colour can
# declare hundreds of megapixels (zlib expands about 1000:1), so the declared
# size is checked before any pixel is decoded. 4096 x 4096 is larger than any
# preview needs (a 4K video frame has 8.3 megapixels) and keeps one decoded
# RGBA frame at 64 MiB. Checked here, per call: Pillow's own process-wide
# ``Image.MAX_IMAGE_PIXELS`` (about 89 megapixels) is left alone.
MAX_PREVIEW_INPUT_PIXELS: Final = 4096 * 4096

# The most elongated input accepted, longest side over shortest. Beyond it the
# 320 px preview would be under 10 px thin and show nothing (a 1 x 50000 image
# is refused rather than cropped: a crop would show an arbitrary part of it).
# An audio waveform strip of 2000 x 80 (25:1) still passes.
MAX_PREVIEW_ASPECT_RATIO: Final = 32

# The formats decoded at all; Pillow is asked to try no other decoder, so a
# TIFF, a PSD or an SVG document (Pillow reads no SVG) is refused unread.
ACCEPTED_FORMATS: Final = ("PNG", "JPEG", "WEBP", "GIF")

# WebP qualities tried in turn, then the side is shrunk by SHRINK_FACTOR and
# the qualities tried again. Photos fit at the first quality; only noise-like
# content walks further. The number of encodes is bounded by
# len(WEBP_QUALITIES) x the sides from MAX_PREVIEW_SIDE down to MIN_FIT_SIDE.
WEBP_QUALITIES: Final = (80, 65, 50, 35)
SHRINK_FACTOR: Final = 0.75
MIN_FIT_SIDE: Final = 32

# BlurHash components along the longer and the shorter side: 4 x 3 is the
# usual choice for a placeholder, turned for portrait images.
BLURHASH_COMPONENTS_LONG: Final = 4
BLURHASH_COMPONENTS_SHORT: Final = 3
# BlurHash keeps only the lowest frequencies, so it is computed from a tiny
# copy: the same hash for a fraction of the (pure-Python) work.
BLURHASH_SOURCE_SIDE: Final = 32

# What Pillow's decoders raise on malformed or truncated input (a truncated
# image raises OSError, as ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never set).
_DECODER_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
)

# EXIF orientation value -> the transpose that shows the image upright (as in
# ``PIL.ImageOps.exif_transpose``, applied here to the small image only).
_ORIENTATION_TRANSPOSES: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Modes whose samples may exceed 8 bits (16-bit greyscale PNG): scaled down
# before conversion, which would otherwise clip them to white.
_WIDE_MODES: Final = ("I", "I;16", "I;16B", "I;16L", "I;16N")
_SIXTEEN_TO_EIGHT_BITS: Final = 1 / 257


@dataclass(frozen=True)
class Preview:
    """A sanitised preview: a WebP of at most MAX_PREVIEW_BYTES and its placeholder."""

    webp: bytes
    width: int
    height: int
    blurhash: str

    @property
    def content_type(self) -> str:
        return PREVIEW_CONTENT_TYPE


def sanitise_preview(data: bytes) -> Preview:
    """Decode untrusted image bytes into a small metadata-free WebP and its BlurHash.

    Raises ``InvalidArgument`` naming the ``preview`` field when the bytes are
    empty or too large, not an accepted format, truncated or corrupt, declare
    too many pixels or too elongated a shape, or cannot be made small enough.
    Animated images give their first frame; no other frame is decoded.
    """
    if not data:
        raise _refusal("is empty")
    if len(data) > MAX_PREVIEW_INPUT_BYTES:
        raise _refusal(f"is larger than {MAX_PREVIEW_INPUT_BYTES} bytes")
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
            _check_dimensions(image.width, image.height)
            upright = _decode_small_upright(image)
    except UnidentifiedImageError as exc:
        raise _refusal("is not a PNG, JPEG, WebP or GIF image") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own process-wide check, far above ours; when warnings are
        # errors it fires first.
        raise _refusal(f"has more than {MAX_PREVIEW_INPUT_PIXELS} pixels") from exc
    except _DECODER_ERRORS as exc:
        raise _refusal("is truncated or corrupt") from exc
    fresh = _pixels_only(upright)
    webp, width, height = _encode_within_budget(fresh)
    return Preview(webp=webp, width=width, height=height, blurhash=_blurhash_of(fresh))


def _check_dimensions(width: int, height: int) -> None:
    """Refuse a declared size outside the pixel and aspect-ratio bounds."""
    if width < 1 or height < 1:
        raise _refusal("has no pixels")
    if width * height > MAX_PREVIEW_INPUT_PIXELS:
        raise _refusal(f"has more than {MAX_PREVIEW_INPUT_PIXELS} pixels ({width}x{height})")
    if max(width, height) > MAX_PREVIEW_ASPECT_RATIO * min(width, height):
        raise _refusal(
            f"is more than {MAX_PREVIEW_ASPECT_RATIO} times as long as it is thin"
            f" ({width}x{height})"
        )


def _blurhash_of(image: Image.Image) -> str:
    """The BlurHash of an RGB or RGBA image (transparency shown over white)."""
    source = image.copy()
    source.thumbnail((BLURHASH_SOURCE_SIDE, BLURHASH_SOURCE_SIDE), Image.Resampling.BOX)
    if source.mode == "RGBA":
        opaque = Image.new("RGB", source.size, "white")
        opaque.paste(source, mask=source.getchannel("A"))
        source = opaque
    width, height = source.size
    raw = source.tobytes()
    rows = [
        [raw[(y * width + x) * 3 : (y * width + x) * 3 + 3] for x in range(width)]
        for y in range(height)
    ]
    if width >= height:
        across, down = BLURHASH_COMPONENTS_LONG, BLURHASH_COMPONENTS_SHORT
    else:
        across, down = BLURHASH_COMPONENTS_SHORT, BLURHASH_COMPONENTS_LONG
    return str(blurhash.encode(rows, components_x=across, components_y=down))


def _decode_small_upright(image: ImageFile.ImageFile) -> Image.Image:
    """The first frame, shrunk to fit MAX_PREVIEW_SIDE, in RGB or RGBA, upright."""
    # Read before any conversion: converted copies do not keep the parsed EXIF.
    orientation = image.getexif().get(ExifTags.Base.Orientation)
    mode = "RGBA" if image.has_transparency_data else "RGB"
    box = (MAX_PREVIEW_SIDE, MAX_PREVIEW_SIDE)
    small: Image.Image
    if image.mode in {"RGB", "RGBA", "L", "LA", "CMYK"} and "transparency" not in image.info:
        # Shrink first: a JPEG is then decoded at a reduced scale (Pillow's
        # draft mode) and nothing full-size is converted.
        image.thumbnail(box)
        small = image.convert(mode)
    else:
        # Palette and bilevel images resize only by nearest neighbour, a
        # transparent colour key would blur into its neighbours, and 16-bit
        # samples need scaling: convert at full size (bounded above), then shrink.
        if image.mode in _WIDE_MODES:
            wide = image.convert("I").point(lambda value: value * _SIXTEEN_TO_EIGHT_BITS)
            small = wide.convert("L").convert(mode)
        else:
            small = image.convert(mode)
        small.thumbnail(box)
    transpose = _ORIENTATION_TRANSPOSES.get(orientation) if isinstance(orientation, int) else None
    return small.transpose(transpose) if transpose is not None else small


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image holding nothing of ``image`` but its pixel values."""
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _encode_within_budget(image: Image.Image) -> tuple[bytes, int, int]:
    """WebP bytes of at most MAX_PREVIEW_BYTES, lowering quality, then size, until they fit."""
    candidate = image
    while True:
        for quality in WEBP_QUALITIES:
            out = io.BytesIO()
            candidate.save(out, format="WEBP", quality=quality)
            if out.tell() <= MAX_PREVIEW_BYTES:
                return out.getvalue(), candidate.width, candidate.height
        longest = round(max(candidate.size) * SHRINK_FACTOR)
        if longest < MIN_FIT_SIDE:
            raise _refusal(f"cannot be encoded in {MAX_PREVIEW_BYTES} bytes")
        candidate = image.copy()
        candidate.thumbnail((longest, longest), Image.Resampling.LANCZOS)


def _refusal(problem: str) -> InvalidArgument:
    message = f"the preview {problem}"
    return InvalidArgument(message, details={"errors": [{"field": FIELD, "message": message}]})
