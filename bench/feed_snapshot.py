"""What one viewer of the live feed costs in document reads per hour as the
traffic grows, for the three designs a dashboard can use: a realtime listener
on the feed query (the 50 newest generations), a listener on the feed's
snapshot document (``feed_snapshots/all``, kept by the ``maintainFeedSnapshots``
trigger), and the seed design's poll of the 50 newest every 5 seconds; and how
fresh the snapshot is.

    .venv/bin/python -m bench.feed_snapshot [--rates 0.5,5,10] [--seconds 60]

On the local emulators (Auth, Firestore, Functions, Cloud Tasks): the trigger
and its rebuild tasks run in the Functions emulator as they are deployed. The
traffic is written by the tracking use cases (the code ``trackGeneration``
and ``updateGenerationStatus`` run) from this process straight to the suite's
Firestore, so the emulator's callable
throughput (about 30 calls a second here) does not cap the axis: each
generation starts, and a worker completes it (or fails it, one in four) 1 to
3 seconds later, so each makes two feed changes. At each rate, for
``--seconds``: reads are what Firestore bills each design's viewer (a query
listener a read per document added or changed in its result set; a document
listener a read per change of the document; a poll a read per document
returned), counted after the listeners' first results and scaled to an hour.
Freshness: from the start use case returning to the snapshot listener getting
an entry with that generation. After each rate, every one of the 25 views'
snapshots must equal its query (checked with a deadline), and the snapshot
must have been written at most once per second. Exit 0 when every check holds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.cloud import firestore

from bench.checks import Check
from bench.start_latency import percentile
from generations_live.adapters.collections import FEED_SNAPSHOTS
from generations_live.adapters.feed_snapshots import FeedSnapshotStore
from generations_live.adapters.generations import GenerationStore
from generations_live.domain.feed_views import FeedView
from harness.emulators import EmulatorSuite, emulator_suite
from harness.history import finish_generation, start_generation
from harness.state import unequal_feed_views

# The view every design watches here: all generations, no filter.
EVERYTHING = FeedView()
POLL_EVERY_S = 5.0
HOUR_S = 3600.0
LISTENER_READY_S = 60.0
# How long the snapshots have, once traffic stops, to equal their queries.
SETTLE_DEADLINE_S = 60.0
WARM_UPS = 5
USERS = 40  # the generations' owners, so no one user's documents dominate
# On paper: the designs at this traffic and audience.
PAPER_RATE = 1000
PAPER_VIEWERS = 1000


class QueryViewer:
    """A dashboard listening to the feed query: billed a read per document added to
    or changed in its result set (removals are not billed)."""

    def __init__(self, query: firestore.Query) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.reads = 0
        self._watch: Any = query.on_snapshot(self._on_snapshot)

    def _on_snapshot(self, documents: Any, changes: Any, read_time: Any) -> None:
        del documents, read_time
        billed = sum(1 for change in changes if change.type.name in ("ADDED", "MODIFIED"))
        with self._lock:
            self.reads += billed
        self._ready.set()

    def wait_ready(self) -> None:
        if not self._ready.wait(LISTENER_READY_S):
            raise RuntimeError("the query listener had no first results")

    def stop(self) -> None:
        self._watch.unsubscribe()


class SnapshotViewer:
    """A dashboard listening to one snapshot document: a read per change of it. It
    stamps the first arrival of each generation, for freshness."""

    def __init__(self, reference: firestore.DocumentReference) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.reads = 0
        self.first_seen: dict[str, float] = {}
        self._watch: Any = reference.on_snapshot(self._on_snapshot)

    def _on_snapshot(self, documents: Any, changes: Any, read_time: Any) -> None:
        del changes, read_time
        arrived = time.time()
        with self._lock:
            for document in documents:
                if not document.exists:
                    continue
                self.reads += 1
                for entry in document.get("entries") or []:
                    self.first_seen.setdefault(entry["id"], arrived)
        self._ready.set()

    def wait_ready(self) -> None:
        if not self._ready.wait(LISTENER_READY_S):
            raise RuntimeError("the snapshot listener had no first document")

    def stop(self) -> None:
        self._watch.unsubscribe()


class Poller:
    """The seed design's dashboard: the 50 newest, read again every 5 seconds."""

    def __init__(self, query: firestore.Query) -> None:
        self.reads = 0
        self._query = query
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(POLL_EVERY_S):
            # A query is billed at least one read, even when it finds nothing.
            self.reads += max(1, len(list(self._query.stream())))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class Level:
    """One rate of the traffic axis, as measured."""

    target_rate: float
    seconds: float
    generations: int
    changes: int
    query_reads: int
    snapshot_reads: int
    poll_reads: int
    freshness_ms: list[float]
    unseen: int  # started generations the snapshot never showed (overtaken within a period)
    settle_s: float | None  # traffic stopped -> every view equal to its query
    unequal: list[str]  # views still different at the deadline

    def per_hour(self, reads: int) -> float:
        return reads * HOUR_S / self.seconds

    @property
    def rate(self) -> float:
        return self.generations / self.seconds


