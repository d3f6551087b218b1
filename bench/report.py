"""Our design against the naive baseline platform teams start from, measured in
one run on the local emulators; regenerates docs/benchmarks.md.

    .venv/bin/python scripts/bench.py [--quick]

The baseline is built here, faithfully: the client writes its own generation
document, and the dashboard polls the 50 newest generations every 5 seconds
and recomputes its analytics by reading every generation of the last 7 days.
Each figure is printed as ours, baseline and ours / baseline as soon as it is
measured. A full run takes about 11 minutes on 2 cores; ``--quick`` scales the
sizes and durations down (about 3.5 minutes: the measured dashboard minute
stays a minute, and 50 function workers still have to start).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from bench.start_latency import StartProbe, interleaved, percentile
from generations_live.adapters.collections import LIVE_GENERATIONS
from generations_live.adapters.generations import GenerationStore, LiveQuery
from generations_live.adapters.rollups import RollupStore
from generations_live.domain.models import MAX_GRANT, MAX_LIVE_LIMIT
from generations_live.services import rollups
from harness.clients import (
    AppUser,
    AuthEmulator,
    CallableClient,
    CallableError,
    FirestoreAdminRest,
    grant_each,
)
from harness.emulators import (
    ROOT,
    EmulatorSuite,
    emulator_suite,
    firebase_tools_version,
    firestore_emulator,
    firestore_emulator_version,
    java_home_for_firebase_tools,
    run_operator_command,
    system_java,
)
from harness.history import (
    TYPES,
    counting_document_reads,
    finish_generation,
    seed_history,
    soon,
    start_and_finish,
    start_generation,
)

DOCS = ROOT / "docs" / "benchmarks.md"
FUNCTIONS_DIR = ROOT / "functions"
FUNCTIONS_PYTHON = FUNCTIONS_DIR / "venv" / "bin" / "python"
GENERATION = rollups.GENERATION_ROLLUP
NO_LAG = timedelta(0)

# The dashboard both designs serve.
WINDOW_DAYS = 7
FEED_LIMIT = MAX_LIVE_LIMIT  # the 50 newest
POLL_EVERY_S = 5.0
# Both dashboards refresh their analytics this often, and the measured period
# is one such cycle, so "per hour" is the opening reads plus 60 measured minutes.
REFRESH_EVERY_S = 60.0
TRICKLE_EVERY_S = 2.0
TRICKLE_PER_MINUTE = int(REFRESH_EVERY_S / TRICKLE_EVERY_S)
TRICKLE_GRACE_S = 60.0
# seed_history places generations 1 to SPAN days back plus up to a day more:
# with 5, every seeded generation falls inside the 7 UTC days of the window.
SEED_SPAN_DAYS = 5
LISTENER_READY_S = 60.0
SETTLE_S = 120.0
# The many dashboards' listeners watch a project of this many generations: enough
# to fill the 50 newest, small enough for the emulator (see measure_dashboard_cost).
FEED_HISTORY = 200
ROLLUP_THREADS = 4

# The Functions emulator starts one Python worker per concurrent request and
# keeps it; a burst is warm once its slowest call no longer starts one. Bursts
# grow by WARM_STEP: starting 50 workers at once on 2 cores outlasts the
# emulator's 30 s start-up limit, and it then never answers those requests.
WARM_CALL_S = 1.0
WARM_STEP = 10
WARM_ROUNDS = 12
WARM_DEADLINE_S = 180.0
PROMPT = "a lighthouse at dusk"
BASELINE_COLLECTION = "baseline_generations"

MINIMAL_CALLABLE = '''"""The smallest callable on the SDKs of functions/main.py, to time imports."""
import firebase_admin
from firebase_functions import https_fn
from google.cloud import firestore  # noqa: F401 - our functions import it too

firebase_admin.initialize_app()


@https_fn.on_call()
def ping(request):
    return {"ok": True}
'''
IMPORT_TIMER = (
    "import time; started = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - started)"
)


class BenchError(RuntimeError):
    """Something the bench needs did not happen (a listener, an import)."""


@dataclass(frozen=True)
class Plan:
    """Sizes and durations of one run."""

    name: str
    history_sizes: tuple[int, ...]
    dashboards: int
    latency_calls: int
    latency_warmup: int
    user_counts: tuple[int, ...]
    load_s: float
    import_runs: int
    rollup_changes: int
    # Whether the histories share one measured minute; the emulator slows down on
    # large collections (see measure_dashboard_cost), so the full run gives each its own.
    shared_minute: bool


FULL = Plan(
    name="full",
    history_sizes=(10_000, 100_000),
    dashboards=100,
    latency_calls=100,
    latency_warmup=5,
    user_counts=(10, 50),
    load_s=20.0,
    import_runs=7,
    rollup_changes=1_000,
    shared_minute=False,
)
QUICK = Plan(
    name="quick",
    history_sizes=(2_000, 20_000),
    dashboards=20,
    latency_calls=20,
    latency_warmup=3,
    user_counts=(10, 50),
    load_s=5.0,
    import_runs=3,
    rollup_changes=200,
    shared_minute=True,
)


# Results.


@dataclass(frozen=True)
class Figure:
    """One result: ours against the baseline, measured in the same run."""

    name: str
    ours: float
    baseline: float
    unit: str
    decimals: int = 0

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else math.inf

    def cells(self) -> tuple[str, str, str]:
        return (self._value(self.ours), self._value(self.baseline), ratio_text(self.ratio))

    def _value(self, value: float) -> str:
        return f"{value:,.{self.decimals}f} {self.unit}"


def ratio_text(ratio: float) -> str:
    if not math.isfinite(ratio) or ratio <= 0:
        return "n/a"
    text = f"{ratio:.3g}x"
    # "1/40" reads better than "0.025x" for the large savings.
    return f"{text} (1/{1 / ratio:,.0f})" if ratio <= 0.5 else text


@dataclass
class Measurement:
    """One numbered measurement: how it was made, its figures and what this run saw."""

    number: int
    title: str
    method: list[str]
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        ours, baseline, ratio = figure.cells()
        say(f"  {figure.name}: ours {ours}, baseline {baseline}, ours/baseline {ratio}")

    def note(self, text: str) -> None:
        self.notes.append(text)
        say(f"  - {text}")

    def fail(self, text: str) -> None:
        self.failures.append(text)
        say(f"  CHECK FAILED: {text}")


_STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {message}", flush=True)


# 4. Cold start.


def measure_cold_start(probe: StartProbe, plan: Plan, workdir: Path) -> Measurement:
    m = Measurement(
        4,
        "Cold start",
        method=[
            "First call: the first `trackGeneration` after the Functions emulator started "
            "(it starts a Python worker that imports `functions/main.py`) and the second, "
            "against the baseline's first and second REST document write, alternately from "
            "one client.",
            f"Import: `import main` from `functions/` in a fresh `functions/venv` interpreter, "
            f"timed inside it, median of {plan.import_runs} runs alternating with a minimal "
            "callable module on the same SDKs (`firebase_admin`, `firebase_functions`, "
            "`google.cloud.firestore`), written to a temporary directory. One untimed run of "
            "each first, so both read compiled bytecode (kept in a temporary "
            "`PYTHONPYCACHEPREFIX`) from a warm file cache, as a reused instance image would.",
        ],
    )
    first_track, first_write = probe.track_ms(), probe.bare_write_ms()
    second_track, second_write = probe.track_ms(), probe.bare_write_ms()
    m.add(Figure("first call after the emulators start", first_track, first_write, "ms", 1))
    m.add(Figure("second call", second_track, second_write, "ms", 1))
    # The baseline has no function to import: its figure is a minimal callable's.
    m.note(
        f"the first `trackGeneration` took {first_track / second_track:.0f} times the second: "
        "the worker's start-up, paid once per new instance"
    )

    minimal = workdir / "minimal"
    minimal.mkdir()
    (minimal / "minimal_callable.py").write_text(MINIMAL_CALLABLE)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    subjects = ((FUNCTIONS_DIR, "main"), (minimal, "minimal_callable"))
    for directory, module in subjects:
        import_ms(directory, module, env)
    timings: dict[str, list[float]] = {module: [] for _, module in subjects}
    for _ in range(plan.import_runs):
        for directory, module in subjects:
            timings[module].append(import_ms(directory, module, env))
    ours, minimal_ms = timings["main"], timings["minimal_callable"]
    m.add(
        Figure(
            f"import: functions/main.py, baseline a minimal callable (median of "
            f"{plan.import_runs})",
            statistics.median(ours),
            statistics.median(minimal_ms),
            "ms",
        )
    )
    m.note(
        f"import ranges: ours {min(ours):.0f} to {max(ours):.0f} ms, minimal "
        f"{min(minimal_ms):.0f} to {max(minimal_ms):.0f} ms"
    )
    return m


def import_ms(directory: Path, module: str, env: dict[str, str]) -> float:
    """Milliseconds ``import module`` takes in a fresh functions interpreter."""
    done = subprocess.run(
        [str(FUNCTIONS_PYTHON), "-c", IMPORT_TIMER.format(module=module)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"importing {module} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1]) * 1000


# 2. Start latency.


def measure_start_latency(probe: StartProbe, plan: Plan) -> Measurement:
    m = Measurement(
        2,
        "Start latency",
        method=[
            f"{plan.latency_calls} `trackGeneration` calls through the callable protocol on the "
            "Functions emulator (token check, validation, one transaction writing the public "
            "and private documents, the start event, the credit hold and the usage counters) "
            "interleaved with as many baseline starts: one REST document write to the same "
            "Firestore emulator, from the same client and HTTP session, after "
            f"{plan.latency_warmup} untimed calls of each (`scripts/measure_start_latency.py`).",
            "The baseline writes as the emulator's owner, so no security rules are evaluated "
            "for it: a real baseline client would pay for its rules too.",
        ],
    )
    tracked, written = interleaved(probe, calls=plan.latency_calls, warmup=plan.latency_warmup)
    m.add(Figure("median", statistics.median(tracked), statistics.median(written), "ms", 1))
    m.add(Figure("p95", percentile(tracked, 0.95), percentile(written, 0.95), "ms", 1))
    return m


# 3. Throughput without loss.

Attempt = Callable[[], object]


class Tally:
    """Successes per user and failures per code (with one message each), from many threads."""

    def __init__(self) -> None:
        self.succeeded: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.messages: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        return sum(self.succeeded.values())

    def attempt(self, uid: str, call: Attempt) -> float:
        """Make one call, record how it ended; returns its seconds."""
        started = time.perf_counter()
        try:
            call()
        except (CallableError, requests.RequestException) as failed:
            code = error_code(failed)
            with self._lock:
                self.errors[code] += 1
                self.messages.setdefault(code, " ".join(str(failed).split())[:160])
        else:
            with self._lock:
                self.succeeded[uid] += 1
        return time.perf_counter() - started


def error_code(failure: Exception) -> str:
    if isinstance(failure, CallableError):
        return failure.code
    if isinstance(failure, requests.HTTPError) and failure.response is not None:
        return f"http-{failure.response.status_code}"
    return type(failure).__name__


def errors_text(tally: Tally) -> str:
    return (
        ", ".join(
            f'{code} {n} ("{tally.messages[code]}")' for code, n in tally.errors.most_common()
        )
        or "none"
    )


def sustained(
    users: Sequence[AppUser], seconds: float, attempt_for: Callable[[AppUser], Attempt]
) -> tuple[Tally, float]:
    """Every user in its own thread, one call after another until the deadline."""
    tally = Tally()
    deadline = time.monotonic() + seconds

    def run(user: AppUser) -> None:
        call = attempt_for(user)
        while time.monotonic() < deadline:
            tally.attempt(user.uid, call)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        list(pool.map(run, users))
    return tally, time.monotonic() - started


def warm_workers(
    users: Sequence[AppUser], attempt_for: Callable[[AppUser], Attempt]
) -> tuple[Tally, int, float]:
    """Bursts of one call per user, WARM_STEP more users each time, until a burst of
    all of them finds warm workers.

    Returns the calls made (they count for the checks), the bursts and the seconds.
    """
    tally = Tally()
    calls = [attempt_for(user) for user in users]
    started = time.monotonic()
    bursts = 0
    for _ in range(WARM_ROUNDS):
        bursts += 1
        width = min(len(users), WARM_STEP * bursts)
        with ThreadPoolExecutor(max_workers=width) as pool:
            slowest = max(pool.map(lambda i: tally.attempt(users[i].uid, calls[i]), range(width)))
        warm = width == len(users) and slowest < WARM_CALL_S
        if warm or time.monotonic() - started > WARM_DEADLINE_S:
            break
    return tally, bursts, time.monotonic() - started


def callable_starts(suite: EmulatorSuite) -> Callable[[AppUser], Attempt]:
    """Our start: ``trackGeneration``, each user on its own HTTP session."""

    def attempt_for(user: AppUser) -> Attempt:
        api = CallableClient(suite.function_url(""), requests.Session())
        rng = random.Random(user.uid)
        return lambda: api.call(
            "trackGeneration", {"type": rng.choice(TYPES), "prompt": PROMPT}, id_token=user.id_token
        )

    return attempt_for


def baseline_starts(suite: EmulatorSuite) -> Callable[[AppUser], Attempt]:
    """The baseline's start: the client writes its own generation document."""

    def attempt_for(user: AppUser) -> Attempt:
        rest = FirestoreAdminRest(suite.url("firestore"), suite.project, requests.Session())
        rng = random.Random(user.uid)

        def write() -> None:
            created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
            fields = {
                "userId": {"stringValue": user.uid},
                "userName": {"stringValue": user.display_name or ""},
                "type": {"stringValue": rng.choice(TYPES)},
                "prompt": {"stringValue": PROMPT},
                "status": {"stringValue": "processing"},
                "createdAt": {"timestampValue": created},
            }
            rest.write(f"{BASELINE_COLLECTION}/{uuid.uuid4().hex}", fields)

        return write

    return attempt_for


