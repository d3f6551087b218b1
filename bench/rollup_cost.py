"""Measurement 5 of the comparison: what one analytics refresh costs on a large
history, ours (the incremental rollup) against the baseline's (a recount of the
window), in seconds and documents read."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from bench.dashboard_cost import (
    GENERATION,
    NO_LAG,
    WINDOW_DAYS,
    History,
    baseline_analytics,
    our_analytics,
    same_numbers,
)
from bench.measurement import Figure, Measurement, Plan, say
from generations_live.services import rollups
from harness.history import counting_document_reads, soon, start_and_finish

ROLLUP_THREADS = 4


def add_generations(history: History, count: int) -> int:
    """Start and finish about ``count`` generations through the use cases, on
    ROLLUP_THREADS threads; returns how many."""
    per_thread = count // ROLLUP_THREADS

    def add(worker: int) -> None:
        rng = random.Random(worker)
        for _ in range(per_thread):
            start_and_finish(history.store, f"rollup-bench-{worker}", rng)

    with ThreadPoolExecutor(max_workers=ROLLUP_THREADS) as pool:
        list(pool.map(add, range(ROLLUP_THREADS)))
    return per_thread * ROLLUP_THREADS


def measure_rollup_cost(histories: Sequence[History], plan: Plan) -> Measurement:
    """On each history: add ``plan.rollup_changes`` generations, then time and count one
    refresh of each design's analytics, and compare their answers."""
    m = Measurement(5, "Rollup cost against history")
    for history in histories:
        old = history.generations()
        say(f"5. {plan.rollup_changes:,} new generations on {old:,} old ones")
        new = add_generations(history, plan.rollup_changes)
        with counting_document_reads() as ours_reads:
            started = time.perf_counter()
            report = rollups.run_rollup(history.rollups, GENERATION, soon(), lag=NO_LAG)
            ours_s = time.perf_counter() - started
        with counting_document_reads() as baseline_reads:
            started = time.perf_counter()
            expected = baseline_analytics(history)
            baseline_s = time.perf_counter() - started
        label = f"{new:,} new on {old:,} old"
        m.add(Figure(f"{label}: time", ours_s, baseline_s, "s", 2))
        m.add(Figure(f"{label}: documents read", ours_reads.count, baseline_reads.count, "reads"))
        m.note(f"{old:,} old: ours folded {report.events:,} events in {report.batches} batch(es)")
        if not same_numbers(our_analytics(history), expected):
            m.fail(f"{old:,} old: our window answer differs from the baseline's recount")
    return m


def method_values(plan: Plan) -> dict[str, str]:
    """What the template's account of measurement 5 names."""
    return {
        "rollup_changes": f"{plan.rollup_changes:,}",
        "rollup_threads": f"{ROLLUP_THREADS}",
        "window_days": f"{WINDOW_DAYS}",
    }
