"""Measurement 1 of the comparison: what a dashboard costs in document reads per
hour, ours (a realtime listener on the feed and one rollup document for the
analytics) against the baseline's (polling the feed and recounting the window),
on seeded histories on the standalone Firestore emulator.

The histories, their baseline analytics and ours serve measurement 5 too
(bench.rollup_cost).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from bench.measurement import BenchError, Figure, Measurement, Plan, say
from generations_live.adapters.collections import LIVE_GENERATIONS
from generations_live.adapters.generations import GenerationStore, LiveQuery
from generations_live.adapters.rollups import RollupStore
from generations_live.domain.models import MAX_LIVE_LIMIT
from generations_live.services import rollups
from harness.history import (
    counting_document_reads,
    finish_generation,
    seed_history,
    soon,
    start_generation,
)

GENERATION = rollups.GENERATION_ROLLUP
NO_LAG = timedelta(0)

# The dashboard both designs serve.
WINDOW_DAYS = 7
FEED_LIMIT = MAX_LIVE_LIMIT  # the 50 newest
POLL_EVERY_S = 5.0
# Both dashboards refresh their analytics this often, and the measured period
# is one such cycle, so "per hour" is the opening reads plus 60 measured minutes.
REFRESH_EVERY_S = 60.0
TRICKLE_EVERY_S = 2.0
TRICKLE_PER_MINUTE = int(REFRESH_EVERY_S / TRICKLE_EVERY_S)
TRICKLE_GRACE_S = 60.0
# seed_history places generations 1 to SPAN days back plus up to a day more:
# with 5, every seeded generation falls inside the 7 UTC days of the window.
SEED_SPAN_DAYS = 5
LISTENER_READY_S = 60.0
SETTLE_S = 120.0
# The emulator re-runs every listening query over the whole collection at each
# commit, so the many dashboards' listeners watch a project of this many
# generations: enough to fill the 50 newest, small enough for the emulator.
FEED_HISTORY = 200


@dataclass
class History:
    """One project on the standalone emulator and the generations seeded in its window."""

    key: str  # names the project and the readers counted on it
    size: int
    db: firestore.Client
    store: GenerationStore
    rollups: RollupStore
    today: date

    @property
    def first_day(self) -> date:
        return self.today - timedelta(days=WINDOW_DAYS - 1)

    def generations(self) -> int:
        feed: Any = self.db.collection(LIVE_GENERATIONS)
        result = feed.count().get()
        return int(result[0][0].value)


def open_history(key: str, size: int, *, backfill: bool) -> History:
    """A project of its own (so histories run the same minute at once), seeded."""
    db = firestore.Client(
        project=f"demo-bench-{key}",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
    )
    today = datetime.now(UTC).date()
    history = History(key, size, db, GenerationStore(db), RollupStore(db), today)
    say(f"seeding {size:,} generations over the {WINDOW_DAYS}-day window ({key})")
    seed_history(db, random.Random(size), size, SEED_SPAN_DAYS, prefix="old")
    if backfill:
        rollups.backfill(history.rollups, GENERATION, history.first_day, today, soon(), lag=NO_LAG)
    return history


def baseline_poll(history: History) -> None:
    """The baseline dashboard's feed: one query for the 50 newest."""
    history.store.live_generations(LiveQuery(limit=FEED_LIMIT))


def baseline_analytics(history: History) -> dict[str, Any]:
    """The baseline dashboard's analytics: read every generation of the window and count.

    It counts with the same code as our recount, so the two answers must agree.
    """
    recount = GENERATION.recount(
        history.rollups, history.first_day, history.today, datetime.now(UTC)
    )
    return GENERATION.answer(recount.days, recount.users, recount.names, history.today, WINDOW_DAYS)


def our_analytics(history: History) -> dict[str, Any]:
    """What ``getGenerationAnalytics({days: 7})`` answers: one window document."""
    return rollups.window_answer(history.rollups, GENERATION, WINDOW_DAYS)


def same_numbers(ours: dict[str, Any], baseline: dict[str, Any]) -> bool:
    return all(ours.get(key) == value for key, value in baseline.items())