def measure_throughput(suite: EmulatorSuite, plan: Plan) -> Measurement:
    counts = " and ".join(str(n) for n in plan.user_counts)
    m = Measurement(
        3,
        "Throughput without loss",
        method=[
            f"{counts} simulated users, each its own Auth-emulator account granted credits "
            "through the admin `grantCredits` callable (credits never stop them), each in its "
            f"own thread calling `trackGeneration` back to back for {plan.load_s:.0f} s through "
            "the Functions emulator; then as many users writing baseline generation documents "
            "over REST for as long. Rate = calls that succeeded / wall time until the last "
            "call returned. Like the test clients, ours resends a call the emulator itself "
            "reset before the function ran (its own 500 `ECONNRESET`, up to 3 times); the "
            "document checks below would show any duplicate.",
            f"Before each level, bursts of one call per user ({WARM_STEP} more users each "
            f"time) until no call of a burst of all of them takes {WARM_CALL_S:.0f} s: the "
            "Functions emulator runs one Python worker per concurrent request and starts it "
            "on demand.",
            "Then the checks: every user's documents equal its calls that succeeded (warm-up "
            "included), for ours and the baseline; feed documents equal start events; "
            "`python -m generations_live rollup --lag 0`, then `check --from --to` (rollups "
            "equal a recount) and `audit-ledgers` (every balance equals its ledger) exit 0.",
        ],
    )
    auth = AuthEmulator(suite.url("auth"), suite.project)
    api = CallableClient(suite.function_url(""))
    admin = auth.create_user(display_name="Bench Admin", claims={"admin": True})
    users = [auth.create_user(display_name=f"Bench User {i}") for i in range(max(plan.user_counts))]
    grant_each(api, admin, users, MAX_GRANT, "bench")
    started_ok: Counter[str] = Counter()
    written_ok: Counter[str] = Counter()
    for n in plan.user_counts:
        group = users[:n]
        say(f"3. throughput with {n} users: warming {n} function workers")
        warm, bursts, warm_s = warm_workers(group, callable_starts(suite))
        ours, ours_s = sustained(group, plan.load_s, callable_starts(suite))
        baseline, baseline_s = sustained(group, plan.load_s, baseline_starts(suite))
        started_ok += warm.succeeded + ours.succeeded
        written_ok += baseline.succeeded
        m.add(
            Figure(
                f"{n} users, generations started per second",
                ours.total / ours_s,
                baseline.total / baseline_s,
                "/s",
                1,
            )
        )
        m.note(
            f"{n} users: ours {ours.total:,} starts in {ours_s:.1f} s, errors: "
            f"{errors_text(ours)}; baseline {baseline.total:,} writes in {baseline_s:.1f} s, "
            f"errors: {errors_text(baseline)}; warm-up {bursts} burst(s) in {warm_s:.1f} s, "
            f"errors: {errors_text(warm)}"
        )
    check_throughput_documents(suite, users, started_ok, written_ok, m)
    check_rollups_and_ledgers(suite, m)
    return m


