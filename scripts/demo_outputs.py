"""Real outputs for the demo worker, and a loopback server the dashboard loads them from.

The ``render_*`` functions are pure: a prompt and a seed in, the same bytes out
every time, so a demo run with ``--seed`` is reproducible and tests compare bytes.
Pictures are drawn with Pillow, videos are WebM (VP8) encoded by the libvpx that
PyAV's wheel bundles, sounds are WAV written by the standard library.

``OutputServer`` plays the part of the bucket: it serves what the worker made at
``http://127.0.0.1:PORT/outputs/{uid}/{generationId}/{index}.{ext}``, a URI the
backend accepts from a worker only while it runs on the emulators.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import logging
import math
import random
import re
import struct
import threading
import wave
from collections import OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final
from urllib.parse import quote, urlsplit

import av
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger("demo.outputs")

IMAGE_SIZE: Final = (768, 512)
# Small and short: a feed card shows it at thumbnail size, and a 2 s VP8 clip
# of this size encodes in well under a tenth of a second on one core.
VIDEO_SIZE: Final = (320, 180)
VIDEO_FPS: Final = 12
VIDEO_FRAMES: Final = 24
VIDEO_DURATION_MS: Final = VIDEO_FRAMES * 1000 // VIDEO_FPS
# Enough bits that the caption stays legible; the clip is still tens of KiB.
VIDEO_BIT_RATE: Final = 400_000
AUDIO_RATE: Final = 22_050
AUDIO_DURATION_MS: Final = 2_000
# Wide and short, like a player's scrubber: 5:1 stays within the backend's
# aspect-ratio bound for previews.
WAVEFORM_SIZE: Final = (640, 128)
# The largest preview the backend accepts, decoded.
MAX_PREVIEW_BYTES: Final = 512 * 1024
# The backend's bound on inline text, in UTF-8 bytes.
MAX_TEXT_BYTES: Final = 16 * 1024

# What the server keeps: the most recent outputs, within both bounds, so a
# demo left running for a day holds no more than this in memory.
DEFAULT_CAPACITY: Final = 500
DEFAULT_MAX_BYTES: Final = 256 * 1024 * 1024
PATH_PREFIX: Final = "/outputs/"

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class MediaFile:
    """One output file and what a worker reports about it."""

    data: bytes
    content_type: str
    extension: str
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None

    def report(self, uri: str) -> dict[str, Any]:
        """The output as ``updateGenerationStatus`` takes it, served at ``uri``."""
        fields: dict[str, Any] = {
            "uri": uri,
            "contentType": self.content_type,
            "bytes": len(self.data),
            "width": self.width,
            "height": self.height,
            "durationMs": self.duration_ms,
        }
        return {name: value for name, value in fields.items() if value is not None}


@dataclass(frozen=True)
class Rendered:
    """What one generation produced: files to serve or inline text, and a preview."""

    files: tuple[MediaFile, ...] = ()
    text: str | None = None
    preview: bytes | None = None


def render(kind: str, prompt: str, seed: int, count: int = 1) -> Rendered:
    """The outputs of a generation of ``kind``: ``count`` images, or one of the others."""
    if kind == "image":
        images = tuple(render_image(prompt, seed + index) for index in range(max(count, 1)))
        return Rendered(files=images, preview=images[0].data)
    if kind == "video":
        video, poster = render_video(prompt, seed)
        return Rendered(files=(video,), preview=poster)
    if kind == "audio":
        audio, waveform = render_audio(prompt, seed)
        return Rendered(files=(audio,), preview=waveform)
    if kind == "text":
        return Rendered(text=render_text(prompt, seed))
    raise ValueError(f"no demo output for generation type {kind!r}")


def render_image(prompt: str, seed: int) -> MediaFile:
    """A PNG: a gradient and soft shapes in the prompt's colours, captioned with it."""
    width, height = IMAGE_SIZE
    rng = _rng(prompt, seed)
    light, dark, accent = _palette(prompt)
    picture = _gradient(IMAGE_SIZE, light, dark, rng.random()).convert("RGBA")
    shapes = Image.new("RGBA", IMAGE_SIZE, (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    for _ in range(rng.randint(5, 9)):
        radius = rng.uniform(0.06, 0.28) * height
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        box = (x - radius, y - radius, x + radius, y + radius)
        fill = (*rng.choice((light, dark, accent)), rng.randint(70, 160))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=fill)
        else:
            draw.rounded_rectangle(box, radius=radius / 3, fill=fill)
    picture = Image.alpha_composite(picture, shapes)
    _caption(picture, prompt, font_size=30)
    return MediaFile(_png(picture), "image/png", "png", width=width, height=height)


def render_video(prompt: str, seed: int) -> tuple[MediaFile, bytes]:
    """A 2 s WebM (VP8) of a few circles orbiting over the prompt's colours, and
    its first frame as a PNG poster (what a player shows before it plays)."""
    frames = [_video_frame(prompt, seed, index) for index in range(VIDEO_FRAMES)]
    buffer = io.BytesIO()
    # bitexact keeps the muxer from writing random segment ids, so the same
    # prompt and seed give the same file.
    with av.open(buffer, mode="w", format="webm", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libvpx", rate=VIDEO_FPS)
        stream.width, stream.height = VIDEO_SIZE
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = VIDEO_BIT_RATE
        # One thread: libvpx's output may depend on how work is split.
        stream.thread_count = 1
        for index, picture in enumerate(frames):
            # PyAV declares this one converter without types; it takes a PIL image.
            frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    width, height = VIDEO_SIZE
    video = MediaFile(
        buffer.getvalue(),
        "video/webm",
        "webm",
        width=width,
        height=height,
        duration_ms=VIDEO_DURATION_MS,
    )
    return video, _png(frames[0])


def render_audio(prompt: str, seed: int) -> tuple[MediaFile, bytes]:
    """A 2 s mono WAV of four plucked notes rooted at a pitch taken from the
    prompt, and a PNG of its waveform."""
    samples = _melody(prompt, seed)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(AUDIO_RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    audio = MediaFile(buffer.getvalue(), "audio/wav", "wav", duration_ms=AUDIO_DURATION_MS)
    return audio, _waveform(samples, prompt)


def render_text(prompt: str, seed: int) -> str:
    """A few sentences about the prompt, built from its own words."""
    rng = _rng(prompt, seed)
    words = re.findall(r"[A-Za-z][A-Za-z'-]{3,}", prompt) or ["this"]
    subject = prompt.strip().rstrip(".") or "this"
    sentences = [
        "{Word} comes first: everything else here is arranged around it.",
        "Think of {word} as a thread that runs through the whole piece.",
        "Where {word} meets {other}, the idea starts to take shape.",
        "A careful reader will notice how {word} changes by the end.",
        "Nothing about {other} is accidental; it answers {word}.",
        "The quiet part is {word}, and it carries more than it seems.",
        "Set {other} beside {word} and the contrast does the work.",
    ]
    chosen = rng.sample(sentences, 3)
    body = []
    for template in chosen:
        word, other = rng.choice(words).lower(), rng.choice(words).lower()
        body.append(template.format(Word=word.capitalize(), word=word, other=other))
    closing = rng.choice(("That is the short of it.", "More next time.", "Enough for one sitting."))
    text = f"On {subject}. " + " ".join(body) + " " + closing
    # Prompts are short, so this never cuts; it keeps the bound true for any prompt.
    return text.encode("utf-8")[:MAX_TEXT_BYTES].decode("utf-8", "ignore")


class OutputServer:
    """Serves the worker's outputs on 127.0.0.1 at a free port, from memory.

    Keeps the most recent ``capacity`` files (and at most ``max_bytes`` of
    them), forgetting the oldest: a page that asks for a forgotten one gets 404,
    as it would for a deleted object. Answers single byte ranges, which players
    use to seek. Use as a context manager, or call ``start`` and ``stop``.
    """

    def __init__(
        self, *, capacity: int = DEFAULT_CAPACITY, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if capacity < 1 or max_bytes < 1:
            raise ValueError("capacity and max_bytes must be positive")
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._files: OrderedDict[str, MediaFile] = OrderedDict()
        self._stored_bytes = 0
        self._lock = threading.Lock()
        # Port 0: the system picks a free one, so two demos (or a test next to
        # a demo) never collide.
        self._http = ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_OutputHandler, self._lookup)
        )
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="demo-outputs", daemon=True
        )
        self._started = False
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OutputServer:
        self._thread.start()
        self._started = True
        return self

    def stop(self) -> None:
        """Stop serving and close the port; safe to call more than once."""
        if self._stopped:
            return
        self._stopped = True
        # shutdown() waits for serve_forever to return, so only call it when that runs.
        if self._started:
            self._http.shutdown()
            self._thread.join()
        self._http.server_close()

    def __enter__(self) -> OutputServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def publish(self, uid: str, generation_id: str, index: int, media: MediaFile) -> str:
        """Serve ``media`` as output ``index`` of a generation; returns its URL."""
        path = output_path(uid, generation_id, index, media.extension)
        with self._lock:
            previous = self._files.pop(path, None)
            if previous is not None:
                self._stored_bytes -= len(previous.data)
            self._files[path] = media
            self._stored_bytes += len(media.data)
            while len(self._files) > 1 and (
                len(self._files) > self._capacity or self._stored_bytes > self._max_bytes
            ):
                _, oldest = self._files.popitem(last=False)
                self._stored_bytes -= len(oldest.data)
        return self.base_url + path

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)

    def _lookup(self, path: str) -> MediaFile | None:
        with self._lock:
            return self._files.get(path)


