"""Analytics at volume, measured on the official Firestore emulator in one run.

    .venv/bin/python -m bench.analytics [--small 2000] [--large 20000] [--load-seconds 30]

1. Documents read by one ``getGenerationAnalytics`` answer at two history sizes.
2. Wall time of an incremental rollup after a small change on the large
   history, against a full backfill of the same days.
3. A sustained load through the real use cases (start, then complete or fail)
   with rollups folding concurrently, then a recount check: no lost counts.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.rollups import RollupStore
from generations_live.services import rollups
from harness.emulators import firestore_emulator
from harness.history import counting_document_reads, seed_history, soon, start_and_finish

SPAN_DAYS = 60
NO_LAG = timedelta(0)
GENERATION = rollups.GENERATION_ROLLUP


@dataclass
class Bench:
    store: GenerationStore
    rollups: RollupStore
    first_day: date
    today: date
    rng: random.Random

    def backfill(self) -> None:
        rollups.backfill(self.rollups, GENERATION, self.first_day, self.today, soon(), lag=NO_LAG)


def measure_reads(bench: Bench, db: firestore.Client, sizes: tuple[int, int]) -> None:
    print("1. documents read by one getGenerationAnalytics({days: 30}) answer")
    seeded = 0
    for size in sizes:
        seed_history(db, bench.rng, size - seeded, SPAN_DAYS, prefix=f"h{size}")
        seeded = size
        bench.backfill()
        with counting_document_reads() as reads:
            answer = rollups.window_answer(bench.rollups, GENERATION, 30)
        print(
            f"   {size:>7} generations in history: {reads.count} document read(s), "
            f"answer total {answer['total']}"
        )


def measure_rollup_cost(bench: Bench, changes: int, history: int) -> None:
    print(f"2. rollup after {changes} new generations on {history} vs a full backfill")
    started = time.perf_counter()
    bench.backfill()
    backfill_s = time.perf_counter() - started
    for index in range(changes):
        start_and_finish(bench.store, f"change-{index % 10}", bench.rng)
    started = time.perf_counter()
    report = rollups.run_rollup(bench.rollups, GENERATION, soon(), lag=NO_LAG)
    incremental_s = time.perf_counter() - started
    print(f"   full backfill of {SPAN_DAYS + 1} days: {backfill_s:.2f} s")
    print(f"   incremental rollup ({report.events} events): {incremental_s:.2f} s")
    print(f"   ratio backfill / incremental: {backfill_s / incremental_s:.1f}x")


def measure_load(bench: Bench, threads: int, seconds: float) -> None:
    print(f"3. load: {threads} threads for {seconds:.0f} s, rollups folding every 2 s")
    stop = threading.Event()
    done = [0] * threads
    folded = [0]

    def load(worker: int) -> None:
        local = random.Random(worker)
        while not stop.is_set():
            start_and_finish(bench.store, f"load-{worker}", local)
            done[worker] += 1

    def roll() -> None:
        while not stop.wait(2.0):
            lag = timedelta(seconds=1)
            folded[0] += rollups.run_rollup(
                bench.rollups, GENERATION, datetime.now(UTC), lag=lag
            ).events

    workers = [threading.Thread(target=load, args=(i,)) for i in range(threads)]
    workers.append(threading.Thread(target=roll))
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    stop.wait(seconds)  # the load's duration, not a wait for readiness
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    folded[0] += rollups.run_rollup(bench.rollups, GENERATION, soon(), lag=NO_LAG).events
    mismatches = rollups.check(bench.rollups, GENERATION, bench.first_day, bench.today)
    total = sum(done)
    rate = total / elapsed
    print(f"   {total} generations started and finished in {elapsed:.1f} s = {rate:.1f}/s")
    print(f"   events written {2 * total}, folded during and after the load {folded[0]}")
    verdict = mismatches or "exact, no lost counts"
    print(f"   recount check over {SPAN_DAYS + 1} days: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.analytics", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--small", type=int, default=2_000)
    parser.add_argument("--large", type=int, default=20_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--load-seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if not 0 < args.small < args.large:
        parser.error("need 0 < --small < --large")
    log = Path(tempfile.mkdtemp(prefix="analytics-bench-")) / "firestore.log"
    with firestore_emulator(rules=None, log=log) as emulator:
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.address
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        db = firestore.Client(project=emulator.project, credentials=credentials)
        today = datetime.now(UTC).date()
        bench = Bench(
            store=GenerationStore(db),
            rollups=RollupStore(db),
            first_day=today - timedelta(days=SPAN_DAYS),
            today=today,
            rng=random.Random(2026),
        )
        measure_reads(bench, db, (args.small, args.large))
        measure_rollup_cost(bench, args.changes, args.large)
        measure_load(bench, args.threads, args.load_seconds)


if __name__ == "__main__":
    main()