def check_throughput_documents(
    suite: EmulatorSuite,
    users: Sequence[AppUser],
    started_ok: Counter[str],
    written_ok: Counter[str],
    m: Measurement,
) -> None:
    rest = FirestoreAdminRest(suite.url("firestore"), suite.project)
    ours_docs = {u.uid: rest.count("generations", parent=f"users/{u.uid}") for u in users}
    baseline_docs = {
        u.uid: rest.count(BASELINE_COLLECTION, equals=("userId", u.uid)) for u in users
    }
    for name, documents, calls in (
        ("ours", ours_docs, started_ok),
        ("baseline", baseline_docs, written_ok),
    ):
        wrong = [uid for uid in documents if documents[uid] != calls[uid]]
        counted = (
            f"{sum(documents.values()):,} documents for {sum(calls.values()):,} calls that "
            "succeeded"
        )
        if wrong:
            # More documents than successes: calls that timed out at the client but committed.
            m.fail(f"{name}: {counted}; {len(wrong)} user(s) differ")
        else:
            m.note(f"{name}: {counted}, user by user")
    feed, events = rest.count(LIVE_GENERATIONS), rest.count("generation_events")
    if feed != events:
        m.fail(f"{feed:,} feed documents but {events:,} start events")
    else:
        m.note(f"{feed:,} feed documents and as many start events (every caller)")