def output_path(uid: str, generation_id: str, index: int, extension: str) -> str:
    """The URL path of an output; ids are quoted whole, so none adds a segment."""
    return f"{PATH_PREFIX}{quote(uid, safe='')}/{quote(generation_id, safe='')}/{index}.{extension}"


class _OutputHandler(BaseHTTPRequestHandler):
    server_version = "DemoOutputs/1"

    def __init__(self, lookup: Any, *args: Any, **kwargs: Any) -> None:
        # Set before the base class runs: it handles the request in __init__.
        self._lookup = lookup
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def do_OPTIONS(self) -> None:
        self.send_response(HTTPStatus.NO_CONTENT)
        self._cors_headers()
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Range")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        # Players fetch in many ranges; one line each would drown the demo's log.
        log.debug("%s %s", self.address_string(), format % args)

    def _answer(self, *, with_body: bool) -> None:
        media: MediaFile | None = self._lookup(urlsplit(self.path).path)
        if media is None:
            self._plain(HTTPStatus.NOT_FOUND, b"no such output\n", with_body=with_body)
            return
        size = len(media.data)
        try:
            wanted = _byte_range(self.headers.get("Range"), size)
        except _RangeNotSatisfiable:
            self._plain(
                HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
                b"range not satisfiable\n",
                with_body=with_body,
                extra={"Content-Range": f"bytes */{size}"},
            )
            return
        start, end = (0, size - 1) if wanted is None else wanted
        self.send_response(HTTPStatus.OK if wanted is None else HTTPStatus.PARTIAL_CONTENT)
        self._cors_headers()
        self.send_header("Content-Type", media.content_type)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if wanted is not None:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        # A path names one output of one generation, and its bytes never change.
        self.send_header("Cache-Control", "public, max-age=3600, immutable")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if with_body:
            self._write(media.data[start : end + 1])

    def _plain(
        self,
        status: HTTPStatus,
        body: bytes,
        *,
        with_body: bool,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self._cors_headers()
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self._write(body)

    def _cors_headers(self) -> None:
        # The dashboard is served from another port, so another origin.
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cross-Origin-Resource-Policy", "cross-origin")

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            # Players drop a connection as soon as they have the range they need.
            log.debug("%s went away mid-answer", self.address_string())


class _RangeNotSatisfiable(Exception):
    """The Range asks for bytes past the end of the file."""


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` of a single ``bytes=`` range, or None to send the whole
    file (no header, or one this server does not answer in part)."""
    if header is None:
        return None
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if match is None or match.group(1) == match.group(2) == "":
        # Multiple ranges or another unit: RFC 9110 lets a server ignore Range.
        return None
    first, last = match.groups()
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _RangeNotSatisfiable
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or end < start:
        raise _RangeNotSatisfiable
    return start, end


def _rng(prompt: str, seed: int) -> random.Random:
    # A string seed is hashed with SHA-512, so it is the same in every process
    # (unlike hash(), which is salted per process).
    return random.Random(f"{seed}\x00{prompt}")


def _palette(prompt: str) -> tuple[Colour, Colour, Colour]:
    """A light, a dark and an accent colour, the same for every output of a prompt."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    turn = 0.2 + digest[2] / 255 * 0.3

    def colour(h: float, s: float, v: float) -> Colour:
        r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
        return round(r * 255), round(g * 255), round(b * 255)

    return colour(hue, 0.55, 0.95), colour(hue + turn, 0.75, 0.35), colour(hue + 0.5, 0.6, 1.0)


def _gradient(size: tuple[int, int], start: Colour, end: Colour, tilt: float) -> Image.Image:
    """From ``start`` to ``end``, top to bottom turned towards left to right by ``tilt`` (0-1)."""
    down = Image.linear_gradient("L")
    across = down.transpose(Image.Transpose.ROTATE_90)
    mask = Image.blend(down, across, tilt).resize(size, Image.Resampling.BICUBIC)
    return Image.composite(Image.new("RGB", size, end), Image.new("RGB", size, start), mask)


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's own font: no system font to depend on, the same glyphs everywhere.
    return ImageFont.load_default(size=size)


def _caption(picture: Image.Image, text: str, *, font_size: int, max_lines: int = 3) -> None:
    """Write ``text`` on a translucent band along the bottom of ``picture`` (RGBA)."""
    font = _font(font_size)
    width, height = picture.size
    margin = max(font_size // 2, 4)
    lines = _wrap(text, font, width - 2 * margin, max_lines)
    line_height = round(font_size * 1.25)
    band_top = height - len(lines) * line_height - 2 * margin
    band = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(band)
    draw.rectangle((0, band_top, width, height), fill=(0, 0, 0, 130))
    for number, line in enumerate(lines):
        draw.text(
            (margin, band_top + margin + number * line_height),
            line,
            font=font,
            fill=(255, 255, 255, 255),
        )
    picture.alpha_composite(band)


def _wrap(
    text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int, max_lines: int
) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1] + " …"]
    return lines


def _video_frame(prompt: str, seed: int, index: int) -> Image.Image:
    rng = _rng(prompt, seed)
    light, dark, accent = _palette(prompt)
    width, height = VIDEO_SIZE
    phase = index / VIDEO_FRAMES
    # The light drifts across the frame over the clip.
    picture = _gradient(VIDEO_SIZE, light, dark, phase).convert("RGBA")
    draw = ImageDraw.Draw(picture)
    for orbit in range(3):
        speed = rng.choice((1, 2)) * rng.choice((-1, 1))
        angle = 2 * math.pi * (speed * phase + rng.random())
        size = rng.uniform(0.05, 0.12) * height
        x = width / 2 + math.cos(angle) * width * 0.3
        y = height * 0.4 + math.sin(angle) * height * 0.25
        fill = (*(accent if orbit == 0 else light), 220)
        draw.ellipse((x - size, y - size, x + size, y + size), fill=fill)
    _caption(picture, prompt, font_size=14, max_lines=2)
    return picture.convert("RGB")


def _melody(prompt: str, seed: int) -> list[int]:
    """16-bit samples: four notes of the major pentatonic scale over a root
    between A3 and G#5 chosen by the prompt, each plucked and fading."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    root = 220.0 * 2 ** ((digest[3] % 24) / 12)
    rng = _rng(prompt, seed)
    steps = [rng.choice((0, 2, 4, 7, 9, 12)) for _ in range(4)]
    total = AUDIO_RATE * AUDIO_DURATION_MS // 1000
    note_length = total // len(steps)
    attack = AUDIO_RATE // 200  # 5 ms: no click at the start of a note
    samples: list[int] = []
    for step in steps:
        frequency = root * 2 ** (step / 12)
        for n in range(note_length):
            t = n / AUDIO_RATE
            envelope = min(n / attack, 1.0) * math.exp(-3.0 * t)
            # A second harmonic makes it sound like a string, not a test tone.
            wave_value = math.sin(2 * math.pi * frequency * t) + 0.3 * math.sin(
                4 * math.pi * frequency * t
            )
            samples.append(round(0.45 * 32767 * envelope * wave_value / 1.3))
    samples.extend([0] * (total - len(samples)))
    return samples


def _waveform(samples: list[int], prompt: str) -> bytes:
    """A PNG of the samples' peaks, one bar per column, in the prompt's colours."""
    light, dark, accent = _palette(prompt)
    width, height = WAVEFORM_SIZE
    picture = Image.new("RGB", WAVEFORM_SIZE, dark)
    draw = ImageDraw.Draw(picture)
    middle = height / 2
    per_column = max(len(samples) // width, 1)
    # Scaled to the loudest column, as players draw it: quiet audio still shows its shape.
    loudest = max((abs(value) for value in samples), default=0) or 1
    draw.line((0, middle, width, middle), fill=light)
    for x in range(width):
        chunk = samples[x * per_column : (x + 1) * per_column]
        peak = max((abs(value) for value in chunk), default=0) / loudest
        reach = peak * (middle - 6)
        draw.line((x, middle - reach, x, middle + reach), fill=accent)
    return _png(picture)


def _png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.convert("RGB").save(out, format="PNG")
    return out.getvalue()
