"""Median latency of ``trackGeneration`` through the Functions emulator next to
a bare single-document write from the same client, in one run.

    .venv/bin/python scripts/measure_start_latency.py [--calls 100]

Both are timed from the same HTTP session, interleaved, so the machine's load
affects them alike. The bare write is one REST document write to the same
Firestore emulator: what a client that writes its own generation pays.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

from emulators import emulator_suite
from firebase_clients import AuthEmulator, CallableClient, FirestoreAdminRest


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100, help="timed calls of each kind")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls of each kind first")
    args = parser.parse_args()
    if args.calls < 1 or args.warmup < 0:
        parser.error("--calls must be at least 1 and --warmup not negative")

    log = Path(tempfile.mkdtemp(prefix="latency-")) / "firebase-tools.log"
    with emulator_suite(log=log) as suite:
        session = requests.Session()
        user = AuthEmulator(suite.url("auth"), suite.project, session).create_user(
            display_name="Latency Probe"
        )
        api = CallableClient(suite.function_url(""), session)
        firestore = FirestoreAdminRest(suite.url("firestore"), suite.project, session)
        fields = {
            "type": {"stringValue": "image"},
            "prompt": {"stringValue": "a lighthouse at dusk"},
            "status": {"stringValue": "processing"},
        }

        def track() -> None:
            api.call("trackGeneration", {"type": "image", "prompt": "a lighthouse at dusk"},
                     id_token=user.id_token)  # fmt: skip

        def bare_write() -> None:
            firestore.write(f"baseline_generations/{uuid.uuid4().hex}", fields)

        def timed(action: Callable[[], None]) -> float:
            started = time.perf_counter()
            action()
            return (time.perf_counter() - started) * 1000

        for _ in range(args.warmup):
            track()
            bare_write()
        tracked, written = [], []
        for _ in range(args.calls):
            tracked.append(timed(track))
            written.append(timed(bare_write))

    print(f"{args.calls} calls each, interleaved, one client, {suite.project} on 127.0.0.1")
    print(f"{'':28}{'median ms':>10}{'p95 ms':>10}")
    for name, samples in (
        ("trackGeneration (callable)", tracked),
        ("bare document write", written),
    ):
        print(f"{name:28}{statistics.median(samples):>10.1f}{percentile(samples, 0.95):>10.1f}")
    ratio = statistics.median(tracked) / statistics.median(written)
    print(f"ratio of medians (callable / bare write): {ratio:.1f}x")


if __name__ == "__main__":
    main()