def check_rollups_and_ledgers(suite: EmulatorSuite, m: Measurement) -> None:
    today = datetime.now(UTC).date()
    days = ("--from", (today - timedelta(days=1)).isoformat(), "--to", today.isoformat())
    for args in (("rollup", "--lag", "0"), ("check", *days), ("audit-ledgers",)):
        done = run_operator_command(suite, *args)
        # Messages go to stderr and results to stdout; whichever said something.
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        summary = " / ".join(line for line in said[-2:] if line)
        command = "python -m generations_live " + " ".join(args)
        if done.returncode == 0:
            m.note(f"`{command}`: exit 0: {summary}")
        else:
            m.fail(f"`{command}`: exit {done.returncode}: {summary}")


# 1. Dashboard cost and 5. rollup cost: histories on the standalone emulator.


@dataclass
class History:
    """One project on the standalone emulator and the generations seeded in its window."""

    key: str  # names the project and the readers counted on it
    size: int
    db: firestore.Client
    store: GenerationStore
    rollups: RollupStore
    today: date

    @property
    def first_day(self) -> date:
        return self.today - timedelta(days=WINDOW_DAYS - 1)

    def generations(self) -> int:
        feed: Any = self.db.collection(LIVE_GENERATIONS)
        result = feed.count().get()
        return int(result[0][0].value)


def open_history(key: str, size: int, *, backfill: bool) -> History:
    """A project of its own (so histories run the same minute at once), seeded."""
    db = firestore.Client(
        project=f"demo-bench-{key}",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
    )
    today = datetime.now(UTC).date()
    history = History(key, size, db, GenerationStore(db), RollupStore(db), today)
    say(f"seeding {size:,} generations over the {WINDOW_DAYS}-day window ({key})")
    seed_history(db, random.Random(size), size, SEED_SPAN_DAYS, prefix="old")
    if backfill:
        rollups.backfill(history.rollups, GENERATION, history.first_day, today, soon(), lag=NO_LAG)
    return history


def baseline_poll(history: History) -> None:
    """The baseline dashboard's feed: one query for the 50 newest."""
    history.store.live_generations(LiveQuery(limit=FEED_LIMIT))


def baseline_analytics(history: History) -> dict[str, Any]:
    """The baseline dashboard's analytics: read every generation of the window and count.

    It counts with the same code as our recount, so the two answers must agree.
    """
    recount = GENERATION.recount(
        history.rollups, history.first_day, history.today, datetime.now(UTC)
    )
    return GENERATION.answer(recount.days, recount.users, recount.names, history.today, WINDOW_DAYS)


def our_analytics(history: History) -> dict[str, Any]:
    """What ``getGenerationAnalytics({days: 7})`` answers: one window document."""
    return rollups.window_answer(history.rollups, GENERATION, WINDOW_DAYS)


def same_numbers(ours: dict[str, Any], baseline: dict[str, Any]) -> bool:
    return all(ours.get(key) == value for key, value in baseline.items())


class FeedListener:
    """One dashboard's realtime listener on the 50 newest generations.

    Reads = documents delivered: the first results, then every change;
    removals from the top 50 are counted too, an upper bound.
    """

    def __init__(self, store: GenerationStore) -> None:
        self._changes: Counter[str] = Counter()
        self._statuses: dict[str, str] = {}  # of the generations it shows now
        self._lock = threading.Lock()
        self._ready = threading.Event()
        query = store.live_query(LiveQuery(limit=FEED_LIMIT))
        self._watch: Any = query.on_snapshot(self._on_snapshot)

    def _on_snapshot(self, documents: Any, changes: Any, read_time: Any) -> None:
        del read_time
        with self._lock:
            self._changes.update(change.type.name.lower() for change in changes)
            self._statuses = {document.id: document.get("status") for document in documents}
        self._ready.set()

    def shows(self, statuses: dict[str, str]) -> bool:
        """Whether its latest snapshot has these generations in these statuses."""
        with self._lock:
            return all(self._statuses.get(gid) == status for gid, status in statuses.items())

    def changes(self) -> Counter[str]:
        with self._lock:
            return Counter(self._changes)

    def wait_ready(self) -> None:
        if not self._ready.wait(LISTENER_READY_S):
            raise BenchError(f"a listener had no first snapshot within {LISTENER_READY_S:.0f} s")

    def stop(self) -> None:
        self._watch.unsubscribe()


