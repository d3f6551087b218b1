"""Concurrent duplicates of one start, with request claims and without, in one run.

    .venv/bin/python -m bench.claims [--duplicates 20] [--rounds 2]

Each round fires ``--duplicates`` identical ``trackGeneration`` use cases (one
user, one ``requestId``) at once against the official Firestore emulator:
once through the store as it ships (calls with one key take turns through
their request claim), once with the claim skipped (every duplicate runs its
transaction at once). Prints the wall time of each, their ratio, and what
each left: generations, holds and the answers' codes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from generations_live.adapters.collections import BILLING, LEDGER, USER_GENERATIONS, USERS
from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore, StoreTransaction
from generations_live.domain.credits import CreditPolicy
from generations_live.domain.errors import DomainError
from generations_live.domain.models import TrackGenerationRequest
from generations_live.services import tracking
from harness.callers import member
from harness.emulators import ROOT, firestore_emulator

Result = TypeVar("Result")
# Enough free credits that no duplicate is refused for money.
SETTINGS = replace(
    settings(), credit_policy=CreditPolicy(overdraft_allowance=10, daily_free_floor=10_000)
)


class UnclaimedStore(GenerationStore):
    """The store with request claims skipped: duplicates race in their transactions."""

    def run_claimed(self, key: str, work: Callable[[StoreTransaction], Result]) -> Result:
        del key
        return self.run(work)


@dataclass(frozen=True)
class Burst:
    seconds: float
    generations: int
    holds: int
    answers: Counter[str]


def burst(store: GenerationStore, db: firestore.Client, uid: str, duplicates: int) -> Burst:
    caller = member(uid, {"name": "Bench"})
    request = TrackGenerationRequest.model_validate(
        {"type": "video", "prompt": "a burst", "requestId": uuid.uuid4().hex}
    )

    def start(_: int) -> str:
        try:
            tracking.track_generation(store, caller, request, SETTINGS, datetime.now(UTC))
        except DomainError as refused:
            return type(refused).__name__
        return "ok"

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=duplicates) as pool:
        answers = Counter(pool.map(start, range(duplicates)))
    seconds = time.perf_counter() - began
    holds = [
        entry
        for entry in db.collection(f"{BILLING}/{uid}/{LEDGER}").stream()
        if entry.get("kind") == "hold"
    ]
    generations = len(list(db.collection(f"{USERS}/{uid}/{USER_GENERATIONS}").stream()))
    return Burst(seconds, generations, len(holds), answers)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.claims", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--duplicates", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.duplicates < 2 or args.rounds < 1:
        parser.error("--duplicates must be at least 2 and --rounds at least 1")
    log = Path(tempfile.mkdtemp(prefix="claims-bench-")) / "firestore.log"
    with firestore_emulator(rules=ROOT / "firestore.rules", log=log) as server:
        os.environ["FIRESTORE_EMULATOR_HOST"] = server.address
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        db = firestore.Client(project=server.project, credentials=credentials)
        stores = {"with claims": GenerationStore(db), "without claims": UnclaimedStore(db)}
        # Warm the client's channel and the emulator before timing anything.
        burst(stores["with claims"], db, "warm-up", args.duplicates)
        results: dict[str, list[Burst]] = {name: [] for name in stores}
        for round_number in range(args.rounds):
            # Alternate which goes first, so neither always runs on a warmer emulator.
            order = list(stores) if round_number % 2 == 0 else list(reversed(stores))
            for name in order:
                uid = f"{name.replace(' ', '-')}-{round_number}"
                results[name].append(burst(stores[name], db, uid, args.duplicates))
    print(f"{args.duplicates} concurrent duplicates of one start, {args.rounds} round(s) each:")
    medians = {}
    for name, bursts in results.items():
        medians[name] = statistics.median(b.seconds for b in bursts)
        for b in bursts:
            answers = dict(sorted(b.answers.items()))
            print(
                f"  {name:15} {b.seconds:7.2f} s: {b.generations} generation(s), "
                f"{b.holds} hold(s), answers {answers}"
            )
    ratio = medians["without claims"] / medians["with claims"]
    print(
        f"median: with claims {medians['with claims']:.2f} s, "
        f"without {medians['without claims']:.2f} s: {ratio:.1f}x faster with claims"
    )
    exactly_once = all(b.generations == b.holds == 1 for bursts in results.values() for b in bursts)
    print("exactly once in every burst" if exactly_once else "A BURST WROTE MORE THAN ONCE")
    return 0 if exactly_once else 1


if __name__ == "__main__":
    raise SystemExit(main())