class Traffic:
    """Generations started at a steady rate (each completed or failed 1 to 3 s later),
    with when each start and each report returned."""

    def __init__(self, store: GenerationStore, rate: float, seed: int) -> None:
        self._store = store
        self._rate = rate
        self._seed = seed
        self._lock = threading.Lock()
        self.started: dict[str, float] = {}  # generation id: when its start returned
        self.reported: list[float] = []  # when each worker report returned
        self._pool = ThreadPoolExecutor(max_workers=min(256, int(rate * 4) + 8))

    def _one(self, number: int) -> None:
        local = random.Random(self._seed * 100_003 + number)
        generation_id = start_generation(self._store, f"feed-user-{number % USERS}", local)
        with self._lock:
            self.started[generation_id] = time.time()
        time.sleep(local.uniform(1.0, 3.0))
        finish_generation(self._store, generation_id, local)
        with self._lock:
            self.reported.append(time.time())

    def run(self, seconds: float) -> None:
        """Submit starts on schedule for ``seconds``; they go on after it returns."""
        began = time.monotonic()
        number = 0
        while (due := began + number / self._rate) < began + seconds:
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self._pool.submit(self._one, number)
            number += 1

    def changes_until(self, moment: float) -> tuple[int, int]:
        """Starts and reports that had returned by ``moment`` (a time.time())."""
        with self._lock:
            starts = sum(1 for at in self.started.values() if at <= moment)
            return starts, starts + sum(1 for at in self.reported if at <= moment)

    def drain(self) -> None:
        self._pool.shutdown(wait=True)


def settle(db: firestore.Client) -> tuple[float | None, list[str]]:
    began = time.monotonic()
    while True:
        unequal = unequal_feed_views(db)
        if not unequal:
            return time.monotonic() - began, []
        if time.monotonic() - began > SETTLE_DEADLINE_S:
            return None, unequal
        time.sleep(0.5)


def measure_level(suite: EmulatorSuite, rate: float, seconds: float, seed: int) -> Level:
    db = suite.firestore_client()
    store = GenerationStore(db)
    snapshots = FeedSnapshotStore(db)
    query = snapshots.query(EVERYTHING)
    query_viewer = QueryViewer(query)
    snapshot_viewer = SnapshotViewer(db.collection(FEED_SNAPSHOTS).document(EVERYTHING.id))
    query_viewer.wait_ready()
    snapshot_viewer.wait_ready()
    opening = (query_viewer.reads, snapshot_viewer.reads)
    poller = Poller(query)
    print(f"{rate:g} generations/s for {seconds:.0f} s", file=sys.stderr)
    traffic = Traffic(store, rate, seed)
    began, began_wall = time.monotonic(), time.time()
    traffic.run(seconds)
    elapsed = time.monotonic() - began
    # The window is the traffic's: what the viewers were billed while it ran, and
    # the changes that had been made by its end (later ones are the drain's).
    reads = (query_viewer.reads - opening[0], snapshot_viewer.reads - opening[1], poller.reads)
    generations, changes = traffic.changes_until(began_wall + elapsed)
    poller.stop()
    traffic.drain()
    settle_s, unequal = settle(db)
    seen = snapshot_viewer.first_seen
    freshness = [(seen[gid] - at) * 1000 for gid, at in traffic.started.items() if gid in seen]
    query_viewer.stop()
    snapshot_viewer.stop()
    return Level(
        target_rate=rate,
        seconds=elapsed,
        generations=generations,
        changes=changes,
        query_reads=reads[0],
        snapshot_reads=reads[1],
        poll_reads=reads[2],
        freshness_ms=freshness,
        unseen=len(traffic.started) - len(freshness),
        settle_s=settle_s,
        unequal=unequal,
    )


def warm_up(suite: EmulatorSuite) -> None:
    """Start the trigger's Python worker: the first generations' snapshots."""
    db = suite.firestore_client()
    store = GenerationStore(db)
    rng = random.Random(0)
    ids = [start_generation(store, "feed-warm-up", rng) for _ in range(WARM_UPS)]
    reference = db.collection(FEED_SNAPSHOTS).document(EVERYTHING.id)
    deadline = time.monotonic() + LISTENER_READY_S
    while time.monotonic() < deadline:
        stored = reference.get()
        shown = {entry["id"] for entry in (stored.get("entries") if stored.exists else [])}
        if set(ids) <= shown:
            return
        time.sleep(0.2)
    raise RuntimeError("the warm-up generations never reached the snapshot")


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:,.1f}x" if denominator else "n/a"


