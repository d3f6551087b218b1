"""``check`` while rollups and traffic run: it compares the rollups and the
recount at one consistent instant, so a concurrent rollup never shows as a
difference."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.rollups import RollupBusy, RollupStore
from generations_live.domain.models import TrackGenerationRequest, UpdateGenerationStatusRequest
from generations_live.services import rollups, tracking
from harness.callers import member

CHECKS = 25
# Behind now, as the scheduled job stays: events commit with the server's clock.
LAG = timedelta(seconds=1)
WORKER = member("worker-1", {"worker": True})


def traffic(store: GenerationStore, stop: threading.Event) -> None:
    rng = random.Random(5)
    while not stop.is_set():
        # A new creator each time: the daily free credits pay for it.
        caller = member(f"racer-{rng.getrandbits(48):x}", {"name": "Racer"})
        request = TrackGenerationRequest.model_validate(
            {"type": rng.choice(["image", "text", "audio"]), "prompt": "a race"}
        )
        started = tracking.track_generation(store, caller, request, settings(), datetime.now(UTC))
        report = UpdateGenerationStatusRequest.model_validate(
            {"generationId": started["generationId"], "status": rng.choice(["completed", "failed"])}
        )
        tracking.update_generation_status(store, WORKER, report, datetime.now(UTC))


def rolling(rollup_store: RollupStore, stop: threading.Event) -> None:
    while not stop.is_set():
        for rollup in rollups.ROLLUPS:
            # Small batches: a run is half-way (folded past asOf) most of the time.
            rollups.run_rollup(rollup_store, rollup, datetime.now(UTC), lag=LAG)


@pytest.mark.usefixtures("emulator")
def test_check_never_reports_a_difference_a_concurrent_rollup_causes(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollups, "EVENTS_PER_BATCH", 3)
    store, rollup_store = GenerationStore(db), RollupStore(db)
    for rollup in rollups.ROLLUPS:
        rollups.run_rollup(rollup_store, rollup, datetime.now(UTC), lag=LAG)
    stop = threading.Event()
    workers = [
        threading.Thread(target=traffic, args=(store, stop)),
        threading.Thread(target=rolling, args=(rollup_store, stop)),
    ]
    for worker in workers:
        worker.start()
    today = datetime.now(UTC).date()
    found: list[dict[str, Any]] = []
    busy = 0
    try:
        for _ in range(CHECKS):
            for rollup in rollups.ROLLUPS:
                try:
                    found.append(rollups.check(rollup_store, rollup, today, today))
                except RollupBusy:
                    busy += 1
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=120)
    assert busy < CHECKS  # most checks found a moment between runs
    assert found == [{}] * len(found)
    events = db.document("analytics_meta/generations").get().get("eventsFolded")
    assert events > 2 * CHECKS / 5  # the rollups really ran during the checks
