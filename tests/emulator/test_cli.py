"""The operator CLI, run in-process through ``cli.main`` against the real
Firestore emulator: usage errors, the analytics commands on generations made
by the real use cases, a failed check after tampering, and the module entry."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from google.cloud import firestore

from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.domain.credits import CreditPolicy
from generations_live.domain.identity import Caller
from generations_live.domain.models import TrackGenerationRequest, UpdateGenerationStatusRequest
from generations_live.entrypoints import cli
from generations_live.services import tracking
from harness.callers import member
from harness.emulators import ROOT

# Plenty of daily credits: these tests are about the commands, not money.
SETTINGS = replace(
    settings(), credit_policy=CreditPolicy(overdraft_allowance=10, daily_free_floor=1000)
)
ALICE = member("alice", {"name": "Alice", "email": "alice@example.com"})
BOB = member("bob", {"name": "Bob", "email": "bob@example.com"})
WORKER = member("worker-1", {"worker": True})

COMMANDS_AND_PURPOSES = {
    "rollup": "rollups",
    "backfill": "Rebuild",
    "check": "recount",
    "cleanup": "GENERATION_RETENTION_DAYS",
    "sweep-stuck": "processing",
    "audit-ledgers": "ledger",
    "export-analytics": "CSV",
    "export-generations": "CSV",
    "delete-account": "Erase",
}


def today() -> date:
    return datetime.now(UTC).date()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns its exit code, stdout and stderr."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def start(store: GenerationStore, caller: Caller, generation_type: str) -> str:
    request = TrackGenerationRequest.model_validate(
        {"type": generation_type, "prompt": f"a private {generation_type}", "visibility": "private"}
    )
    now = datetime.now(UTC)
    generation_id: str = tracking.track_generation(store, caller, request, SETTINGS, now)[
        "generationId"
    ]
    return generation_id


def complete(store: GenerationStore, generation_id: str) -> None:
    request = UpdateGenerationStatusRequest.model_validate(
        {"generationId": generation_id, "status": "completed", "durationMs": 1234}
    )
    tracking.update_generation_status(store, WORKER, request, datetime.now(UTC))


@pytest.fixture
def generations(db: firestore.Client) -> dict[str, str]:
    """Three generations of today, one of them completed: id by label."""
    store = GenerationStore(db)
    made = {
        "alice-image": start(store, ALICE, "image"),
        "alice-video": start(store, ALICE, "video"),
        "bob-image": start(store, BOB, "image"),
    }
    complete(store, made["alice-image"])
    return made


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as rows:
        return list(csv.DictReader(rows))


@pytest.mark.parametrize("command", sorted(COMMANDS_AND_PURPOSES))
def test_every_command_has_help_that_says_what_it_does(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    code, out, _ = run(capsys, command, "--help")

    assert code == 0
    assert COMMANDS_AND_PURPOSES[command] in out
    assert f"python -m generations_live {command}" in out


def test_the_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")

    assert code == 0
    for command in COMMANDS_AND_PURPOSES:
        assert command in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["backfill", "--from", "2026-13-01", "--to", "2026-12-01"], "not a valid date"),
        (["check", "--from", "1/2/2026", "--to", "2026-01-03"], "form YYYY-MM-DD"),
        (["check", "--from", "20260101", "--to", "2026-01-03"], "form YYYY-MM-DD"),
        (["check", "--from", "2026-01-10", "--to", "2026-01-01"], "comes after --to"),
        (["backfill", "--from", "2024-01-01", "--to", "2025-01-01"], "at most 366"),
        (["export-generations", "--from", "2026-01-01", "--out", "x.csv"], "--to"),
        (["export-analytics", "--days", "0", "--out", "x.csv"], "0 is not between 1 and 90"),
        (["export-analytics", "--days", "91", "--out", "x.csv"], "91 is not between 1 and 90"),
        (["export-analytics", "--days", "seven", "--out", "x.csv"], "not a whole number"),
        (["export-analytics", "--days", "7"], "required: --out"),
        (["export-analytics", "--days", "7", "--out", "x.csv", "--rollup", "all"], "choice"),
        (["rollup", "--rollup", "sales"], "invalid choice: 'sales'"),
        (["rollup", "--lag", "-1"], "-1 is not between 0 and 86400"),
        (["cleanup", "--batch-size", "0"], "0 is not between 1 and 500"),
        (["cleanup", "--max-batches", "0"], "0 is not between 1 and 100000"),
    ],
)
def test_bad_input_exits_with_usage_and_a_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)

    assert code == cli.EXIT_USAGE
    assert out == ""
    assert message in err


def test_a_day_range_ending_in_the_future_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    tomorrow = (today() + timedelta(days=1)).isoformat()

    code, _, err = run(capsys, "check", "--from", today().isoformat(), "--to", tomorrow)

    assert code == cli.EXIT_USAGE
    assert f"--to {tomorrow} is in the future" in err


def test_an_output_in_a_missing_directory_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "missing" / "window.csv"

    code, _, err = run(capsys, "export-analytics", "--days", "7", "--out", str(out_file))

    assert code == cli.EXIT_USAGE
    assert "no directory" in err


@pytest.mark.usefixtures("emulator")
def test_check_before_any_rollup_fails_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    day = today().isoformat()

    code, _, err = run(capsys, "check", "--from", day, "--to", day)

    assert code == cli.EXIT_FAILED
    assert err.strip() == "error: no rollup has run yet: run one first"


def test_rollup_check_and_exports_of_real_generations(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    db: firestore.Client,
    generations: dict[str, str],
) -> None:
    day = today().isoformat()
    week_ago = (today() - timedelta(days=6)).isoformat()

    code, out, _ = run(capsys, "rollup", "--lag", "0")
    assert code == cli.EXIT_OK
    lines = out.splitlines()
    # Four events (three starts, one end); billing folds the ledger entries.
    assert lines[0].startswith("generations: folded 4 event(s) in 1 batch(es), asOf ")
    assert lines[1].startswith("billing: folded ")
    assert len(lines) == 2

    code, out, _ = run(capsys, "check", "--from", week_ago, "--to", day)
    assert code == cli.EXIT_OK
    assert out.strip() == "generations and billing rollups match a recount for 7 days"

    window_csv = tmp_path / "window.csv"
    code, _, err = run(capsys, "export-analytics", "--days", "7", "--out", str(window_csv))
    assert code == cli.EXIT_OK
    assert "wrote 7 day(s) of generations" in err
    rows = read_csv(window_csv)
    assert [row["day"] for row in rows] == [
        (today() - timedelta(days=offset)).isoformat() for offset in range(6, -1, -1)
    ]
    assert list(rows[0]) == ["day", "image", "video", "audio", "text", "total"]
    assert rows[-1] == {
        "day": day,
        "image": "2",
        "video": "1",
        "audio": "0",
        "text": "0",
        "total": "3",
    }
    assert all(row["total"] == "0" for row in rows[:-1])

    code, out, _ = run(
        capsys, "export-analytics", "--days", "1", "--rollup", "billing", "--out", "-"
    )
    assert code == cli.EXIT_OK
    (billing_today,) = csv.DictReader(io.StringIO(out))
    # Only the completed image (5 credits) is charged; the others still hold theirs.
    assert billing_today["day"] == day
    assert billing_today["charged"] == "5"
    assert billing_today["released"] == "0"

    export_csv = tmp_path / "generations.csv"
    code, _, err = run(
        capsys, "export-generations", "--from", week_ago, "--to", day, "--out", str(export_csv)
    )
    assert code == cli.EXIT_OK
    assert "wrote 3 generation(s)" in err
    text = export_csv.read_text(encoding="utf-8")
    assert "@" not in text
    assert "private" not in text  # neither the private prompts nor their visibility
    exported = {row["id"]: row for row in read_csv(export_csv)}
    assert set(exported) == set(generations.values())
    assert list(next(iter(exported.values()))) == [
        "id",
        "createdAt",
        "completedAt",
        "userId",
        "userName",
        "type",
        "engine",
        "status",
        "durationMs",
    ]
    done = exported[generations["alice-image"]]
    assert (done["userId"], done["userName"], done["type"]) == ("alice", "Alice", "image")
    assert (done["status"], done["durationMs"]) == ("completed", "1234")
    assert datetime.fromisoformat(done["completedAt"]) >= datetime.fromisoformat(done["createdAt"])
    assert datetime.fromisoformat(done["createdAt"]).date() == today()
    pending = exported[generations["bob-image"]]
    assert (pending["status"], pending["completedAt"], pending["durationMs"]) == (
        "processing",
        "",
        "",
    )

    code, out, _ = run(capsys, "cleanup")
    assert code == cli.EXIT_OK
    assert out.startswith("deleted 0 generation(s) created before ")

    # Tamper with today's rollup: the check finds it and names the day.
    db.document(f"analytics_days/{day}").update({"total": 999})
    code, out, err = run(capsys, "check", "--from", week_ago, "--to", day)
    assert code == cli.EXIT_CHECK_FAILED
    differences = json.loads(out)
    assert list(differences) == ["generations"]
    assert list(differences["generations"]) == [day]
    # Only the counters that differ, rollup against recount.
    assert differences["generations"][day] == {"total": {"rollup": 999, "recount": 3}}
    assert "generations: 1 of 7 day(s) differ from a recount" in err

    # A backfill of that day repairs it.
    code, out, _ = run(capsys, "backfill", "--from", day, "--to", day, "--rollup", "generations")
    assert code == cli.EXIT_OK
    assert out.strip() == f"generations: rebuilt 1 day(s), {day} to {day}"
    code, out, err = run(capsys, "check", "--from", week_ago, "--to", day)
    assert code == cli.EXIT_OK, (out, err)


@pytest.mark.usefixtures("generations")
def test_export_of_days_without_generations_writes_only_the_header(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    last_year = (today() - timedelta(days=365)).isoformat()
    out_file = tmp_path / "empty.csv"

    code, _, err = run(
        capsys, "export-generations", "--from", last_year, "--to", last_year, "--out", str(out_file)
    )

    assert code == cli.EXIT_OK
    assert out_file.read_text().splitlines() == [
        "id,createdAt,completedAt,userId,userName,type,engine,status,durationMs"
    ]
    assert "wrote 0 generation(s)" in err


@pytest.mark.usefixtures("generations")
def test_a_rollup_held_by_a_backfill_is_not_run(
    capsys: pytest.CaptureFixture[str], db: firestore.Client
) -> None:
    lease = datetime.now(UTC) + timedelta(minutes=10)
    db.document("analytics_meta/generations").set({"leaseUntil": lease}, merge=True)

    code, out, err = run(capsys, "rollup", "--lag", "0")

    assert code == cli.EXIT_FAILED
    assert "generations: not run: the generations rollup is held by a backfill" in err
    assert out.startswith("billing: folded ")  # the other rollup still runs


@pytest.mark.usefixtures("emulator")
def test_export_analytics_before_any_rollup_writes_zeros(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "export-analytics", "--days", "3", "--out", "-")

    assert code == cli.EXIT_OK
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 3
    assert all(row["total"] == "0" for row in rows)
    assert "no generations rollup has run yet" in err


def test_the_module_entry_point_runs(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "functions")}

    shown = subprocess.run(
        [sys.executable, "-m", "generations_live", "--help"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: python -m generations_live")
    assert "export-generations" in shown.stdout