class FeedListener:
    """One dashboard's realtime listener on the 50 newest generations.

    Reads = documents delivered: the first results, then every change;
    removals from the top 50 are counted too, an upper bound.
    """

    def __init__(self, store: GenerationStore) -> None:
        self._changes: Counter[str] = Counter()
        self._statuses: dict[str, str] = {}  # of the generations it shows now
        self._lock = threading.Lock()
        self._ready = threading.Event()
        query = store.live_query(LiveQuery(limit=FEED_LIMIT))
        self._watch: Any = query.on_snapshot(self._on_snapshot)

    def _on_snapshot(self, documents: Any, changes: Any, read_time: Any) -> None:
        del read_time
        with self._lock:
            self._changes.update(change.type.name.lower() for change in changes)
            self._statuses = {document.id: document.get("status") for document in documents}
        self._ready.set()

    def shows(self, statuses: dict[str, str]) -> bool:
        """Whether its latest snapshot has these generations in these statuses."""
        with self._lock:
            return all(self._statuses.get(gid) == status for gid, status in statuses.items())

    def changes(self) -> Counter[str]:
        with self._lock:
            return Counter(self._changes)

    def wait_ready(self) -> None:
        if not self._ready.wait(LISTENER_READY_S):
            raise BenchError(f"a listener had no first snapshot within {LISTENER_READY_S:.0f} s")

    def stop(self) -> None:
        self._watch.unsubscribe()


class Trickle:
    """A minute's traffic through the real use cases: TRICKLE_PER_MINUTE generations,
    one starting every TRICKLE_EVERY_S while a worker finishes the previous one.

    A tick the emulator makes late is caught up, never skipped, so every measured
    minute carries the same traffic; ``stop`` cuts it short (reported).
    """

    def __init__(self, history: History, stop: threading.Event) -> None:
        self.started = 0
        self.error: Exception | None = None
        # The last generations' final statuses: a listener showing them has received
        # every change of the minute (a listen stream delivers changes in order).
        self.last: dict[str, str] = {}
        self._history = history
        self._stop = stop
        self._thread = threading.Thread(target=self._run, name=f"trickle-{history.key}")
        self._thread.start()

    def _run(self) -> None:
        rng = random.Random(self._history.size)
        store = self._history.store
        previous: str | None = None
        began = time.monotonic()
        try:
            for tick in range(TRICKLE_PER_MINUTE):
                if self._stop.wait(max(0.0, began + tick * TRICKLE_EVERY_S - time.monotonic())):
                    return
                current = start_generation(store, "trickle-user", rng)
                self.started += 1
                self.last = {current: "processing"}
                if previous is not None:
                    self.last[previous] = finish_generation(store, previous, rng)
                previous = current
        except Exception as failed:
            # Any failure of the use cases is a finding: the measurement reports it.
            self.error = failed

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout=max(0.0, timeout_s))

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()


@dataclass(frozen=True)
class Reads:
    """A dashboard's reads: to open it (once), and in the measured minute."""

    opening: int
    minute: int

    def per_hour(self) -> float:
        return self.opening + self.minute * 3600 / REFRESH_EVERY_S

    def __add__(self, other: Reads) -> Reads:
        return Reads(self.opening + other.opening, self.minute + other.minute)


@dataclass
class Minute:
    """What was counted while the dashboards opened and during the measured minute."""

    opened: Counter[str] = field(default_factory=Counter)  # reads per actor
    ended: Counter[str] = field(default_factory=Counter)
    # Changes each listener received, by kind, per project key.
    listeners_opened: dict[str, list[Counter[str]]] = field(default_factory=dict)
    listeners_ended: dict[str, list[Counter[str]]] = field(default_factory=dict)
    trickles: dict[str, Trickle] = field(default_factory=dict)
    folded: dict[str, int] = field(default_factory=dict)
    agree: dict[str, tuple[bool, int]] = field(default_factory=dict)
    behind: int = 0  # listeners that never showed their trickle's last changes
    seconds: float = 0.0  # wall time of the minute's polls and traffic

    def actor(self, name: str, key: str) -> Reads:
        actor = f"{name}-{key}"
        return Reads(self.opened[actor], self.ended[actor] - self.opened[actor])

    def listener(self, key: str, index: int) -> Reads:
        first = sum(self.listeners_opened[key][index].values())
        return Reads(first, sum(self.listeners_ended[key][index].values()) - first)

    def listeners(self, key: str) -> list[Reads]:
        return [self.listener(key, index) for index in range(len(self.listeners_opened[key]))]

    def kinds(self, key: str, index: int) -> Counter[str]:
        return self.listeners_ended[key][index] - self.listeners_opened[key][index]