class Trickle:
    """A minute's traffic through the real use cases: TRICKLE_PER_MINUTE generations,
    one starting every TRICKLE_EVERY_S while a worker finishes the previous one.

    A tick the emulator makes late is caught up, never skipped, so every measured
    minute carries the same traffic; ``stop`` cuts it short (reported).
    """

    def __init__(self, history: History, stop: threading.Event) -> None:
        self.started = 0
        self.error: Exception | None = None
        # The last generations' final statuses: a listener showing them has received
        # every change of the minute (a listen stream delivers changes in order).
        self.last: dict[str, str] = {}
        self._history = history
        self._stop = stop
        self._thread = threading.Thread(target=self._run, name=f"trickle-{history.key}")
        self._thread.start()

    def _run(self) -> None:
        rng = random.Random(self._history.size)
        store = self._history.store
        previous: str | None = None
        began = time.monotonic()
        try:
            for tick in range(TRICKLE_PER_MINUTE):
                if self._stop.wait(max(0.0, began + tick * TRICKLE_EVERY_S - time.monotonic())):
                    return
                current = start_generation(store, "trickle-user", rng)
                self.started += 1
                self.last = {current: "processing"}
                if previous is not None:
                    self.last[previous] = finish_generation(store, previous, rng)
                previous = current
        except Exception as failed:
            # Any failure of the use cases is a finding: the measurement reports it.
            self.error = failed

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout=max(0.0, timeout_s))

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()


@dataclass(frozen=True)
class Reads:
    """A dashboard's reads: to open it (once), and in the measured minute."""

    opening: int
    minute: int

    def per_hour(self) -> float:
        return self.opening + self.minute * 3600 / REFRESH_EVERY_S

    def __add__(self, other: Reads) -> Reads:
        return Reads(self.opening + other.opening, self.minute + other.minute)


@dataclass
class Minute:
    """What was counted while the dashboards opened and during the measured minute."""

    opened: Counter[str] = field(default_factory=Counter)  # reads per actor
    ended: Counter[str] = field(default_factory=Counter)
    # Changes each listener received, by kind, per project key.
    listeners_opened: dict[str, list[Counter[str]]] = field(default_factory=dict)
    listeners_ended: dict[str, list[Counter[str]]] = field(default_factory=dict)
    trickles: dict[str, Trickle] = field(default_factory=dict)
    folded: dict[str, int] = field(default_factory=dict)
    agree: dict[str, tuple[bool, int]] = field(default_factory=dict)
    behind: int = 0  # listeners that never showed their trickle's last changes
    seconds: float = 0.0  # wall time of the minute's polls and traffic

    def actor(self, name: str, key: str) -> Reads:
        actor = f"{name}-{key}"
        return Reads(self.opened[actor], self.ended[actor] - self.opened[actor])

    def listener(self, key: str, index: int) -> Reads:
        first = sum(self.listeners_opened[key][index].values())
        return Reads(first, sum(self.listeners_ended[key][index].values()) - first)

    def listeners(self, key: str) -> list[Reads]:
        return [self.listener(key, index) for index in range(len(self.listeners_opened[key]))]

    def kinds(self, key: str, index: int) -> Counter[str]:
        return self.listeners_ended[key][index] - self.listeners_opened[key][index]


def run_dashboards(histories: Sequence[History], feed: History | None, dashboards: int) -> Minute:
    """Open the dashboards, then run one measured minute of both designs on these projects.

    One listener per history; the many dashboards' listeners listen on ``feed``,
    a project with a small history (see FEED_HISTORY).
    """
    minute = Minute()
    polls = int(REFRESH_EVERY_S / POLL_EVERY_S)
    projects = [*histories, feed] if feed is not None else list(histories)
    with counting_document_reads() as reads:
        say(f"1. opening the dashboards on {', '.join(h.key for h in projects)}")
        listeners = {h.key: [FeedListener(h.store)] for h in histories}
        if feed is not None:
            listeners[feed.key] = [FeedListener(feed.store) for _ in range(dashboards)]
        for history in histories:
            with reads.actor(f"baseline-{history.key}"):
                baseline_poll(history)
                baseline_analytics(history)
            with reads.actor(f"ours-1-{history.key}"):
                our_analytics(history)
            with reads.actor(f"ours-more-{history.key}"):
                for _ in range(dashboards - 1):
                    our_analytics(history)
        every = [listener for each in listeners.values() for listener in each]
        for listener in every:
            listener.wait_ready()
        minute.opened = reads.snapshot()
        minute.listeners_opened = {k: [x.changes() for x in each] for k, each in listeners.items()}

        say(f"1. the measured minute: {polls} polls, a generation every {TRICKLE_EVERY_S:.0f} s")
        stop = threading.Event()
        minute.trickles = {h.key: Trickle(h, stop) for h in projects}
        began = time.monotonic()
        for tick in range(1, polls + 1):
            time.sleep(max(0.0, began + tick * POLL_EVERY_S - time.monotonic()))
            for history in histories:
                with reads.actor(f"baseline-{history.key}"):
                    baseline_poll(history)
        # A loaded emulator can make the minute's traffic late: wait for it, within bounds.
        deadline = began + REFRESH_EVERY_S + TRICKLE_GRACE_S
        for trickle in minute.trickles.values():
            trickle.join(deadline - time.monotonic())
        stop.set()
        for trickle in minute.trickles.values():
            trickle.join(REFRESH_EVERY_S)
            if not trickle.done:
                trickle.error = BenchError("the trickle was still writing a minute after its stop")
        minute.seconds = time.monotonic() - began
        say("1. the minute's analytics refresh: rollup job, then both dashboards")
        # The minute's analytics refresh: our rollup job first, then both dashboards.
        for history in histories:
            with reads.actor(f"rollup-{history.key}"):
                report = rollups.run_rollup(history.rollups, GENERATION, soon(), lag=NO_LAG)
            minute.folded[history.key] = report.events
            with reads.actor(f"ours-1-{history.key}"):
                ours = our_analytics(history)
            with reads.actor(f"ours-more-{history.key}"):
                for _ in range(dashboards - 1):
                    our_analytics(history)
            with reads.actor(f"baseline-{history.key}"):
                expected = baseline_analytics(history)
            minute.agree[history.key] = (same_numbers(ours, expected), int(expected["total"]))
        minute.behind = settle(listeners, minute.trickles)
        minute.ended = reads.snapshot()
        minute.listeners_ended = {k: [x.changes() for x in each] for k, each in listeners.items()}
    for listener in every:
        listener.stop()
    return minute


