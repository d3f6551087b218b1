"""One abusive user among honest ones, on the local emulators: do the honest
users notice?

    .venv/bin/python -m bench.abuse [--honest 20] [--seconds 30] [--abusive-threads 1] [--rounds 2]

The honest users (paying customers: each is granted credits) play as in
bench.load_run: one tab each, a start then its outcome, again and again. They
run for ``--seconds`` at a time, ``--rounds`` times alternating in one run:
alone, then with one abusive user beside them, a verified account of the standard tier whose
``--abusive-threads`` threads start generations as fast as the backend
answers, canceling each one they get so that only the start limits can stop
them. Prints the honest users' generations per second and error rate in both
phases and their ratio, what the abuser got and why it was refused, then runs
``rollup``, ``check`` and ``audit-ledgers``. Exit 0 when the checks pass.

One thread by default: concurrent starts of one account are transactions on
the same billing document, and the Firestore emulator's pessimistic locks make
four of them at once wait for a minute or more (their own calls, not the honest
users'), so a run with more threads measures the emulator's locks rather than
the limits. Once the abuser's bucket is empty its starts are refused from a
plain read, without a transaction.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.checks import Check, operator_commands
from bench.load_run import Crowd, Ledger, gather_crowd
from harness.clients import AppUser, AuthEmulator, CallableClient, CallableError
from harness.emulators import EmulatorSuite, emulator_suite

# Paying customers with credits to spare: what stops them must be nothing, so any
# refusal they meet is one the abuser caused.
HONEST_CREDITS = 100_000


@dataclass
class Phase:
    name: str
    seconds: float
    starts: int
    honest_calls: int
    honest_refused: int
    refusals: Counter[str] = field(default_factory=Counter)

    @classmethod
    def total(cls, phases: list[Phase]) -> Phase:
        return cls(
            phases[0].name,
            sum(phase.seconds for phase in phases),
            sum(phase.starts for phase in phases),
            sum(phase.honest_calls for phase in phases),
            sum(phase.honest_refused for phase in phases),
            sum((phase.refusals for phase in phases), Counter()),
        )

    @property
    def rate(self) -> float:
        return self.starts / self.seconds

    @property
    def error_rate(self) -> float:
        return self.honest_refused / self.honest_calls if self.honest_calls else 0.0


@dataclass
class Abuser:
    """What the abusive user was answered."""

    answers: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def tally(self, outcome: str) -> None:
        with self.lock:
            self.answers[outcome] += 1


def honest_phase(crowd: Crowd, name: str, seconds: float) -> Phase:
    ledger = Ledger()
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(crowd.users)) as pool:
        list(pool.map(lambda user: crowd.play(user, ledger, began + seconds), crowd.users))
    wall = time.monotonic() - began
    calls = sum(sum(codes.values()) for codes in ledger.answers.values())
    refused = sum(
        count for codes in ledger.answers.values() for code, count in codes.items() if code != "ok"
    )
    starts = sum(len(ids) for ids in ledger.started.values())
    refusals = Counter(
        {
            f"{function} {code}": count
            for function, codes in ledger.answers.items()
            for code, count in codes.items()
            if code != "ok"
        }
    )
    return Phase(name, wall, starts, calls, refused, refusals)


def abuse(suite: EmulatorSuite, user: AppUser, abuser: Abuser, until: float, seed: int) -> None:
    """Start generations as fast as answers come, canceling each one started."""
    rng = random.Random(seed)
    api = CallableClient(suite.function_url(""), requests.Session())
    while time.monotonic() < until:
        data = {"type": "text", "prompt": f"spam {rng.randrange(10**9)}"}
        try:
            started = api.call("trackGeneration", data, id_token=user.id_token)
        except CallableError as refused:
            reason = (refused.details or {}).get("reason", "")
            abuser.tally(f"{refused.code} {reason}".strip())
            continue
        except requests.RequestException as failed:
            abuser.tally(type(failed).__name__)
            continue
        abuser.tally("started")
        cancel = {"generationId": started["generationId"], "status": "canceled"}
        try:
            api.call("updateGenerationStatus", cancel, id_token=user.id_token)
        except (CallableError, requests.RequestException) as failed:
            abuser.tally(f"cancel {type(failed).__name__}")


@dataclass
class Report:
    alone: Phase
    beside: Phase
    abuser: Counter[str]
    abusive_threads: int
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.passed for check in self.checks)

    def text(self) -> str:
        ratio = self.beside.rate / self.alone.rate if self.alone.rate else float("nan")
        attempts = sum(self.abuser.values())
        lines = [
            f"honest users alone:       {self.alone.starts:,} generations in "
            f"{self.alone.seconds:.1f} s = {self.alone.rate:.2f}/s, "
            f"{self.alone.honest_refused} of {self.alone.honest_calls:,} calls refused "
            f"({self.alone.error_rate:.2%}){_listed(self.alone.refusals)}",
            f"beside the abusive user:  {self.beside.starts:,} generations in "
            f"{self.beside.seconds:.1f} s = {self.beside.rate:.2f}/s, "
            f"{self.beside.honest_refused} of {self.beside.honest_calls:,} calls refused "
            f"({self.beside.error_rate:.2%}){_listed(self.beside.refusals)}",
            f"honest throughput beside the abuser / alone: {ratio:.2f}",
            f"the abusive user ({self.abusive_threads} threads): {attempts:,} starts tried, "
            + ", ".join(f"{outcome} {n:,}" for outcome, n in self.abuser.most_common()),
        ]
        lines += [f"  [{'ok' if c.passed else 'FAILED'}] {c.what}" for c in self.checks]
        return "\n".join(lines)


def _listed(refusals: Counter[str]) -> str:
    return (
        (": " + ", ".join(f"{what} {n:,}" for what, n in refusals.most_common()))
        if refusals
        else ""
    )


def run_abuse(
    suite: EmulatorSuite,
    honest: int,
    seconds: float,
    abusive_threads: int,
    *,
    seed: int = 1,
    rounds: int = 2,
) -> Report:
    """Alternate ``rounds`` times: the honest users alone, then beside the abuser."""
    crowd = gather_crowd(suite, honest, seed, credits=HONEST_CREDITS)
    crowd.warm(Ledger())
    auth = AuthEmulator(suite.url("auth"), suite.project)
    spammer = auth.create_user(display_name="Spammer")
    alone: list[Phase] = []
    beside: list[Phase] = []
    abuser = Abuser()
    for round_number in range(rounds):
        print(f"round {round_number + 1}: honest users alone for {seconds:.0f} s", file=sys.stderr)
        alone.append(honest_phase(crowd, "alone", seconds))
        print(f"round {round_number + 1}: beside the abuser for {seconds:.0f} s", file=sys.stderr)
        until = time.monotonic() + seconds
        threads = [
            threading.Thread(
                target=abuse, args=(suite, spammer, abuser, until, seed + 100 * round_number + i)
            )
            for i in range(abusive_threads)
        ]
        for thread in threads:
            thread.start()
        beside.append(honest_phase(crowd, "beside", seconds))
        for thread in threads:
            thread.join()
    return Report(
        Phase.total(alone),
        Phase.total(beside),
        abuser.answers,
        abusive_threads,
        operator_commands(suite),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.abuse", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--honest", type=int, default=20, help="honest users (default 20)")
    parser.add_argument("--seconds", type=float, default=30.0, help="each phase (default 30)")
    parser.add_argument(
        "--abusive-threads",
        type=int,
        default=1,
        help="the abuser's concurrent calls (default 1: see the module's note)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternations (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if min(args.honest, args.abusive_threads, args.rounds) < 1 or args.seconds <= 0:
        parser.error("--honest, --abusive-threads and --rounds must be at least 1, --seconds > 0")
    log = Path(tempfile.mkdtemp(prefix="abuse-run-")) / "firebase-tools.log"
    print(f"starting the emulators (log: {log})", file=sys.stderr)
    with emulator_suite(log=log) as suite:
        report = run_abuse(
            suite,
            args.honest,
            args.seconds,
            args.abusive_threads,
            seed=args.seed,
            rounds=args.rounds,
        )
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