def run_dashboards(histories: Sequence[History], feed: History | None, dashboards: int) -> Minute:
    """Open the dashboards, then run one measured minute of both designs on these projects.

    One listener per history; the many dashboards' listeners listen on ``feed``,
    a project with a small history (see FEED_HISTORY).
    """
    minute = Minute()
    polls = int(REFRESH_EVERY_S / POLL_EVERY_S)
    projects = [*histories, feed] if feed is not None else list(histories)
    with counting_document_reads() as reads:
        say(f"1. opening the dashboards on {', '.join(h.key for h in projects)}")
        listeners = {h.key: [FeedListener(h.store)] for h in histories}
        if feed is not None:
            listeners[feed.key] = [FeedListener(feed.store) for _ in range(dashboards)]
        for history in histories:
            with reads.actor(f"baseline-{history.key}"):
                baseline_poll(history)
                baseline_analytics(history)
            with reads.actor(f"ours-1-{history.key}"):
                our_analytics(history)
            with reads.actor(f"ours-more-{history.key}"):
                for _ in range(dashboards - 1):
                    our_analytics(history)
        every = [listener for each in listeners.values() for listener in each]
        for listener in every:
            listener.wait_ready()
        minute.opened = reads.snapshot()
        minute.listeners_opened = {k: [x.changes() for x in each] for k, each in listeners.items()}

        say(f"1. the measured minute: {polls} polls, a generation every {TRICKLE_EVERY_S:.0f} s")
        stop = threading.Event()
        minute.trickles = {h.key: Trickle(h, stop) for h in projects}
        began = time.monotonic()
        for tick in range(1, polls + 1):
            time.sleep(max(0.0, began + tick * POLL_EVERY_S - time.monotonic()))
            for history in histories:
                with reads.actor(f"baseline-{history.key}"):
                    baseline_poll(history)
        # A loaded emulator can make the minute's traffic late: wait for it, within bounds.
        deadline = began + REFRESH_EVERY_S + TRICKLE_GRACE_S
        for trickle in minute.trickles.values():
            trickle.join(deadline - time.monotonic())
        stop.set()
        for trickle in minute.trickles.values():
            trickle.join(REFRESH_EVERY_S)
            if not trickle.done:
                trickle.error = BenchError("the trickle was still writing a minute after its stop")
        minute.seconds = time.monotonic() - began
        say("1. the minute's analytics refresh: rollup job, then both dashboards")
        # The minute's analytics refresh: our rollup job first, then both dashboards.
        for history in histories:
            with reads.actor(f"rollup-{history.key}"):
                report = rollups.run_rollup(history.rollups, GENERATION, soon(), lag=NO_LAG)
            minute.folded[history.key] = report.events
            with reads.actor(f"ours-1-{history.key}"):
                ours = our_analytics(history)
            with reads.actor(f"ours-more-{history.key}"):
                for _ in range(dashboards - 1):
                    our_analytics(history)
            with reads.actor(f"baseline-{history.key}"):
                expected = baseline_analytics(history)
            minute.agree[history.key] = (same_numbers(ours, expected), int(expected["total"]))
        minute.behind = settle(listeners, minute.trickles)
        minute.ended = reads.snapshot()
        minute.listeners_ended = {k: [x.changes() for x in each] for k, each in listeners.items()}
    for listener in every:
        listener.stop()
    return minute