def measure_dashboard_cost(histories: Sequence[History], feed: History, plan: Plan) -> Measurement:
    sizes = " and ".join(f"{h.size:,}" for h in histories)
    polls = int(REFRESH_EVERY_S / POLL_EVERY_S)
    m = Measurement(
        1,
        "Dashboard cost",
        method=[
            f"Histories of {sizes} generations created over the {WINDOW_DAYS} UTC days of the "
            "window (raw documents written by `seed_history`, then a backfill of our rollups), "
            "one project each on the standalone Firestore emulator, "
            + (
                "measured in the same minute"
                if plan.shared_minute
                else "each measured in a minute of its own"
            )
            + f". A minute is {polls} baseline polls, {TRICKLE_PER_MINUTE} generations started "
            f"one every {TRICKLE_EVERY_S:.0f} s through the real use cases "
            "(`tracking.track_generation`) while a worker finishes the previous one "
            "(`update_generation_status`), then one analytics refresh of both dashboards; "
            "when the emulator makes the traffic late, the minute waits for all of it (its "
            "wall time is reported below).",
            f"Baseline dashboard: polls the {FEED_LIMIT} newest every {POLL_EVERY_S:.0f} s "
            f"({polls} polls a minute) and recomputes its analytics every "
            f"{REFRESH_EVERY_S:.0f} s by reading every generation of the window and counting "
            "them. Every 60 s is the faithful choice most favourable to the baseline (the "
            f"same freshness as ours); recomputing with every poll would read {polls} times "
            "as much.",
            f"Ours: a realtime listener (python-firestore `on_snapshot`) on the same "
            f"{FEED_LIMIT}-newest query, counted as the documents it delivers (first results, "
            "then every change, removals from the top 50 included: an upper bound), plus the "
            "`getGenerationAnalytics` window answer (1 document get) every 60 s, read after "
            "the rollup job ran. The rollup job's own reads (the events it folds, the 90-day "
            "window refresh) are counted in ours once, however many dashboards share them; "
            "in production it runs every 5 minutes, here every minute.",
            "Reads are counted from what the queries and listeners returned: the Firestore "
            "client is patched to count each document a get or query hands back "
            "(`counting_document_reads`, per actor), listeners count the changes they "
            "receive. Per hour = the reads to open the dashboard, once, + 60 times the reads "
            "of the measured minute.",
            f"{plan.dashboards} dashboards, ours: {plan.dashboards} window reads per refresh "
            f"on the history, and {plan.dashboards} listeners, all counted. The listeners run "
            f"on a third project of {feed.size} generations with the same traffic: the "
            "emulator re-runs every listening query over the whole collection at each commit "
            "(in a trial, 50 listeners on 20,000 documents made a start and finish take 11 s "
            "instead of 0.04 s), so 100 "
            "listeners on the large histories would stall it, while what a listener receives "
            "depends only on the 50 newest (compare the single listener of each history "
            "below).",
            f"{plan.dashboards} dashboards, baseline: {plan.dashboards} times one baseline "
            "dashboard. Its polls and recounts are its own queries, nothing is shared or "
            "cached between browsers, so Firestore bills each in full; running them would "
            f"read the whole window {plan.dashboards} times a minute, beyond this emulator.",
        ],
    )
    # Listeners and large collections slow every commit of the emulator (see
    # FEED_HISTORY), so in a full run each project has a minute of its own.
    groups: list[tuple[list[History], History | None]] = (
        [(list(histories), feed)]
        if plan.shared_minute
        else [([], feed), *(([h], None) for h in histories)]
    )
    minutes: dict[str, Minute] = {}
    for group, with_feed in groups:
        minute = run_dashboards(group, with_feed, plan.dashboards)
        minutes.update(dict.fromkeys(minute.trickles, minute))
        for key, trickle in minute.trickles.items():
            if trickle.error is not None:
                m.fail(f"{key}: the trickle failed: {trickle.error!r}")
        if minute.behind:
            m.fail(
                f"{minute.behind} listener(s) had not received the minute's last changes "
                f"{SETTLE_S:.0f} s after it ended"
            )
    many = minutes[feed.key].listeners(feed.key)
    many_total = sum(many[1:], many[0])
    for history in histories:
        key, size = history.key, history.size
        minute = minutes[key]
        rollup_job = minute.actor("rollup", key)
        window_one = minute.actor("ours-1", key)
        listener = minute.listener(key, 0)
        ours_one = listener + window_one + rollup_job
        ours_all = many_total + window_one + minute.actor("ours-more", key) + rollup_job
        baseline = minute.actor("baseline", key)
        m.add(
            Figure(
                f"1 dashboard, {size:,} generations in the window, reads per hour",
                ours_one.per_hour(),
                baseline.per_hour(),
                "reads",
            )
        )
        m.add(
            Figure(
                f"{plan.dashboards} dashboards, {size:,} generations, reads per hour",
                ours_all.per_hour(),
                plan.dashboards * baseline.per_hour(),
                "reads",
            )
        )
        kinds = minute.kinds(key, 0)
        m.note(
            f"{size:,}, one dashboard: ours opened with {listener.opening} listener "
            f"documents + {window_one.opening} window document; in the minute the listener "
            f"got {listener.minute} changes ({kinds['added']} added, {kinds['modified']} "
            f"modified, {kinds['removed']} removed) as {minute.trickles[key].started} "
            f"generations started, the window was read {window_one.minute} time(s) and the "
            f"rollup job read {rollup_job.minute} documents (folding {minute.folded[key]} "
            f"events). Baseline: opened with {baseline.opening:,} reads, then "
            f"{baseline.minute:,} in the minute ({polls} polls and one recount of the window). "
            f"The minute's polls and traffic took {minute.seconds:.0f} s."
        )
        same, total = minute.agree[key]
        if same:
            m.note(
                f"{size:,}: our one-document answer equals the baseline's recount of "
                f"{total:,} generations, field by field"
            )
        else:
            m.fail(f"{size:,}: our window answer differs from the baseline's recount")
    changes = sorted(each.minute for each in many)
    minute = minutes[feed.key]
    kinds = sum((minute.kinds(feed.key, i) for i in range(len(many))), Counter[str]())
    m.note(
        f"feed project: each of the {len(many)} listeners opened with {many[0].opening} "
        f"documents and got {changes[0]} to {changes[-1]} changes in the minute "
        f"({kinds['added']:,} added, {kinds['modified']:,} modified, {kinds['removed']:,} "
        f"removed in all) as {minute.trickles[feed.key].started} generations started, in "
        f"{minute.seconds:.0f} s. A listener that falls behind receives only a document's "
        "latest state, so a start and its finish can arrive as one change."
    )
    return m


