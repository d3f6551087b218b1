"""Measurement 3 of the comparison: generations started per second without loss,
ours through ``trackGeneration`` on the Functions emulator against the baseline's
own document writes, by simulated users on threads; then the checks that every
call that succeeded left its documents, and nothing more."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests

from bench.checks import calls_against_documents, feed_against_start_events, operator_commands
from bench.measurement import BASELINE_COLLECTION, Figure, Measurement, Plan, say
from generations_live.adapters.collections import USER_GENERATIONS, USERS
from generations_live.domain.models import MAX_GRANT
from harness.clients import (
    AppUser,
    AuthEmulator,
    CallableClient,
    CallableError,
    FirestoreAdminRest,
    grant_each,
)
from harness.emulators import EmulatorSuite
from harness.history import TYPES

# The Functions emulator starts one Python worker per concurrent request and
# keeps it; a burst is warm once its slowest call no longer starts one. Bursts
# grow by WARM_STEP: starting 50 workers at once on 2 cores outlasts the
# emulator's 30 s start-up limit, and it then never answers those requests.
WARM_CALL_S = 1.0
WARM_STEP = 10
WARM_ROUNDS = 12
WARM_DEADLINE_S = 180.0
PROMPT = "a lighthouse at dusk"

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

    def errors_text(self) -> str:
        """Every failure code with its count and first message, or "none"."""
        return (
            ", ".join(
                f'{code} {n} ("{self.messages[code]}")' for code, n in self.errors.most_common()
            )
            or "none"
        )


def error_code(failure: Exception) -> str:
    if isinstance(failure, CallableError):
        return failure.code
    if isinstance(failure, requests.HTTPError) and failure.response is not None:
        return f"http-{failure.response.status_code}"
    return type(failure).__name__


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
    """Our start and end: ``trackGeneration`` then the owner's cancel, each user on its
    own HTTP session."""

    def attempt_for(user: AppUser) -> Attempt:
        api = CallableClient(suite.function_url(""), requests.Session())
        rng = random.Random(user.uid)

        def start_and_end() -> None:
            started = api.call(
                "trackGeneration",
                {"type": rng.choice(TYPES), "prompt": PROMPT},
                id_token=user.id_token,
            )
            # Ended at once, as the per-user cap on generations processing wants.
            api.call(
                "updateGenerationStatus",
                {"generationId": started["generationId"], "status": "canceled"},
                id_token=user.id_token,
            )

        return start_and_end

    return attempt_for


def baseline_starts(suite: EmulatorSuite) -> Callable[[AppUser], Attempt]:
    """The baseline's start and end: the client writes its own generation document,
    then its status."""

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
            path = f"{BASELINE_COLLECTION}/{uuid.uuid4().hex}"
            rest.write(path, fields)
            rest.write(path, {**fields, "status": {"stringValue": "canceled"}})  # and its end

        return write

    return attempt_for


def measure_throughput(suite: EmulatorSuite, plan: Plan) -> Measurement:
    """Each user count of the plan in turn: warm the workers, then ours and the baseline
    for ``plan.load_s`` each; then the checks over every call of the measurement."""
    m = Measurement(3, "Throughput without loss")
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
            f"{ours.errors_text()}; baseline {baseline.total:,} writes in {baseline_s:.1f} s, "
            f"errors: {baseline.errors_text()}; warm-up {bursts} burst(s) in {warm_s:.1f} s, "
            f"errors: {warm.errors_text()}"
        )
    rest = FirestoreAdminRest(suite.url("firestore"), suite.project)
    ours_documents = {u.uid: rest.count(USER_GENERATIONS, parent=f"{USERS}/{u.uid}") for u in users}
    baseline_documents = {
        u.uid: rest.count(BASELINE_COLLECTION, equals=("userId", u.uid)) for u in users
    }
    m.record(calls_against_documents("ours", ours_documents, started_ok))
    m.record(calls_against_documents("baseline", baseline_documents, written_ok))
    m.record(feed_against_start_events(rest))
    for check in operator_commands(suite):
        m.record(check)
    return m


def method_values(plan: Plan) -> dict[str, str]:
    """What the template's account of measurement 3 names."""
    return {
        "user_counts": " and ".join(str(n) for n in plan.user_counts),
        "load_s": f"{plan.load_s:.0f}",
        "warm_step": f"{WARM_STEP}",
        "warm_call_s": f"{WARM_CALL_S:.0f}",
    }
