"""The checks after a run on the emulators, shared by the comparison (bench.report)
and the load run (bench.load_run): the documents left behind against what the
callers were told, then the operator commands that recount the rollups and audit
every ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from generations_live.adapters.collections import GENERATION_EVENTS, LIVE_GENERATIONS
from generations_live.domain.analytics import START
from harness.clients import FirestoreAdminRest
from harness.emulators import EmulatorSuite, run_operator_command

# A failing command can print a long trace: its last lines say what went wrong.
SUMMARY_LINES = 2
SUMMARY_CHARS = 400


@dataclass(frozen=True)
class Check:
    """One judgment after a run: what was found, and whether it is what it must be."""

    what: str
    passed: bool


def calls_against_documents(
    name: str, documents: Mapping[str, int], calls: Mapping[str, int]
) -> Check:
    """Every user's documents (``documents``, by uid) equal its calls that succeeded."""
    wrong = [uid for uid in documents if documents[uid] != calls.get(uid, 0)]
    counted = (
        f"{sum(documents.values()):,} documents for {sum(calls.values()):,} calls that succeeded"
    )
    if wrong:
        # More documents than successes: calls that timed out at the client but committed.
        return Check(f"{name}: {counted}; {len(wrong)} user(s) differ", passed=False)
    return Check(f"{name}: {counted}, user by user", passed=True)


def feed_against_start_events(rest: FirestoreAdminRest) -> Check:
    """One feed document per start event, whoever started the generation."""
    feed = rest.count(LIVE_GENERATIONS)
    starts = rest.count(GENERATION_EVENTS, equals=("kind", START))
    if feed != starts:
        return Check(f"{feed:,} feed documents but {starts:,} start events", passed=False)
    return Check(f"{feed:,} feed documents and as many start events (every caller)", passed=True)


def operator_commands(suite: EmulatorSuite) -> list[Check]:
    """``rollup --lag 0`` (fold every event), then ``check`` (the rollups of yesterday and
    today equal a recount) and ``audit-ledgers`` (every balance equals its ledger): each
    passes when it exits 0."""
    today = datetime.now(UTC).date()
    # A run that crosses midnight UTC has generations on both days.
    days = ("--from", (today - timedelta(days=1)).isoformat(), "--to", today.isoformat())
    checks = []
    for args in (("rollup", "--lag", "0"), ("check", *days), ("audit-ledgers",)):
        done = run_operator_command(suite, *args)
        # Messages go to stderr and results to stdout; whichever said something.
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        summary = " / ".join(line for line in said[-SUMMARY_LINES:] if line)[:SUMMARY_CHARS]
        command = "python -m generations_live " + " ".join(args)
        checks.append(
            Check(f"`{command}`: exit {done.returncode}: {summary}", done.returncode == 0)
        )
    return checks