def measure_dashboard_cost(histories: Sequence[History], feed: History, plan: Plan) -> Measurement:
    """Open the dashboards on every history and on ``feed`` (where the many dashboards'
    listeners listen), run the measured minute(s), and turn the reads into figures."""
    polls = int(REFRESH_EVERY_S / POLL_EVERY_S)
    m = Measurement(1, "Dashboard cost")
    # Listeners and large collections slow every commit of the emulator (see
    # FEED_HISTORY), so in a full run each project has a minute of its own.
    groups: list[tuple[list[History], History | None]] = (
        [(list(histories), feed)]
        if plan.shared_minute
        else [([], feed), *(([h], None) for h in histories)]
    )
    minutes: dict[str, Minute] = {}
    for group, with_feed in groups:
        minute = run_dashboards(group, with_feed, plan.dashboards)
        minutes.update(dict.fromkeys(minute.trickles, minute))
        for key, trickle in minute.trickles.items():
            if trickle.error is not None:
                m.fail(f"{key}: the trickle failed: {trickle.error!r}")
        if minute.behind:
            m.fail(
                f"{minute.behind} listener(s) had not received the minute's last changes "
                f"{SETTLE_S:.0f} s after it ended"
            )
    many = minutes[feed.key].listeners(feed.key)
    many_total = sum(many[1:], many[0])
    for history in histories:
        key, size = history.key, history.size
        minute = minutes[key]
        rollup_job = minute.actor("rollup", key)
        window_one = minute.actor("ours-1", key)
        listener = minute.listener(key, 0)
        ours_one = listener + window_one + rollup_job
        ours_all = many_total + window_one + minute.actor("ours-more", key) + rollup_job
        baseline = minute.actor("baseline", key)
        m.add(
            Figure(
                f"1 dashboard, {size:,} generations in the window, reads per hour",
                ours_one.per_hour(),
                baseline.per_hour(),
                "reads",
            )
        )
        m.add(
            Figure(
                f"{plan.dashboards} dashboards, {size:,} generations, reads per hour",
                ours_all.per_hour(),
                plan.dashboards * baseline.per_hour(),
                "reads",
            )
        )
        kinds = minute.kinds(key, 0)
        m.note(
            f"{size:,}, one dashboard: ours opened with {listener.opening} listener "
            f"documents + {window_one.opening} window document; in the minute the listener "
            f"got {listener.minute} changes ({kinds['added']} added, {kinds['modified']} "
            f"modified, {kinds['removed']} removed) as {minute.trickles[key].started} "
            f"generations started, the window was read {window_one.minute} time(s) and the "
            f"rollup job read {rollup_job.minute} documents (folding {minute.folded[key]} "
            f"events). Baseline: opened with {baseline.opening:,} reads, then "
            f"{baseline.minute:,} in the minute ({polls} polls and one recount of the window). "
            f"The minute's polls and traffic took {minute.seconds:.0f} s."
        )
        same, total = minute.agree[key]
        if same:
            m.note(
                f"{size:,}: our one-document answer equals the baseline's recount of "
                f"{total:,} generations, field by field"
            )
        else:
            m.fail(f"{size:,}: our window answer differs from the baseline's recount")
    changes = sorted(each.minute for each in many)
    minute = minutes[feed.key]
    kinds = sum((minute.kinds(feed.key, i) for i in range(len(many))), Counter[str]())
    m.note(
        f"feed project: each of the {len(many)} listeners opened with {many[0].opening} "
        f"documents and got {changes[0]} to {changes[-1]} changes in the minute "
        f"({kinds['added']:,} added, {kinds['modified']:,} modified, {kinds['removed']:,} "
        f"removed in all) as {minute.trickles[feed.key].started} generations started, in "
        f"{minute.seconds:.0f} s. A listener that falls behind receives only a document's "
        "latest state, so a start and its finish can arrive as one change."
    )
    return m


def settle(listeners: dict[str, list[FeedListener]], trickles: dict[str, Trickle]) -> int:
    """Wait until every listener shows the last changes of its project's trickle, at
    most SETTLE_S; returns how many listeners had still not caught up."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        behind = sum(
            not listener.shows(trickles[key].last)
            for key, each in listeners.items()
            for listener in each
        )
        if behind == 0 or time.monotonic() > deadline:
            return behind
        time.sleep(0.2)


def method_values(plan: Plan) -> dict[str, str]:
    """What the template's account of measurement 1 (and of the baseline) names."""
    return {
        "history_sizes": " and ".join(f"{size:,}" for size in plan.history_sizes),
        "window_days": f"{WINDOW_DAYS}",
        "minutes_measured": (
            "measured in the same minute"
            if plan.shared_minute
            else "each measured in a minute of its own"
        ),
        "polls_per_minute": f"{int(REFRESH_EVERY_S / POLL_EVERY_S)}",
        "trickle_per_minute": f"{TRICKLE_PER_MINUTE}",
        "trickle_every_s": f"{TRICKLE_EVERY_S:.0f}",
        "feed_limit": f"{FEED_LIMIT}",
        "poll_every_s": f"{POLL_EVERY_S:.0f}",
        "refresh_every_s": f"{REFRESH_EVERY_S:.0f}",
        "dashboards": f"{plan.dashboards}",
        "feed_history": f"{FEED_HISTORY}",
    }
