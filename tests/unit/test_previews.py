"""The preview sanitiser against hostile and ordinary images, all made here in memory."""

from __future__ import annotations

import io
import random
import struct
import time
import zlib

import blurhash  # type: ignore[import-untyped]  # the encoder's own decoder, untyped
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, GifImagePlugin, Image, ImageFile, PngImagePlugin

from generations_live.domain import previews
from generations_live.domain.bounds import MAX_PREVIEW_INPUT_BYTES
from generations_live.domain.errors import InvalidArgument
from generations_live.domain.previews import (
    MAX_PREVIEW_BYTES,
    MAX_PREVIEW_SIDE,
    Preview,
    sanitise_preview,
)

BLURHASH_ALPHABET = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
)
WEBP_METADATA_CHUNKS = (b"EXIF", b"ICCP", b"XMP ")


def encoded(image: Image.Image, image_format: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=image_format, **params)
    return out.getvalue()


def photo_like(width: int, height: int, *, seed: int = 7) -> Image.Image:
    """Smooth gradients with grain on about 3% of the pixels: a 1024 x 1024 PNG of it
    stays under the input bound, and it compresses more like a photo than flat colour."""
    across = Image.linear_gradient("L").resize((width, height), Image.Resampling.BICUBIC)
    down = across.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height), Image.Resampling.BICUBIC)
    smooth = Image.merge("RGB", (across, down, radial))
    rng = random.Random(seed)
    grainy = Image.blend(smooth, noise(width, height, seed=seed), 0.25)
    sparse = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    mask = sparse.point(lambda value: 255 if value < 8 else 0)
    return Image.composite(grainy, smooth, mask)


def noise(width: int, height: int, *, seed: int = 11) -> Image.Image:
    rng = random.Random(seed)
    return Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))


