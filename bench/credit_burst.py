"""A concurrent spending run on the local emulators, then the ledger audit.

    .venv/bin/python -m bench.credit_burst [--users 4] [--calls-per-user 6]

Each user has today's free credits only (10: one video of 10 credits, N = 1).
All users fire ``--calls-per-user`` video starts at once (3N by default),
through the callables. A worker then completes or fails every accepted
generation, reporting each one twice. Finally the operator
audit checks every balance and hold against its ledger. Prints the calls that
were accepted, soft-blocked and refused, and the audit's result.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.clients import AppUser, AuthEmulator, CallableClient, CallableError
from harness.emulators import emulator_suite, run_operator_command

ACCEPTED = ("accepted", "soft-blocked")


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.credit_burst", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--calls-per-user", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.users < 1 or args.calls_per_user < 1:
        parser.error("--users and --calls-per-user must be at least 1")
    rng = random.Random(args.seed)
    log = Path(tempfile.mkdtemp(prefix="credit-burst-")) / "firebase-tools.log"
    with emulator_suite(log=log) as suite:
        auth = AuthEmulator(suite.url("auth"), suite.project)
        api = CallableClient(suite.function_url(""))
        spenders = [auth.create_user(display_name=f"Spender {i}") for i in range(args.users)]
        worker = auth.create_user(display_name="Worker", claims={"worker": True})

        def start(spender: AppUser) -> tuple[str, str | None]:
            data = {"type": "video", "prompt": "a burst of foxes"}
            try:
                answer = api.call("trackGeneration", data, id_token=spender.id_token)
            except CallableError as refused:
                return refused.code, None
            return ("soft-blocked" if "warning" in answer else "accepted"), answer["generationId"]

        calls = [spender for spender in spenders for _ in range(args.calls_per_user)]
        # The Functions emulator starts a Python worker per concurrent request;
        # warm as many first (users of their own, nothing in common with the
        # spenders) so the burst measures transactions, not interpreter start-up.
        warmers = [auth.create_user(display_name=f"Warm-up {i}") for i in range(len(calls))]
        with ThreadPoolExecutor(max_workers=len(warmers)) as pool:
            list(pool.map(start, warmers))
        started_at = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            results = list(pool.map(start, calls))
        burst_s = time.monotonic() - started_at
        outcomes = Counter(outcome for outcome, _ in results)
        started = [gid for _, gid in results if gid is not None]
        outcomes_by_generation = {
            gid: rng.choice(["completed", "completed", "failed"]) for gid in started
        }

        def finish(generation_id: str) -> None:
            # A worker reports twice (a retry after a lost answer): charged once.
            report = {
                "generationId": generation_id,
                "status": outcomes_by_generation[generation_id],
            }
            for _ in range(2):
                api.call("updateGenerationStatus", report, id_token=worker.id_token)

        with ThreadPoolExecutor(max_workers=len(started) or 1) as pool:
            list(pool.map(finish, started))
        audit = run_operator_command(suite, "audit-ledgers")

    settled = Counter(outcomes_by_generation.values())
    refused = {code: n for code, n in outcomes.items() if code not in ACCEPTED}
    print(
        f"{len(calls)} concurrent trackGeneration calls from {args.users} users "
        f"({args.calls_per_user} each, credits for 1 each) in {burst_s:.1f} s"
    )
    print(
        f"  accepted: {outcomes['accepted']}, soft-blocked: {outcomes['soft-blocked']}, "
        f"refused: {sum(refused.values())} {refused}"
    )
    print(f"  then {dict(settled)}, each reported twice by the worker")
    print(f"audit-ledgers exit {audit.returncode}: {audit.stderr.strip()}")
    print(json.dumps(json.loads(audit.stdout), sort_keys=True))
    return audit.returncode


if __name__ == "__main__":
    sys.exit(main())
