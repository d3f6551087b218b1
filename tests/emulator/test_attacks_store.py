"""Attacks and faults proved at the store: refused callers take no lock, one bad
generation or rollup never stops a scheduled run, exports cannot carry formulas."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore

from generations_live.adapters import rollups as rollup_adapter
from generations_live.adapters.claims import RequestClaims
from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.rollups import RollupStore
from generations_live.domain.errors import PermissionDenied
from generations_live.domain.models import (
    ReportGenerationRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.entrypoints import cli
from generations_live.services import moderation, rollups, tracking
from harness.callers import member
from harness.in_process import function_client

OWNER = member("owner", {"name": "Owner"})
STRANGER = member("stranger", {"name": "Stranger"})
WORKER = member("worker-1", {"worker": True})


def start(store: GenerationStore, caller: Any = OWNER, prompt: str = "a quiet lake") -> str:
    request = TrackGenerationRequest.model_validate({"type": "text", "prompt": prompt})
    answer = tracking.track_generation(store, caller, request, settings(), datetime.now(UTC))
    generation_id: str = answer["generationId"]
    return generation_id


@pytest.fixture
def claims_taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every request claim key a call tries to take, in order."""
    taken: list[str] = []
    take = RequestClaims._take

    def recording_take(self: RequestClaims, key: str) -> Any:
        taken.append(key)
        return take(self, key)

    monkeypatch.setattr(RequestClaims, "_take", recording_take)
    return taken


@pytest.mark.usefixtures("emulator")
def test_a_refused_report_takes_no_claim(db: firestore.Client, claims_taken: list[str]) -> None:
    store = GenerationStore(db)
    generation_id = start(store)
    report = UpdateGenerationStatusRequest.model_validate(
        {"generationId": generation_id, "status": "canceled"}
    )
    for _ in range(3):
        with pytest.raises(PermissionDenied):
            tracking.update_generation_status(store, STRANGER, report, datetime.now(UTC))
    assert claims_taken == []
    # The owner's own cancel still takes its turn, as before.
    tracking.update_generation_status(store, OWNER, report, datetime.now(UTC))
    assert claims_taken == [f"finish/{generation_id}"]


@pytest.mark.usefixtures("emulator")
def test_a_repeated_report_takes_no_claim(db: firestore.Client, claims_taken: list[str]) -> None:
    store = GenerationStore(db)
    generation_id = start(store)
    report = ReportGenerationRequest.model_validate(
        {"generationId": generation_id, "reason": "spam"}
    )
    first = moderation.report_generation(store, STRANGER, report)
    assert (first["counted"], first["reportCount"]) == (True, 1)
    for _ in range(3):
        again = moderation.report_generation(store, STRANGER, report)
        assert (again["counted"], again["reportCount"]) == (False, 1)
    assert claims_taken == [f"report/{generation_id}"]


@pytest.mark.usefixtures("emulator")
def test_the_sweeper_settles_the_rest_past_a_generation_it_cannot_settle(
    db: firestore.Client,
) -> None:
    store = GenerationStore(db)
    broken, *healthy = (start(store, prompt=f"stuck {n}") for n in range(3))
    # A record the sweeper cannot settle (its cost is not a number).
    db.document(f"users/owner/generations/{broken}").update({"cost": "unreadable"})
    later = datetime.now(UTC) + settings().processing_timeout + timedelta(minutes=1)
    with pytest.raises(ValueError, match="unreadable"):
        # Raised after the others were settled, so the scheduled run shows as failed.
        tracking.sweep_stuck_generations(store, settings(), later)
    statuses = {
        generation_id: (db.document(f"live_generations/{generation_id}").get().to_dict() or {})[
            "status"
        ]
        for generation_id in (broken, *healthy)
    }
    assert statuses == {broken: "processing", healthy[0]: "failed", healthy[1]: "failed"}


def scheduler_headers(job: str) -> dict[str, str]:
    return {
        "X-CloudScheduler-ScheduleTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "X-CloudScheduler-JobName": job,
    }


