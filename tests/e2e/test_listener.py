"""The README's realtime listener, ``web/live-feed.js``, run by Node with the
Firebase JS SDK against the emulators (``listener_probe.mjs`` prints each
snapshot as a JSON line). The feed must update itself, with no re-query, when
a generation starts and when a worker finishes it; keep private prompts out;
honour the filters; and refuse signed-out readers. It listens to the view's
snapshot document, which the ``maintainFeedSnapshots`` trigger keeps (the
Functions emulator runs it); the query listener, the simple alternative,
is checked too.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from PIL import Image

from harness.clients import AppUser, CallableClient
from harness.emulators import PROJECT_ID, ROOT, EmulatorSuite

PROBE = Path(__file__).with_name("listener_probe.mjs")
# Generous on purpose: Node starts, loads the SDK and opens a gRPC stream on a
# 2-core machine that is also running every emulator. Speed is measured, not asserted.
DEADLINE_S = 30.0
# The project's default bucket, as the Functions emulator describes it.
BUCKET = f"{PROJECT_ID}.appspot.com"
PUBLIC_FIELDS = {
    "id", "userId", "userName", "type", "engine", "prompt", "status", "batchSize",
    "createdAt", "updatedAt", "completedAt", "durationMs", "errorCode", "hidden", "expireAt",
    "preview", "outputCount", "textExcerpt",
}  # fmt: skip
# A snapshot's entry also says whether its prompt was cut.
ENTRY_FIELDS = {*PUBLIC_FIELDS, "promptTruncated"}


@dataclass(frozen=True)
class Snapshot:
    """One ``onChange`` call of the listener, stamped when its line arrived."""

    number: int
    received_at: float
    docs: list[dict[str, Any]]

    @property
    def ids(self) -> list[str]:
        return [doc["id"] for doc in self.docs]

    @property
    def by_id(self) -> dict[str, dict[str, Any]]:
        return {doc["id"]: doc for doc in self.docs}


class ListenerProbe:
    """One Node process running ``watchLiveGenerations``; lines are read by a thread."""

    def __init__(self, command: list[str], stderr_path: Path) -> None:
        self._stderr_path = stderr_path
        with stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(  # noqa: S603 - a fixed command built by the fixture
                command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
            )
        self._lines: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        self.snapshots: list[Snapshot] = []
        self.transcript: list[str] = []

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            self._lines.put((time.monotonic(), line))
        self._lines.put(None)

    def _next(self, deadline: float, what: str) -> tuple[float, dict[str, Any]]:
        try:
            item = self._lines.get(timeout=max(deadline - time.monotonic(), 0.0))
        except queue.Empty:
            pytest.fail(f"no {what} within {DEADLINE_S:.0f} s{self._context()}")
        if item is None:
            self.process.wait(timeout=10)
            pytest.fail(
                f"the probe exited ({self.process.returncode}) before {what}{self._context()}"
            )
        received_at, raw = item
        self.transcript.append(raw.decode())
        message: dict[str, Any] = json.loads(raw)
        return received_at, message

    def wait_for(
        self, predicate: Callable[[Snapshot], bool], what: str, timeout_s: float = DEADLINE_S
    ) -> Snapshot:
        """The first new snapshot that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout_s
        while True:
            received_at, message = self._next(deadline, what)
            if "error" in message:
                pytest.fail(f"the listener failed before {what}: {message}{self._context()}")
            snapshot = Snapshot(len(self.snapshots), received_at, message["docs"])
            self.snapshots.append(snapshot)
            if predicate(snapshot):
                return snapshot

    def first_snapshot(self) -> Snapshot:
        """Wait until the listener is live (its first snapshot has arrived)."""
        return self.wait_for(lambda _: True, "first snapshot")

    def refusal(self) -> tuple[str, int]:
        """The error code the listener was refused with, and the probe's exit status."""
        _, message = self._next(time.monotonic() + DEADLINE_S, "refusal")
        assert "error" in message, f"expected a refusal, got a snapshot: {message}"
        return message["error"], self.process.wait(timeout=DEADLINE_S)

    def close(self) -> None:
        """Close stdin (the probe unsubscribes and exits); kill it by pid if it lingers."""
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _context(self) -> str:
        stderr = self._stderr_path.read_text(errors="replace")[-3000:]
        lines = "".join(self.transcript[-3:])[-3000:]
        return f"\n--- last stdout lines ---\n{lines}--- probe stderr ---\n{stderr}"