def png_declaring(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header is rewritten to declare ``width`` x ``height``."""
    data = encoded(Image.new("RGB", (1, 1), "red"), "PNG")
    header = struct.pack(">II", width, height) + data[24:29]
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return data[:8] + ihdr + data[33:]


def reopened(preview: Preview) -> Image.Image:
    image = Image.open(io.BytesIO(preview.webp))
    image.load()
    return image


def assert_refused(data: bytes, words: str) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as refused:
        sanitise_preview(data)
    error = refused.value
    assert words in error.message
    assert error.details == {"errors": [{"field": "preview", "message": error.message}]}
    return error


def assert_no_metadata(preview: Preview) -> None:
    image = reopened(preview)
    assert image.format == "WEBP"
    assert not image.getexif()
    for key in ("exif", "icc_profile", "xmp", "comment"):
        assert key not in image.info
    assert preview.webp[:4] == b"RIFF"
    assert preview.webp[8:12] == b"WEBP"
    for chunk in WEBP_METADATA_CHUNKS:
        assert chunk not in preview.webp


# -- the good path -------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(1024, 1024), (1000, 600), (480, 1280)])
def test_a_large_png_becomes_a_small_webp_with_its_aspect_ratio(width: int, height: int) -> None:
    preview = sanitise_preview(encoded(photo_like(width, height), "PNG"))

    assert max(preview.width, preview.height) == MAX_PREVIEW_SIDE
    assert len(preview.webp) <= MAX_PREVIEW_BYTES
    assert abs(preview.width - preview.height * width / height) <= 1
    image = reopened(preview)
    assert image.size == (preview.width, preview.height)
    assert image.mode == "RGB"
    assert_no_metadata(preview)


def test_the_blurhash_decodes_with_four_by_three_components() -> None:
    preview = sanitise_preview(encoded(photo_like(1024, 768), "PNG"))

    assert set(preview.blurhash) <= set(BLURHASH_ALPHABET)
    assert len(preview.blurhash) == 4 + 2 * 4 * 3
    assert blurhash.components(preview.blurhash) == (4, 3)
    pixels = blurhash.decode(preview.blurhash, 8, 6)
    assert len(pixels) == 6
    assert all(len(row) == 8 for row in pixels)


def test_a_portrait_blurhash_turns_its_components() -> None:
    preview = sanitise_preview(encoded(photo_like(300, 900), "PNG"))
    assert blurhash.components(preview.blurhash) == (3, 4)


def test_the_blurhash_carries_the_average_colour() -> None:
    preview = sanitise_preview(encoded(Image.new("RGB", (64, 64), (200, 30, 40)), "PNG"))
    # Characters 2-5 hold the average (DC) colour as a base-83 number of 0xRRGGBB.
    average = 0
    for character in preview.blurhash[2:6]:
        average = average * 83 + BLURHASH_ALPHABET.index(character)
    assert average.to_bytes(3, "big") == bytes((200, 30, 40))


def test_a_small_image_is_not_enlarged() -> None:
    preview = sanitise_preview(encoded(photo_like(120, 90), "JPEG"))
    assert (preview.width, preview.height) == (120, 90)


def test_a_jpeg_with_orientation_six_comes_out_upright() -> None:
    # Stored sideways: the left half (red) is the top of the scene.
    stored = Image.new("RGB", (400, 200), "blue")
    stored.paste((255, 0, 0), (0, 0, 200, 200))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6

    preview = sanitise_preview(encoded(stored, "JPEG", exif=exif, quality=95))

    assert (preview.width, preview.height) == (160, 320)
    image = reopened(preview).convert("RGB")
    top = image.getpixel((80, 40))
    bottom = image.getpixel((80, 280))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 200 > top[2]
    assert bottom[2] > 200 > bottom[0]
    assert_no_metadata(preview)


def test_a_noisy_image_still_fits_the_budget() -> None:
    data = encoded(noise(1024, 1024), "JPEG", quality=40)
    assert len(data) <= MAX_PREVIEW_INPUT_BYTES

    preview = sanitise_preview(data)

    assert len(preview.webp) <= MAX_PREVIEW_BYTES
    assert max(preview.width, preview.height) <= MAX_PREVIEW_SIDE


def test_pure_noise_at_full_size_is_shrunk_until_it_fits() -> None:
    # Noise the size of the preview itself does not fit 24 KiB at any quality.
    preview = sanitise_preview(encoded(noise(320, 320), "PNG"))

    assert len(preview.webp) <= MAX_PREVIEW_BYTES
    assert preview.width == preview.height < MAX_PREVIEW_SIDE


def test_the_encoding_loop_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(previews, "MAX_PREVIEW_BYTES", 20)
    assert_refused(encoded(photo_like(200, 200), "PNG"), "cannot be encoded in 20 bytes")


def test_transparency_is_kept() -> None:
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    image.paste((0, 128, 255, 255), (50, 25, 150, 75))

    preview = sanitise_preview(encoded(image, "PNG"))

    out = reopened(preview)
    assert out.mode == "RGBA"
    corner = out.getpixel((2, 2))
    centre = out.getpixel((100, 50))
    assert isinstance(corner, tuple)
    assert isinstance(centre, tuple)
    assert corner[3] == 0
    assert centre[3] == 255


@pytest.mark.parametrize(
    ("image", "image_format"),
    [
        (Image.new("P", (64, 64), 3), "GIF"),
        (Image.new("1", (64, 64), 1), "PNG"),
        (Image.new("L", (64, 64), 90), "PNG"),
        (Image.new("LA", (64, 64), (90, 255)), "PNG"),
        (Image.new("RGB", (64, 64), (10, 20, 30)), "WEBP"),
        (Image.new("CMYK", (64, 64), (0, 255, 255, 0)), "JPEG"),
    ],
)
def test_every_accepted_format_and_mode_decodes(image: Image.Image, image_format: str) -> None:
    preview = sanitise_preview(encoded(image, image_format))
    assert (preview.width, preview.height) == (64, 64)
    assert_no_metadata(preview)


def test_a_sixteen_bit_grey_png_is_scaled_not_clipped() -> None:
    preview = sanitise_preview(encoded(Image.new("I;16", (32, 32), 32768), "PNG"))
    grey = reopened(preview).convert("L").getpixel((16, 16))
    assert isinstance(grey, int)
    assert abs(grey - 128) <= 3


# -- metadata ------------------------------------------------------------------


def test_a_jpeg_with_gps_exif_icc_xmp_and_a_comment_loses_them_all() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Camera Maker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.0)
    icc = b"not-really-an-icc-profile" * 8
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">secret-location</x:xmpmeta>'
    data = encoded(
        photo_like(640, 480), "JPEG", exif=exif, icc_profile=icc, xmp=xmp, comment=b"home"
    )
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert source.info["icc_profile"] == icc
    assert "xmp" in source.info
    assert source.info["comment"] == b"home"

    preview = sanitise_preview(data)

    assert_no_metadata(preview)
    for secret in (b"Camera Maker", b"secret-location", b"not-really-an-icc", b"home"):
        assert secret not in preview.webp


def test_a_png_with_text_chunks_loses_them() -> None:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "made at home")
    text.add_text("Author", "someone", zip=True)
    text.add_itxt("Description", "a private note", lang="en", tkey="Description")

    preview = sanitise_preview(encoded(photo_like(300, 200), "PNG", pnginfo=text))

    assert_no_metadata(preview)
    assert not {"Comment", "Author", "Description"} & set(reopened(preview).info)
    for secret in (b"made at home", b"someone", b"a private note"):
        assert secret not in preview.webp


def test_a_polyglot_keeps_nothing_but_the_pixels() -> None:
    payload = b"PK\x03\x04<script>alert(1)</script>" * 20
    data = encoded(photo_like(200, 200), "PNG") + payload

    preview = sanitise_preview(data)

    assert b"<script>" not in preview.webp
    assert b"PK\x03\x04" not in preview.webp
    assert_no_metadata(preview)


# -- hostile inputs ------------------------------------------------------------


def test_a_png_declaring_thirty_thousand_squared_pixels_is_refused() -> None:
    assert_refused(png_declaring(30_000, 30_000), "has more than")


def test_a_png_declaring_more_than_our_limit_but_less_than_pillows_is_refused() -> None:
    error = assert_refused(png_declaring(5000, 5000), "has more than")
    assert "5000x5000" in error.message


def test_the_pixel_limit_is_not_set_process_wide() -> None:
    pillows_limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(InvalidArgument):
        sanitise_preview(png_declaring(30_000, 30_000))
    sanitise_preview(encoded(photo_like(64, 64), "PNG"))
    assert pillows_limit == Image.MAX_IMAGE_PIXELS
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_real_flat_png_bomb_is_refused_before_decoding() -> None:
    # 5000 x 5000 of one colour compresses to about 25 KiB: small input, 25 megapixels.
    data = encoded(Image.new("L", (5000, 5000), 0), "PNG")
    assert len(data) < MAX_PREVIEW_INPUT_BYTES
    started = time.perf_counter()
    assert_refused(data, "has more than")
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP", "GIF"])
def test_a_truncated_image_is_refused(image_format: str) -> None:
    data = encoded(photo_like(400, 300), image_format)
    assert_refused(data[: len(data) // 2], "truncated or corrupt")


def test_an_svg_document_is_refused() -> None:
    svg = (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
        b'<script>alert(1)</script><rect width="100" height="100" fill="red"/></svg>'
    )
    assert_refused(svg, "is not a PNG, JPEG, WebP or GIF image")


@pytest.mark.parametrize("image_format", ["TIFF", "BMP", "ICO"])
def test_other_image_formats_are_refused(image_format: str) -> None:
    data = encoded(Image.new("RGB", (16, 16), "red"), image_format)
    assert_refused(data, "is not a PNG, JPEG, WebP or GIF image")


def test_random_bytes_are_refused() -> None:
    assert_refused(random.Random(3).randbytes(4096), "is not a PNG, JPEG, WebP or GIF image")


def test_empty_input_is_refused() -> None:
    assert_refused(b"", "is empty")


def test_input_over_512_kib_is_refused_before_decoding() -> None:
    data = encoded(photo_like(64, 64), "PNG")
    oversized = data + b"\0" * (MAX_PREVIEW_INPUT_BYTES + 1 - len(data))
    assert_refused(oversized, f"is larger than {MAX_PREVIEW_INPUT_BYTES} bytes")
    sanitise_preview(oversized[:MAX_PREVIEW_INPUT_BYTES])


@pytest.mark.parametrize(("width", "height"), [(1, 50_000), (50_000, 1), (330, 10)])
def test_an_absurd_aspect_ratio_is_refused(width: int, height: int) -> None:
    data = encoded(Image.new("L", (width, height), 128), "PNG")
    assert_refused(data, f"({width}x{height})")


def test_a_long_waveform_strip_is_accepted() -> None:
    preview = sanitise_preview(encoded(photo_like(2000, 80), "PNG"))
    assert (preview.width, preview.height) == (320, 13)


def test_a_gif_with_a_thousand_frames_gives_its_first_quickly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frames = [Image.new("P", (48, 48), index % 200 + 1) for index in range(1000)]
    for frame in frames:
        frame.putpalette([value for colour in range(256) for value in (colour, 0, 255 - colour)])
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 1000
    assert len(data) <= MAX_PREVIEW_INPUT_BYTES

    seeks: list[int] = []
    original_seek = GifImagePlugin.GifImageFile._seek

    def counting_seek(self: GifImagePlugin.GifImageFile, frame: int, *args: bool) -> None:
        seeks.append(frame)
        original_seek(self, frame, *args)

    monkeypatch.setattr(GifImagePlugin.GifImageFile, "_seek", counting_seek)
    started = time.perf_counter()
    preview = sanitise_preview(data)
    elapsed = time.perf_counter() - started

    assert seeks == [0]
    assert elapsed < 1.0
    pixel = reopened(preview).convert("RGB").getpixel((24, 24))
    assert isinstance(pixel, tuple)
    assert abs(pixel[0] - 1) <= 6
    assert abs(pixel[2] - 254) <= 6


def test_an_animated_webp_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (64, 64), colour) for colour in ("red", "lime", "blue")]
    data = encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)

    pixel = reopened(sanitise_preview(data)).convert("RGB").getpixel((32, 32))

    assert isinstance(pixel, tuple)
    assert pixel[0] > 240
    assert pixel[1] < 15


def test_a_corrupt_exif_block_is_ignored_with_the_rest_of_the_metadata() -> None:
    data = encoded(photo_like(64, 64), "JPEG", exif=b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xff")

    with pytest.warns(UserWarning, match="Corrupt EXIF data"):
        preview = sanitise_preview(data)

    assert (preview.width, preview.height) == (64, 64)
    assert_no_metadata(preview)


def exif_with_orientation_and_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    return exif


SEEDS = {
    "PNG": encoded(photo_like(48, 32), "PNG", exif=exif_with_orientation_and_gps()),
    "JPEG": encoded(photo_like(48, 32), "JPEG", exif=exif_with_orientation_and_gps()),
    "WEBP": encoded(photo_like(48, 32), "WEBP"),
    "GIF": encoded(photo_like(48, 32).convert("P"), "GIF"),
}


# Pillow warns about damaged metadata it skips (that metadata is dropped anyway).
@pytest.mark.filterwarnings(r"ignore::UserWarning:PIL\..*")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(sorted(SEEDS)),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=8),
    cut=st.integers(min_value=0),
)
def test_damaged_images_give_a_preview_or_a_refusal(
    seed: str, edits: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(SEEDS[seed])
    for position, value in edits:
        data[position % len(data)] = value
    damaged = bytes(data[: len(data) - cut % 64])
    try:
        preview = sanitise_preview(damaged)
    except InvalidArgument:
        return
    assert len(preview.webp) <= MAX_PREVIEW_BYTES
    assert max(preview.width, preview.height) <= MAX_PREVIEW_SIDE
    assert_no_metadata(preview)