@pytest.mark.usefixtures("emulator")
def test_one_failing_rollup_does_not_stop_the_other(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    start(GenerationStore(db))  # a hold in the ledger for the billing rollup
    run_rollup = rollups.run_rollup

    def generations_broken(store: Any, rollup: rollups.Rollup, *args: Any, **kwargs: Any) -> Any:
        if rollup is rollups.GENERATION_ROLLUP:
            raise RuntimeError("an analytics document grew too large")
        return run_rollup(store, rollup, *args, **kwargs)

    monkeypatch.setattr(rollups, "run_rollup", generations_broken)
    monkeypatch.setenv("ROLLUP_LAG_SECONDS", "0")
    reply = function_client("rollupAnalytics").post("/", headers=scheduler_headers("rollup"))
    assert reply.status_code == 500  # the scheduler sees the failure and retries
    billing_meta = db.document("analytics_meta/billing").get().to_dict() or {}
    assert billing_meta.get("eventsFolded", 0) >= 2  # the daily free credits and the hold
    assert not db.document("analytics_meta/generations").get().exists


@pytest.mark.usefixtures("emulator")
def test_exported_cells_never_start_a_formula(
    db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = GenerationStore(db)
    # ("@" never reaches the feed either: a name with one looks like an email.)
    names = ('=HYPERLINK("http://evil")', "+1", "-2", "@SUM(A1)", "\tTab", "Plain")
    for index, name in enumerate(names):
        start(store, member(f"creator-{index}", {"name": name}))
    out = tmp_path / "generations.csv"
    today = datetime.now(UTC).date().isoformat()
    code = cli.main(["export-generations", "--from", today, "--to", today, "--out", str(out)])
    capsys.readouterr()
    assert code == 0
    with out.open(newline="", encoding="utf-8") as exported:
        cells = sorted(row["userName"] for row in csv.DictReader(exported))
    # (A leading tab never reaches the feed: display names are trimmed.)
    assert cells == sorted(
        ['\'=HYPERLINK("http://evil")', "'+1", "'-2", "Anonymous creator", "Tab", "Plain"]
    )
    assert all(not cell.startswith(cli.FORMULA_STARTS) for cell in cells)


@pytest.mark.parametrize("cell", ["=1+2", "+1", "-1", "@A1", "\tx", "\rx"])
def test_every_formula_start_is_neutralised(cell: str) -> None:
    assert cli.spreadsheet_safe(cell) == "'" + cell
    assert cli.spreadsheet_safe(-2) == -2  # numbers stay numbers
    assert cli.spreadsheet_safe("a=1") == "a=1"


@pytest.mark.usefixtures("emulator")
def test_a_day_of_many_users_never_grows_a_user_shard_past_its_cap(
    db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Accounts cost an attacker nothing: with a cap of 2 a shard, 40 creators
    # (16 shards) must overflow, and the recount must still agree.
    monkeypatch.setattr(rollup_adapter, "MAX_USERS_PER_SHARD", 2)
    store = GenerationStore(db)
    for index in range(40):
        start(store, member(f"creator-{index:02d}", {"name": f"Creator {index}"}))
    rollup_store = RollupStore(db)
    later = datetime.now(UTC) + timedelta(seconds=1)
    for rollup in rollups.ROLLUPS:
        rollups.run_rollup(rollup_store, rollup, later, lag=timedelta(0))

    shards = [
        snapshot.to_dict() or {}
        for snapshot in db.collection(rollup_adapter.GENERATIONS.users_collection).stream()
    ]
    named = sum(len(shard.get("counts", {})) for shard in shards)
    overflow = sum(int(shard.get("overflow", 0)) for shard in shards)
    assert all(len(shard.get("counts", {})) <= 2 for shard in shards)
    assert named + overflow == 40  # one start each: every generation is counted somewhere
    assert overflow > 0

    today = datetime.now(UTC).date()
    assert rollups.check(rollup_store, rollups.GENERATION_ROLLUP, today, today) == {}
    assert rollups.check(rollup_store, rollups.BILLING_ROLLUP, today, today) == {}
    rollups.backfill(rollup_store, rollups.GENERATION_ROLLUP, today, today, later, lag=timedelta(0))
    assert rollups.check(rollup_store, rollups.GENERATION_ROLLUP, today, today) == {}
    answer = rollups.window_answer(rollup_store, rollups.GENERATION_ROLLUP, 1)
    assert answer["total"] == 40
    assert answer["activeUsers"] <= 32  # the named ones: a lower bound past the cap