class Listeners:
    """Starts probes against the suite and stops every one at teardown."""

    def __init__(self, node: str, suite: EmulatorSuite, workdir: Path) -> None:
        self._node = node
        self._suite = suite
        self._workdir = workdir
        self._probes: list[ListenerProbe] = []

    def open(
        self,
        *,
        type: str | None = None,
        status: str | None = None,
        signed_in: bool = True,
        query: bool = False,
    ) -> ListenerProbe:
        command = [
            self._node,
            str(PROBE),
            "--auth",
            self._suite.auth_host,
            "--firestore",
            self._suite.firestore_host,
            "--project",
            self._suite.project,
            "--timeout-s",
            "300",
        ]
        if type is not None:
            command += ["--type", type]
        if status is not None:
            command += ["--status", status]
        if not signed_in:
            command.append("--signed-out")
        if query:
            command.append("--query")
        stderr_path = self._workdir / f"probe-{len(self._probes)}.stderr"
        probe = ListenerProbe(command, stderr_path)
        self._probes.append(probe)
        return probe

    def close_all(self) -> None:
        for probe in self._probes:
            probe.close()


@pytest.fixture
def listeners(suite: EmulatorSuite, tmp_path: Path) -> Iterator[Listeners]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the listener test runs web/live-feed.js with Node 20+")
    if not (ROOT / "node_modules" / "firebase" / "package.json").is_file():
        pytest.fail("node_modules/firebase is missing: run scripts/setup.sh (npm ci)")
    started = Listeners(node, suite, tmp_path)
    try:
        yield started
    finally:
        started.close_all()


def track(api: CallableClient, user: AppUser, **fields: Any) -> str:
    data = {"type": "image", "prompt": "a lighthouse at dusk", **fields}
    generation_id: str = api.call("trackGeneration", data, id_token=user.id_token)["generationId"]
    return generation_id


def finish(api: CallableClient, worker: AppUser, generation_id: str, status: str) -> None:
    report = {"generationId": generation_id, "status": status, "durationMs": 1500}
    api.call("updateGenerationStatus", report, id_token=worker.id_token)


def test_the_feed_updates_itself_when_a_generation_starts_and_completes(
    api: CallableClient,
    user: AppUser,
    worker: AppUser,
    listeners: Listeners,
    request: pytest.FixtureRequest,
) -> None:
    feed = listeners.open()
    feed.first_snapshot()

    called = time.monotonic()
    generation_id = api.call(
        "trackGeneration",
        {"type": "video", "prompt": "a lighthouse at dusk", "engine": "klingai"},
        id_token=user.id_token,
    )["generationId"]
    returned = time.monotonic()
    started = feed.wait_for(lambda s: generation_id in s.ids, "the started generation")
    # Kept on the test report (junit user properties, and the captured output
    # that -rP shows); informative only. It can be negative: the write commits
    # before the callable's answer is back.
    delays = {
        "listener_delay_after_call_returned_ms": (started.received_at - returned) * 1000,
        "listener_delay_after_call_made_ms": (started.received_at - called) * 1000,
    }
    assert started.ids[0] == generation_id, "newest first"
    entry = started.by_id[generation_id]
    assert set(entry) == ENTRY_FIELDS
    assert entry["userId"] == user.uid
    assert (entry["userName"], entry["type"], entry["engine"]) == (
        "Grace Hopper",
        "video",
        "klingai",
    )
    assert (entry["status"], entry["prompt"]) == ("processing", "a lighthouse at dusk")
    assert isinstance(entry["createdAt"], str), "a Timestamp, resolved by the server"
    assert entry["completedAt"] is None

    finish(api, worker, generation_id, "completed")
    reported = time.monotonic()
    done = feed.wait_for(
        lambda s: s.by_id.get(generation_id, {}).get("status") == "completed",
        "the completed status",
    )
    delays["status_delay_after_call_returned_ms"] = (done.received_at - reported) * 1000
    for name, value in delays.items():
        request.node.user_properties.append((name, round(value, 1)))
        print(f"{name}: {value:.1f}")
    assert done.number > started.number
    completed = done.by_id[generation_id]
    assert (completed["durationMs"], completed["createdAt"]) == (1500, entry["createdAt"])
    assert isinstance(completed["completedAt"], str)