def settle(listeners: dict[str, list[FeedListener]], trickles: dict[str, Trickle]) -> int:
    """Wait until every listener shows the last changes of its project's trickle, at
    most SETTLE_S; returns how many listeners had still not caught up."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        behind = sum(
            not listener.shows(trickles[key].last)
            for key, each in listeners.items()
            for listener in each
        )
        if behind == 0 or time.monotonic() > deadline:
            return behind
        time.sleep(0.2)


def measure_rollup_cost(histories: Sequence[History], plan: Plan) -> Measurement:
    m = Measurement(
        5,
        "Rollup cost against history",
        method=[
            f"On each history, {plan.rollup_changes:,} new generations started and finished "
            f"through the real use cases ({ROLLUP_THREADS} threads), then the analytics "
            "refreshed once, timed, and its document reads counted with "
            "`counting_document_reads`.",
            "Ours: the incremental rollup (`rollups.run_rollup`: fold the new events, then "
            "refresh the answers of every window from 1 to 90 days). Baseline: what it does "
            f"to refresh its analytics, read every generation of the {WINDOW_DAYS}-day window "
            "and count them (the same counting code as our recount). Ours runs once per "
            "schedule for every dashboard; the baseline's runs per dashboard and refresh.",
        ],
    )
    per_thread = plan.rollup_changes // ROLLUP_THREADS
    for history in histories:
        old = history.generations()
        say(f"5. {plan.rollup_changes:,} new generations on {old:,} old ones")

        def add(worker: int, history: History = history) -> None:
            rng = random.Random(worker)
            for _ in range(per_thread):
                start_and_finish(history.store, f"rollup-bench-{worker}", rng)

        with ThreadPoolExecutor(max_workers=ROLLUP_THREADS) as pool:
            list(pool.map(add, range(ROLLUP_THREADS)))
        with counting_document_reads() as ours_reads:
            started = time.perf_counter()
            report = rollups.run_rollup(history.rollups, GENERATION, soon(), lag=NO_LAG)
            ours_s = time.perf_counter() - started
        with counting_document_reads() as baseline_reads:
            started = time.perf_counter()
            expected = baseline_analytics(history)
            baseline_s = time.perf_counter() - started
        new = per_thread * ROLLUP_THREADS
        label = f"{new:,} new on {old:,} old"
        m.add(Figure(f"{label}: time", ours_s, baseline_s, "s", 2))
        m.add(Figure(f"{label}: documents read", ours_reads.count, baseline_reads.count, "reads"))
        m.note(f"{old:,} old: ours folded {report.events:,} events in {report.batches} batch(es)")
        if not same_numbers(our_analytics(history), expected):
            m.fail(f"{old:,} old: our window answer differs from the baseline's recount")
    return m


# The machine and the report.


def machine_facts() -> dict[str, str]:
    meminfo = dict(
        line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line
    )
    memory_gib = int(meminfo["MemTotal"].split()[0]) / 2**20
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), "")
    functions_python = subprocess.run(
        [str(FUNCTIONS_PYTHON), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout.split()[-1]
    sdks = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("firebase-functions", "firebase-admin", "google-cloud-firestore")
    )
    node_bin = shutil.which("node")
    node = (
        "unknown"
        if node_bin is None
        else subprocess.run(
            [node_bin, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    )
    return {
        "CPU": f"{os.cpu_count()} cores, {model}",
        "memory": f"{memory_gib:.1f} GiB",
        "OS": platform.platform(),
        "Python": f"{platform.python_version()} (bench), {functions_python} (functions/venv)",
        "SDKs": sdks,
        "Cloud Firestore emulator": (
            f"{firestore_emulator_version()} on {java_version(system_java())}"
        ),
        "firebase-tools": (
            f"{firebase_tools_version()} on Node.js {node}, Java "
            f"{java_version(str(java_home_for_firebase_tools() / 'bin' / 'java'))}"
        ),
    }


def java_version(java: str) -> str:
    done = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    first = (done.stderr or done.stdout).strip().splitlines()
    return first[0] if first else "unknown java"


@dataclass(frozen=True)
class CpuClock:
    """CPU seconds the machine has been busy, and those of the bench with the
    emulators and commands it started (once they have exited)."""

    machine: float
    own: float

    @classmethod
    def read(cls) -> CpuClock:
        # /proc/stat's first line: user nice system idle iowait irq softirq steal ...
        ticks = [int(value) for value in Path("/proc/stat").read_text().split()[1:9]]
        busy = sum(ticks) - ticks[3] - ticks[4]
        own = sum(
            usage.ru_utime + usage.ru_stime
            for usage in (
                resource.getrusage(resource.RUSAGE_SELF),
                resource.getrusage(resource.RUSAGE_CHILDREN),
            )
        )
        return cls(machine=busy / os.sysconf("SC_CLK_TCK"), own=own)


@dataclass
class Run:
    plan: Plan
    command: str
    started_at: datetime
    seconds: float
    machine: dict[str, str]
    cpu: tuple[CpuClock, CpuClock]  # at the start and the end
    measurements: list[Measurement]

    def sharing(self) -> str:
        """How busy the machine was, and how much of it was someone else's work."""
        start, end = self.cpu
        busy, own = end.machine - start.machine, end.own - start.own
        cores = os.cpu_count() or 1
        return (
            f"{busy:,.0f} CPU-seconds busy in {self.seconds:,.0f} s "
            f"({busy / (self.seconds * cores):.0%} of {cores} cores): the bench and its "
            f"emulators {own:,.0f}, other processes about {max(0.0, busy - own):,.0f}"
        )


