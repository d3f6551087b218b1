"""Median latency of ``trackGeneration`` through the Functions emulator next to
a bare single-document write from the same client, in one run.

    .venv/bin/python -m bench.start_latency [--calls 100]

Both are timed from the same HTTP session, interleaved, so the machine's load
affects them alike. The bare write is one REST document write to the same
Firestore emulator: what a client that writes its own generation pays.
The comparison (``python -m bench``) measures its start latency here too
(``measure_start_latency``), and its cold start with the same probe.
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

from bench.measurement import BASELINE_COLLECTION, Figure, Measurement, Plan
from generations_live.domain.models import MAX_GRANT
from harness.clients import AuthEmulator, CallableClient, FirestoreAdminRest
from harness.emulators import EmulatorSuite, emulator_suite

BARE_FIELDS = {
    "type": {"stringValue": "image"},
    "prompt": {"stringValue": "a lighthouse at dusk"},
    "status": {"stringValue": "processing"},
}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class StartProbe:
    """One signed-in client that times a ``trackGeneration`` call or a bare
    document write, both over the same HTTP session."""

    def __init__(self, suite: EmulatorSuite) -> None:
        session = requests.Session()
        auth = AuthEmulator(suite.url("auth"), suite.project, session)
        self._api = CallableClient(suite.function_url(""), session)
        self._firestore = FirestoreAdminRest(suite.url("firestore"), suite.project, session)
        self._user = auth.create_user(display_name="Latency Probe")
        admin = auth.create_user(display_name="Probe Admin", claims={"admin": True})
        grant = {
            "userId": self._user.uid,
            "amount": MAX_GRANT,  # credits are not what this measures
            "reason": "latency probe",
            "grantId": f"probe-{self._user.uid}",
        }
        self._api.call("grantCredits", grant, id_token=admin.id_token)

    def track_ms(self) -> float:
        """One timed start; the generation is then canceled, untimed, so the probe
        never reaches the per-user cap on generations processing."""
        data = {"type": "image", "prompt": "a lighthouse at dusk"}
        answers: list[dict[str, str]] = []

        def start() -> None:
            answers.append(self._api.call("trackGeneration", data, id_token=self._user.id_token))

        elapsed = _timed(start)
        self._api.call(
            "updateGenerationStatus",
            {"generationId": answers[0]["generationId"], "status": "canceled"},
            id_token=self._user.id_token,
        )
        return elapsed

    def bare_write_ms(self) -> float:
        path = f"{BASELINE_COLLECTION}/{uuid.uuid4().hex}"
        return _timed(lambda: self._firestore.write(path, BARE_FIELDS))


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def interleaved(probe: StartProbe, *, calls: int, warmup: int) -> tuple[list[float], list[float]]:
    """``calls`` timed starts and bare writes in alternation, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        probe.track_ms()
        probe.bare_write_ms()
    tracked, written = [], []
    for _ in range(calls):
        tracked.append(probe.track_ms())
        written.append(probe.bare_write_ms())
    return tracked, written


def measure_start_latency(probe: StartProbe, plan: Plan) -> Measurement:
    """Measurement 2 of the comparison: median and p95 of both starts, interleaved."""
    m = Measurement(2, "Start latency")
    tracked, written = interleaved(probe, calls=plan.latency_calls, warmup=plan.latency_warmup)
    m.add(Figure("median", statistics.median(tracked), statistics.median(written), "ms", 1))
    m.add(Figure("p95", percentile(tracked, 0.95), percentile(written, 0.95), "ms", 1))
    return m


def method_values(plan: Plan) -> dict[str, str]:
    """What the template's account of measurement 2 names."""
    return {"latency_calls": f"{plan.latency_calls}", "latency_warmup": f"{plan.latency_warmup}"}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.start_latency", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--calls", type=int, default=100, help="timed calls of each kind")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls of each kind first")
    args = parser.parse_args()
    if args.calls < 1 or args.warmup < 0:
        parser.error("--calls must be at least 1 and --warmup not negative")

    log = Path(tempfile.mkdtemp(prefix="latency-")) / "firebase-tools.log"
    with emulator_suite(log=log) as suite:
        tracked, written = interleaved(StartProbe(suite), calls=args.calls, warmup=args.warmup)

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