@dataclass(frozen=True)
class Report:
    levels: list[Level]

    @property
    def checks(self) -> list[Check]:
        checks = []
        for level in self.levels:
            name = f"{level.target_rate:g}/s"
            checks.append(
                Check(
                    f"{name}: every view equal to its query "
                    + (
                        f"{level.settle_s:.1f} s after the traffic"
                        if level.settle_s is not None
                        else f"NOT within {SETTLE_DEADLINE_S:.0f} s: {', '.join(level.unequal)}"
                    ),
                    level.settle_s is not None,
                )
            )
            # One write per second at most; a window of n seconds can hold n + 1.
            checks.append(
                Check(
                    f"{name}: the snapshot written {level.snapshot_reads:,} times in "
                    f"{level.seconds:.1f} s",
                    level.snapshot_reads <= level.seconds + 1,
                )
            )
        snapshot = [level.per_hour(level.snapshot_reads) for level in self.levels]
        checks.append(
            Check(
                "the snapshot's reads per viewer-hour stay flat, within one a second: "
                + ", ".join(f"{each:,.0f}" for each in snapshot),
                all(level.snapshot_reads <= level.seconds + 1 for level in self.levels),
            )
        )
        return checks

    @property
    def ok(self) -> bool:
        return all(check.passed for check in self.checks)

    def text(self) -> str:
        lines = [
            "| generations/s (target -> achieved) | feed changes/s"
            " | query listener reads/viewer-hour | snapshot reads/viewer-hour"
            " | 5 s poll reads/viewer-hour | query / snapshot | poll / snapshot"
            " | snapshot freshness median, p95 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for level in self.levels:
            query, snap, poll = (
                level.per_hour(level.query_reads),
                level.per_hour(level.snapshot_reads),
                level.per_hour(level.poll_reads),
            )
            fresh = level.freshness_ms
            freshness = (
                f"{statistics.median(fresh):,.0f} ms, {percentile(fresh, 0.95):,.0f} ms"
                f" ({len(fresh):,} shown, {level.unseen:,} overtaken before a rebuild)"
                if fresh
                else "n/a"
            )
            lines.append(
                f"| {level.target_rate:g} -> {level.rate:.1f} | {level.changes / level.seconds:.1f}"
                f" | {query:,.0f} | {snap:,.0f} | {poll:,.0f} | {ratio(query, snap)}"
                f" | {ratio(poll, snap)} | {freshness} |"
            )
        top = max(self.levels, key=lambda level: level.rate)
        per_generation = top.query_reads / top.generations if top.generations else 0.0
        lines += [
            "",
            f"On paper, at {PAPER_RATE:,} generations/s with {PAPER_VIEWERS:,} viewers (reads per"
            " hour, all viewers; the query listener's reads per generation as measured at the"
            f" top rate, {per_generation:.2f}):",
            f"- query listener: {PAPER_RATE * per_generation * HOUR_S * PAPER_VIEWERS:,.0f}",
            f"- snapshot: {HOUR_S * PAPER_VIEWERS:,.0f} by the viewers (one a second each), plus"
            " the maintainer's own, whatever the audience (see docs/benchmarks.md)",
            f"- 5 s poll: {50 * HOUR_S / POLL_EVERY_S * PAPER_VIEWERS:,.0f}",
        ]
        lines += [f"  [{'ok' if c.passed else 'FAILED'}] {c.what}" for c in self.checks]
        return "\n".join(lines)


def run(suite: EmulatorSuite, rates: Sequence[float], seconds: float) -> Report:
    warm_up(suite)
    levels = [measure_level(suite, rate, seconds, seed) for seed, rate in enumerate(rates, 1)]
    return Report(levels)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.feed_snapshot", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--rates",
        default="0.5,5,10",
        help="generations started per second, comma-separated (default 0.5,5,10: 10 is "
        "about the most the emulators sustain on 2 cores)",
    )
    parser.add_argument(
        "--seconds", type=float, default=60.0, help="traffic at each rate (default 60)"
    )
    args = parser.parse_args(argv)
    try:
        rates = [float(each) for each in args.rates.split(",")]
    except ValueError:
        parser.error("--rates takes numbers separated by commas")
    if not rates or min(rates) <= 0 or args.seconds <= 0:
        parser.error("--rates and --seconds must be positive")
    log = Path(tempfile.mkdtemp(prefix="feed-snapshot-run-")) / "firebase-tools.log"
    print(f"starting the emulators (log: {log})", file=sys.stderr)
    with emulator_suite(log=log) as suite:
        report = run(suite, rates, args.seconds)
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