def scaled_down(plan: Plan) -> str:
    """What a smaller run changes, said in the output and in the document."""
    return (
        f"histories of {plan.history_sizes[0]:,} and {plan.history_sizes[1]:,} generations "
        f"instead of {FULL.history_sizes[0]:,} and {FULL.history_sizes[1]:,}"
        + (" sharing one measured minute" if plan.shared_minute else "")
        + f", {plan.dashboards} dashboards instead of {FULL.dashboards}, loads of "
        f"{plan.load_s:.0f} s instead of {FULL.load_s:.0f} s, {plan.rollup_changes:,} new "
        f"generations for the rollup instead of {FULL.rollup_changes:,}"
    )


def render_markdown(run: Run) -> str:
    minutes, seconds = divmod(round(run.seconds), 60)
    lines = [
        "# Benchmarks: our design against the naive baseline",
        "",
        "Generated by `scripts/bench.py`; do not edit by hand, run it again. Every figure "
        "below comes from one run:",
        "",
        "```sh",
        run.command,
        "```",
        "",
        f"started {run.started_at:%Y-%m-%d %H:%M} UTC, {minutes} min {seconds:02d} s in all"
        + (f" (`--quick`: {scaled_down(run.plan)})." if run.plan is QUICK else "."),
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in run.machine.items()),
        f"| during the run | {run.sharing()} |",
        "",
        "## The baseline",
        "",
        "What platform teams start from, built inside the bench: the client writes its own "
        "generation document (one REST write, no function), and the dashboard polls the "
        f"{FEED_LIMIT} newest generations every {POLL_EVERY_S:.0f} seconds and computes its "
        f"analytics by reading every generation of the last {WINDOW_DAYS} days (every "
        f"{REFRESH_EVERY_S:.0f} seconds). Ours: the callables, a realtime listener on the "
        "feed, and rollups answering analytics from one document. Both run on the same "
        "emulators in the same run; the ratio is ours / baseline.",
        "",
        "## Results",
        "",
        "| figure | ours | baseline | ours / baseline |",
        "|---|---:|---:|---:|",
    ]
    for measurement in run.measurements:
        lines.append(f"| **{measurement.number}. {measurement.title}** | | | |")
        for figure in measurement.figures:
            lines.append(f"| {figure.name} | {' | '.join(figure.cells())} |")
    lines += ["", "## How each figure was measured, and what this run saw", ""]
    for measurement in run.measurements:
        lines += [f"### {measurement.number}. {measurement.title}", ""]
        lines += [f"- {text}" for text in measurement.method]
        if measurement.notes or measurement.failures:
            lines += ["", "This run:", ""]
            lines += [f"- {text}" for text in measurement.notes]
            lines += [f"- **check failed**: {text}" for text in measurement.failures]
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes and shorter loads (about 3.5 minutes)"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    command = ".venv/bin/python scripts/bench.py" + (" --quick" if args.quick else "")
    started_at = datetime.now(UTC)
    cpu_start = CpuClock.read()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    say(f"{command}: {plan.name} run, emulator logs in {workdir}")
    if plan is QUICK:
        say(f"--quick: {scaled_down(plan)}")
    machine = machine_facts()
    measurements: list[Measurement] = []

    say("starting firebase-tools (Auth, Firestore, Functions emulators)")
    with emulator_suite(log=workdir / "firebase-tools.log") as suite:
        probe = StartProbe(suite)
        say("4. cold start")
        measurements.append(measure_cold_start(probe, plan, workdir))
        say("2. start latency")
        measurements.append(measure_start_latency(probe, plan))
        measurements.append(measure_throughput(suite, plan))

    say("starting the standalone Cloud Firestore emulator")
    with firestore_emulator(rules=None, log=workdir / "firestore.log") as emulator:
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.address
        histories = [open_history(f"{n}", n, backfill=True) for n in plan.history_sizes]
        feed = open_history("feed", FEED_HISTORY, backfill=False)
        measurements.append(measure_dashboard_cost(histories, feed, plan))
        measurements.append(measure_rollup_cost(histories, plan))

    run = Run(
        plan=plan,
        command=command,
        started_at=started_at,
        seconds=time.monotonic() - _STARTED,
        machine=machine,
        cpu=(cpu_start, CpuClock.read()),
        measurements=sorted(measurements, key=lambda each: each.number),
    )
    markdown = render_markdown(run)
    DOCS.write_text(markdown)
    results = markdown.split("## Results")[1].split("## How")[0].strip()
    print("\n" + results + "\n")
    failed = sum(len(each.failures) for each in measurements)
    say(f"wrote {DOCS.relative_to(ROOT)} in {run.seconds / 60:.1f} min; {failed} check(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
