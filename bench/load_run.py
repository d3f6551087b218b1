"""A bounded load run through the callables on the local emulators, then a
check that nothing was lost.

    .venv/bin/python -m bench.load_run [--users 50] [--seconds 60]

Simulated users (Auth-emulator accounts granted a few hundred credits) each
start generations one after another through ``trackGeneration``: mixed types and
batch sizes, some private, and now and then the same request resent with its
``requestId``. Worker threads settle every started generation through
``updateGenerationStatus`` (completed, failed, or canceled by its owner),
sometimes reporting twice. The run stops by itself; then it counts documents,
counters and ledger entries against what the clients were told, runs the
rollup, ``check`` and ``audit-ledgers`` (the checks bench.checks shares with
the comparison), and prints the generations per second, the answers by code and
every check. Exit 0 when nothing was lost.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.checks import Check, feed_against_start_events, operator_commands
from generations_live.adapters.collections import (
    GENERATION_EVENTS,
    LEDGER,
    LIVE_GENERATIONS,
    REQUEST_CLAIMS,
    USAGE,
    USER_GENERATIONS,
)
from generations_live.domain.analytics import END
from harness.clients import (
    AppUser,
    AuthEmulator,
    CallableClient,
    CallableError,
    FirestoreAdminRest,
    grant_each,
)
from harness.emulators import EmulatorSuite, emulator_suite

TYPES = ("image", "video", "audio", "text")
OUTCOMES = ("completed", "completed", "completed", "failed", "canceled")
CREDITS_PER_USER = 400
# The Functions emulator starts a Python worker per concurrent request; starting
# many at once makes them collide on ports, so they are warmed this many at a time.
WARM_STEP = 10
PROGRESS_EVERY_S = 10.0
RESEND_EVERY = 10  # one start in ten is resent with its requestId
REPORT_TWICE_EVERY = 10


@dataclass
class Ledger:
    """What the clients were told, from many threads."""

    started: dict[str, set[str]] = field(default_factory=dict)  # uid: generation ids
    settled: dict[str, str] = field(default_factory=dict)  # generation id: final status
    answers: dict[str, Counter[str]] = field(default_factory=dict)  # callable: code counts
    messages: dict[str, str] = field(default_factory=dict)  # "callable code": the first message
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, name: str, code: str, message: str = "") -> None:
        with self.lock:
            self.answers.setdefault(name, Counter())[code] += 1
            if message:
                self.messages.setdefault(f"{name} {code}", " ".join(message.split())[:160])


def call(api: CallableClient, ledger: Ledger, name: str, data: Any, token: str) -> Any:
    """One call; its result, or None when refused (the code is tallied either way)."""
    try:
        result = api.call(name, data, id_token=token)
    except CallableError as refused:
        ledger.answered(name, refused.code, str(refused))
        return None
    except requests.RequestException as failed:
        ledger.answered(name, type(failed).__name__, str(failed))
        return None
    ledger.answered(name, "ok")
    return result


def start_one(api: CallableClient, ledger: Ledger, user: AppUser, rng: random.Random) -> str | None:
    data = {
        "type": rng.choice(TYPES),
        "prompt": f"load run prompt {rng.randrange(10**6)}",
        "batchSize": rng.choice([1, 1, 1, 2]),
        "visibility": "private" if rng.random() < 0.1 else "public",
        "requestId": uuid.uuid4().hex,
    }
    answer = call(api, ledger, "trackGeneration", data, user.id_token)
    if answer is None:
        return None
    generation_id: str = answer["generationId"]
    with ledger.lock:
        ledger.started.setdefault(user.uid, set()).add(generation_id)
    if rng.randrange(RESEND_EVERY) == 0:
        again = call(api, ledger, "trackGeneration", data, user.id_token)
        if again is not None and again["generationId"] != generation_id:
            with ledger.lock:
                ledger.problems.append(f"a resend of {generation_id} started another generation")
    return generation_id


def settle_one(
    api: CallableClient,
    ledger: Ledger,
    generation_id: str,
    tokens: tuple[str, str],
    rng: random.Random,
) -> None:
    """Report an outcome as the worker (``tokens[1]``), or cancel as the owner (``tokens[0]``)."""
    status = rng.choice(OUTCOMES)
    token = tokens[0] if status == "canceled" else tokens[1]
    report = {"generationId": generation_id, "status": status, "durationMs": rng.randint(1, 9000)}
    times = 2 if rng.randrange(REPORT_TWICE_EVERY) == 0 else 1
    for _ in range(times):
        if call(api, ledger, "updateGenerationStatus", report, token) is not None:
            with ledger.lock:
                ledger.settled[generation_id] = status


@dataclass(frozen=True)
class Crowd:
    """The simulated users and the two accounts that serve them."""

    suite: EmulatorSuite
    users: list[AppUser]
    worker: AppUser
    seed: int

    def play(self, user: AppUser, ledger: Ledger, until: float, *, once: bool = False) -> None:
        """Start generations and have each settled right away, until ``until``:
        a user's calls follow one another, as from one browser tab and the
        worker that took its job; users run side by side."""
        rng = random.Random(f"{self.seed}-{user.uid}-{once}")
        api = CallableClient(self.suite.function_url(""), requests.Session())
        tokens = (user.id_token, self.worker.id_token)
        while time.monotonic() < until or once:
            generation_id = start_one(api, ledger, user, rng)
            if generation_id is not None:
                settle_one(api, ledger, generation_id, tokens, rng)
            if once:
                return

    def warm(self, ledger: Ledger) -> None:
        """Rounds of one start and report per user, WARM_STEP more users each
        time (their generations count like any other)."""
        for width in range(WARM_STEP, len(self.users) + WARM_STEP, WARM_STEP):
            group = self.users[:width]
            with ThreadPoolExecutor(max_workers=len(group)) as pool:
                list(pool.map(lambda user: self.play(user, ledger, 0.0, once=True), group))


@dataclass
class Report:
    users: int
    seconds: float
    starts: int
    reports: int
    answers: dict[str, Counter[str]]
    messages: dict[str, str]
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.passed for check in self.checks)

    def text(self) -> str:
        lines = [
            f"{self.users} users for {self.seconds:.1f} s: {self.starts:,} generations started "
            f"({self.starts / self.seconds:.1f}/s), {self.reports:,} status reports accepted "
            f"({self.reports / self.seconds:.1f}/s)",
        ]
        for name, codes in sorted(self.answers.items()):
            tally = ", ".join(f"{code} {n:,}" for code, n in codes.most_common())
            lines.append(f"  {name}: {tally}")
        lines += [f'    {key}: "{message}"' for key, message in sorted(self.messages.items())]
        lines += [f"  [{'ok' if c.passed else 'FAILED'}] {c.what}" for c in self.checks]
        return "\n".join(lines)


def gather_crowd(
    suite: EmulatorSuite, users: int, seed: int, credits: int = CREDITS_PER_USER
) -> Crowd:
    """Accounts in the Auth emulator, each user granted ``credits`` by an admin."""
    auth = AuthEmulator(suite.url("auth"), suite.project)
    admin = auth.create_user(display_name="Load Admin", claims={"admin": True})
    worker = auth.create_user(display_name="Load Worker", claims={"worker": True})
    people = [auth.create_user(display_name=f"Load User {i}") for i in range(users)]
    api = CallableClient(suite.function_url(""))
    grant_each(api, admin, people, credits, "load run")
    return Crowd(suite, people, worker, seed)


def run_load(suite: EmulatorSuite, users: int, seconds: float, seed: int = 1) -> Report:
    """Drive ``users`` simulated users for ``seconds`` through the suite's callables,
    then check that nothing was lost."""
    crowd = gather_crowd(suite, users, seed)
    ledger = Ledger()
    crowd.warm(ledger)
    warm_starts = sum(len(ids) for ids in ledger.started.values())
    warm_reports = ledger.answers.get("updateGenerationStatus", Counter())["ok"]
    finished = threading.Event()

    def progress() -> None:
        while not finished.wait(PROGRESS_EVERY_S):
            with ledger.lock:
                said = {name: dict(codes) for name, codes in ledger.answers.items()}
            print(f"  {time.monotonic() - started_at:.0f} s: {said}", file=sys.stderr)

    started_at = time.monotonic()
    threading.Thread(target=progress, daemon=True).start()
    until = started_at + seconds
    with ThreadPoolExecutor(max_workers=users) as pool:
        list(pool.map(lambda user: crowd.play(user, ledger, until), crowd.users))
    wall = time.monotonic() - started_at
    finished.set()
    starts = sum(len(ids) for ids in ledger.started.values()) - warm_starts
    reports = ledger.answers.get("updateGenerationStatus", Counter())["ok"] - warm_reports
    checks = check_nothing_lost(suite, ledger)
    return Report(users, wall, starts, reports, ledger.answers, ledger.messages, checks)


def fields_of(rest_fields: dict[str, Any], name: str) -> Any:
    value = rest_fields.get(name, {})
    return value.get("stringValue", value.get("integerValue"))


def check_nothing_lost(suite: EmulatorSuite, ledger: Ledger) -> list[Check]:
    """The documents, counters and ledger entries against what the clients were told,
    then the checks every run on the emulators shares (bench.checks)."""
    rest = FirestoreAdminRest(suite.url("firestore"), suite.project)
    checks = [Check(problem, passed=False) for problem in ledger.problems]

    def expect(what: str, passed: bool) -> None:
        checks.append(Check(what, passed))

    started = {gid: uid for uid, ids in ledger.started.items() for gid in ids}
    private = {
        path.rsplit("/", 1)[1]: f for path, f in rest.collection_group(USER_GENERATIONS).items()
    }
    public = {
        path.rsplit("/", 1)[1]: f for path, f in rest.collection_group(LIVE_GENERATIONS).items()
    }
    expect(
        f"{len(private):,} private and {len(public):,} public generation documents for "
        f"{len(started):,} starts the clients were answered",
        private.keys() == public.keys() == started.keys(),
    )
    wrong = [
        gid
        for gid in started
        if fields_of(public.get(gid, {}), "status") != ledger.settled.get(gid, "processing")
        or fields_of(private.get(gid, {}), "status") != fields_of(public.get(gid, {}), "status")
    ]
    expect(f"every generation's status is the one its reports were answered ({len(wrong)} not)",
           not wrong)  # fmt: skip
    # With the public documents equal to the starts, one start event per generation.
    checks.append(feed_against_start_events(rest))
    ends = rest.count(GENERATION_EVENTS, equals=("kind", END))
    expect(f"{ends:,} end events, one per settled generation", ends == len(ledger.settled))
    usage = rest.collection_group(USAGE)
    counted = sum(int(fields_of(f, "started") or 0) for f in usage.values())
    expect(f"the users' usage counters add up to {counted:,} generations", counted == len(started))
    entries = rest.collection_group(LEDGER)
    kinds = Counter(fields_of(f, "kind") for f in entries.values())
    finals = Counter(ledger.settled.values())
    expect(
        f"{kinds['hold']:,} holds, {kinds['charge']:,} charges and {kinds['release']:,} releases "
        f"for {len(started):,} starts, {finals['completed']:,} completed and "
        f"{finals['failed'] + finals['canceled']:,} failed or canceled",
        (kinds["hold"], kinds["charge"], kinds["release"])
        == (len(started), finals["completed"], finals["failed"] + finals["canceled"]),
    )
    claims = rest.collection_group(REQUEST_CLAIMS)
    expect(f"{len(claims)} request claim(s) left behind by finished calls", not claims)
    return checks + operator_commands(suite)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load_run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--users", type=int, default=50, help="simulated users (default 50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration (default 60)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.users < 1 or args.seconds <= 0:
        parser.error("--users must be at least 1 and --seconds positive")
    log = Path(tempfile.mkdtemp(prefix="load-run-")) / "firebase-tools.log"
    print(f"starting the emulators (log: {log})", file=sys.stderr)
    with emulator_suite(log=log) as suite:
        report = run_load(suite, args.users, args.seconds, args.seed)
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