def test_a_completion_brings_the_preview_placeholder_not_the_image(
    api: CallableClient, user: AppUser, worker: AppUser, listeners: Listeners
) -> None:
    feed = listeners.open()
    feed.first_snapshot()
    generation_id = track(api, user, batchSize=2)
    feed.wait_for(lambda s: generation_id in s.ids, "the started generation")
    image = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 30, 90)).save(image, format="PNG")
    prefix = f"gs://{BUCKET}/generations/{user.uid}/{generation_id}"
    report = {
        "generationId": generation_id,
        "status": "completed",
        "outputs": [{"uri": f"{prefix}/{n}.png", "contentType": "image/png"} for n in range(2)],
        "preview": base64.b64encode(image.getvalue()).decode(),
    }
    api.call("updateGenerationStatus", report, id_token=worker.id_token)
    done = feed.wait_for(
        lambda s: s.by_id.get(generation_id, {}).get("status") == "completed", "the completion"
    )
    entry = done.by_id[generation_id]
    assert set(entry) == ENTRY_FIELDS
    assert entry["outputCount"] == 2
    assert (entry["preview"]["width"], entry["preview"]["height"]) == (320, 240)
    assert len(entry["preview"]["blurhash"]) >= 6
    # The listener gets the placeholder; the image stays in its own document.
    assert len(json.dumps(entry)) < 1024


def test_a_private_generation_arrives_without_its_prompt(
    api: CallableClient, user: AppUser, listeners: Listeners
) -> None:
    feed = listeners.open()
    feed.first_snapshot()
    generation_id = track(api, user, prompt="my secret plan", visibility="private")
    snapshot = feed.wait_for(lambda s: generation_id in s.ids, "the private generation")
    entry = snapshot.by_id[generation_id]
    assert set(entry) == ENTRY_FIELDS
    assert entry["prompt"] is None
    assert entry["userName"] == "Grace Hopper"
    assert "my secret plan" not in "".join(feed.transcript)
    assert user.email not in "".join(feed.transcript)


def test_filters_deliver_only_matching_generations(
    api: CallableClient, user: AppUser, worker: AppUser, listeners: Listeners
) -> None:
    audio = listeners.open(type="audio")
    failed = listeners.open(status="failed")
    audio.first_snapshot()
    failed.first_snapshot()

    video_id = track(api, user, type="video")
    audio_id = track(api, user, type="audio", prompt="rain on a tin roof")
    # The listener delivers changes in commit order, so once the later audio
    # generation has arrived, the earlier video one would have come with it.
    audio.wait_for(lambda s: audio_id in s.ids, "the audio generation")
    finish(api, worker, video_id, "failed")
    failed.wait_for(lambda s: video_id in s.ids, "the failed generation")

    audio_docs = [doc for snapshot in audio.snapshots for doc in snapshot.docs]
    assert {doc["type"] for doc in audio_docs} == {"audio"}
    assert video_id not in {doc["id"] for doc in audio_docs}
    failed_docs = [doc for snapshot in failed.snapshots for doc in snapshot.docs]
    assert {doc["status"] for doc in failed_docs} == {"failed"}
    assert audio_id not in {doc["id"] for doc in failed_docs}


def test_a_signed_out_listener_is_refused(listeners: Listeners) -> None:
    probe = listeners.open(signed_in=False)
    code, exit_status = probe.refusal()
    assert code == "permission-denied"
    assert exit_status != 0


def test_the_query_listener_alternative_sees_the_same_changes(
    api: CallableClient, user: AppUser, worker: AppUser, listeners: Listeners
) -> None:
    feed = listeners.open(query=True)
    feed.first_snapshot()
    generation_id = track(api, user, type="text", prompt="a haiku about frost")
    started = feed.wait_for(lambda s: generation_id in s.ids, "the started generation")
    assert set(started.by_id[generation_id]) == PUBLIC_FIELDS
    finish(api, worker, generation_id, "completed")
    feed.wait_for(
        lambda s: s.by_id.get(generation_id, {}).get("status") == "completed", "the completion"
    )


def test_a_long_prompt_is_cut_in_the_snapshot_and_whole_in_the_feed(
    api: CallableClient, user: AppUser, listeners: Listeners, suite: EmulatorSuite
) -> None:
    feed = listeners.open()
    feed.first_snapshot()
    prompt = ("a very long prompt about lighthouses " * 100).strip()[:3900]
    generation_id = track(api, user, prompt=prompt)
    entry = feed.wait_for(lambda s: generation_id in s.ids, "the generation").by_id[generation_id]
    assert entry["promptTruncated"] is True
    assert len(entry["prompt"]) == 500
    assert prompt.startswith(entry["prompt"][:-1])
    stored = suite.firestore_client().collection("live_generations").document(generation_id).get()
    assert stored.get("prompt") == prompt
