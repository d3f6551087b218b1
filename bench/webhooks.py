"""Signed outbound webhooks on the local emulators: how soon a receiver hears
that a generation ended, and how many deliveries a second the dispatcher keeps
up with under load, losing none. These are the Functions emulator's figures on
this machine (2 cores shared by the emulators, the clients and the receiver),
not production's, where the dispatcher has instances of its own.

    .venv/bin/python -m bench.webhooks [--latency-samples 50] [--users 8] [--seconds 20]

A receiver on 127.0.0.1 is registered through ``registerWebhookEndpoint`` for
every event type. Latency: one user starts generations one after another and
a worker completes each; the time from ``updateGenerationStatus`` answering to
the receiver getting that generation's ``generation.completed`` request (the
dispatcher, ``dispatchWebhookEvent``, is a Firestore trigger on the outbox),
after a few untimed warm-ups. Sustained: ``--users`` users (granted credits,
so in the trusted rate-limit tier) start and complete generations as fast as
answers come for ``--seconds``; then every outbox event they wrote must reach
the receiver, through the trigger alone within a minute, else after
``python -m generations_live webhooks deliver`` (the ``deliverWebhooks``
schedule's work, which the emulator never runs). Every request received is
verified with the ``standardwebhooks`` package soon after it arrives, as a
receiver would (it refuses timestamps more than 5 minutes off). Exit 0 when
none is missing and every one verifies.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from standardwebhooks.webhooks import WebhookVerificationError

from bench.checks import Check
from bench.load_run import Ledger, call
from bench.start_latency import percentile
from generations_live.adapters.collections import WEBHOOK_EVENTS
from generations_live.domain.webhooks import SUBSCRIBABLE
from harness.clients import (
    AppUser,
    AuthEmulator,
    CallableClient,
    FirestoreAdminRest,
    grant_each,
)
from harness.emulators import EmulatorError, EmulatorSuite, emulator_suite, run_operator_command
from harness.receiver import Received, Receiver, verified

# Credits are not what this measures: enough never to run short, and a grant
# puts each account in the trusted rate-limit tier.
CREDITS = 100_000
# Untimed first generations: the Functions emulator starts a Python worker for
# the callables and the trigger on first use.
WARM_UPS = 3
# How long one generation's completion may take to arrive before the run fails.
LATENCY_DEADLINE_S = 60.0
# How long the trigger alone has to deliver the sustained phase's events.
TRIGGER_DEADLINE_S = 60.0
# ``webhooks deliver`` sends before it returns; this covers reading the receiver.
AFTER_DELIVER_DEADLINE_S = 10.0


class Verifier:
    """Verifies the receiver's requests as they come, with the endpoint's secret:
    ``standardwebhooks`` refuses a timestamp 5 minutes old, so a check at the end
    of a long run would fail requests that were fine when they arrived."""

    def __init__(self, receiver: Receiver, secret: str) -> None:
        self._receiver = receiver
        self._secret = secret
        self.checked = 0
        self.problems: list[str] = []

    def catch_up(self) -> None:
        received = self._receiver.requests()
        for each in received[self.checked :]:
            try:
                verified(self._secret, each)
            except (WebhookVerificationError, ValueError) as refused:
                self.problems.append(f"{each.headers.get('webhook-id')}: {refused!r}")
        self.checked = len(received)


@dataclass(frozen=True)
class Cast:
    """The accounts and the registered receiver a run drives."""

    suite: EmulatorSuite
    admin: AppUser
    worker: AppUser
    prober: AppUser  # the latency phase's one user
    warmers: list[AppUser]  # start the workers the sustained phase needs, untimed
    users: list[AppUser]  # the sustained phase's, whose events are counted
    receiver: Receiver
    endpoint_id: str
    verifier: Verifier

    def api(self) -> CallableClient:
        """A client with a session of its own (one per thread)."""
        return CallableClient(self.suite.function_url(""), requests.Session())


@contextmanager
def registered_receiver(suite: EmulatorSuite, users: int) -> Iterator[Cast]:
    """Accounts with credits, and a receiver registered for every event type;
    disabled afterwards, so later events (a test session's) are not sent to it."""
    auth = AuthEmulator(suite.url("auth"), suite.project)
    admin = auth.create_user(display_name="Webhook Admin", claims={"admin": True})
    worker = auth.create_user(display_name="Webhook Worker", claims={"worker": True})
    prober = auth.create_user(display_name="Webhook Prober")
    warmers = [auth.create_user(display_name=f"Webhook Warmer {i}") for i in range(users)]
    people = [auth.create_user(display_name=f"Webhook User {i}") for i in range(users)]
    api = CallableClient(suite.function_url(""))
    grant_each(api, admin, [prober, *warmers, *people], CREDITS, "webhook bench")
    with Receiver() as receiver:
        endpoint = api.call(
            "registerWebhookEndpoint",
            {"url": receiver.url, "events": list(SUBSCRIBABLE)},
            id_token=admin.id_token,
        )
        try:
            yield Cast(
                suite,
                admin,
                worker,
                prober,
                warmers,
                people,
                receiver,
                endpoint["endpointId"],
                Verifier(receiver, endpoint["secret"]),
            )
        finally:
            api.call(
                "disableWebhookEndpoint",
                {"endpointId": endpoint["endpointId"]},
                id_token=admin.id_token,
            )


def start_data() -> dict[str, Any]:
    return {"type": "text", "prompt": f"webhook bench {uuid.uuid4().hex[:8]}"}


def completion(generation_id: str) -> dict[str, Any]:
    return {"generationId": generation_id, "status": "completed"}


def completed_at(received: list[Received], generation_id: str) -> float | None:
    """When the receiver first got that generation's ``generation.completed``."""
    return next(
        (
            r.received_at
            for r in received
            if r.payload["type"] == "generation.completed"
            and r.payload["data"].get("id") == generation_id
        ),
        None,
    )


def has_completion(received: list[Received], generation_id: str) -> bool:
    return completed_at(received, generation_id) is not None


def measure_latency(cast: Cast, samples: int) -> list[float]:
    """Milliseconds from ``updateGenerationStatus`` answering to the receiver getting
    the completion, one generation at a time (after WARM_UPS untimed ones)."""
    api = cast.api()
    latencies: list[float] = []
    for number in range(WARM_UPS + samples):
        started = api.call("trackGeneration", start_data(), id_token=cast.prober.id_token)
        generation_id: str = started["generationId"]
        api.call("updateGenerationStatus", completion(generation_id), id_token=cast.worker.id_token)
        answered = time.time()
        # The receiver stamps each request as it arrives; polling only finds the stamp.
        got = cast.receiver.wait_for(
            f"the completion of {generation_id}",
            functools.partial(has_completion, generation_id=generation_id),
            LATENCY_DEADLINE_S,
        )
        arrived = completed_at(got, generation_id)
        cast.verifier.catch_up()
        if arrived is not None and number >= WARM_UPS:
            latencies.append((arrived - answered) * 1000)
    return latencies


def keep_busy(cast: Cast, user: AppUser, ledger: Ledger, until: float) -> None:
    """Start a generation and have the worker complete it, again and again: one
    user's calls follow one another, as from one tab and the worker that took it."""
    api = cast.api()
    while time.monotonic() < until:
        started = call(api, ledger, "trackGeneration", start_data(), user.id_token)
        if started is not None:
            report = completion(started["generationId"])
            call(api, ledger, "updateGenerationStatus", report, cast.worker.id_token)


def run_side_by_side(cast: Cast, users: list[AppUser], ledger: Ledger, until: float) -> None:
    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        list(pool.map(lambda user: keep_busy(cast, user, ledger, until), users))


def _string(fields: dict[str, Any], *path: str) -> str | None:
    """A string field of a REST document, through nested maps."""
    value: Any = {"mapValue": {"fields": fields}}
    for name in path:
        value = value.get("mapValue", {}).get("fields", {}).get(name, {})
    found = value.get("stringValue")
    return found if isinstance(found, str) else None


def outbox_events_of(suite: EmulatorSuite, uids: set[str]) -> set[str]:
    """The ids of every outbox event about these users' generations or credits."""
    rest = FirestoreAdminRest(suite.url("firestore"), suite.project)
    return {
        path.rsplit("/", 1)[1]
        for path, fields in rest.collection_group(WEBHOOK_EVENTS).items()
        if _string(fields, "data", "userId") in uids
    }


def first_arrivals(received: list[Received], ids: set[str]) -> dict[str, float]:
    """When each of these event ids first reached the receiver."""
    firsts: dict[str, float] = {}
    for each in received:
        if each.webhook_id in ids:
            firsts[each.webhook_id] = min(
                firsts.get(each.webhook_id, each.received_at), each.received_at
            )
    return firsts


def wait_for_every(receiver: Receiver, ids: set[str], timeout_s: float) -> None:
    """Until the receiver has every id, or the deadline (what is missing is counted after)."""
    with suppress(EmulatorError):
        receiver.wait_for(
            f"{len(ids):,} events",
            lambda received: ids <= {r.webhook_id for r in received},
            timeout_s,
        )


@dataclass
class Sustained:
    users: int
    seconds: float  # the load, from the first call to the last answer
    written: int
    by_trigger: int  # arrived through the trigger within TRIGGER_DEADLINE_S
    received: int  # in the end, unique webhook-ids
    requests: int  # every request for those ids, duplicates included
    to_last_trigger_delivery_s: float  # from the phase start
    answers: dict[str, Counter[str]]
    deliver_command: str | None  # what ``webhooks deliver`` printed, when it ran

    @property
    def missing(self) -> int:
        return self.written - self.received

    @property
    def duplicates(self) -> int:
        return self.requests - self.received

    @property
    def deliveries_per_second(self) -> float:
        span = self.to_last_trigger_delivery_s
        return self.by_trigger / span if span > 0 else 0.0


def sustain(cast: Cast, seconds: float) -> Sustained:
    """``cast.users`` busy for ``seconds``; then their events must all arrive."""
    # The warmers start the workers that many concurrent calls need, before the clock.
    run_side_by_side(cast, cast.warmers, Ledger(), 0.0)
    ledger = Ledger()
    began_wall, began = time.time(), time.monotonic()
    run_side_by_side(cast, cast.users, ledger, began + seconds)
    load_s = time.monotonic() - began
    ids = outbox_events_of(cast.suite, {user.uid for user in cast.users})
    print(f"  {len(ids):,} events written in {load_s:.1f} s; waiting for them", file=sys.stderr)
    cast.verifier.catch_up()
    wait_for_every(cast.receiver, ids, TRIGGER_DEADLINE_S)
    cast.verifier.catch_up()
    by_trigger = first_arrivals(cast.receiver.requests(), ids)
    deliver_command = None
    if len(by_trigger) < len(ids):
        print(f"  {len(ids) - len(by_trigger):,} missing: webhooks deliver", file=sys.stderr)
        done = run_operator_command(cast.suite, "webhooks", "deliver")
        said = done.stdout.strip() or done.stderr.strip()
        deliver_command = f"exit {done.returncode}: {' '.join(said.split())}"
        wait_for_every(cast.receiver, ids, AFTER_DELIVER_DEADLINE_S)
        cast.verifier.catch_up()
    mine = [r for r in cast.receiver.requests() if r.webhook_id in ids]
    last = max(by_trigger.values(), default=began_wall)
    return Sustained(
        users=len(cast.users),
        seconds=load_s,
        written=len(ids),
        by_trigger=len(by_trigger),
        received=len({r.webhook_id for r in mine}),
        requests=len(mine),
        to_last_trigger_delivery_s=last - began_wall,
        answers=ledger.answers,
        deliver_command=deliver_command,
    )


@dataclass
class Report:
    latencies_ms: list[float]
    sustained: Sustained
    deliveries: int  # every request the receiver got, each verified
    unverified: list[str]  # why a request failed verification

    @property
    def checks(self) -> list[Check]:
        s = self.sustained
        return [
            Check(f"{s.missing:,} of {s.written:,} events missing at the receiver", s.missing == 0),
            Check(
                f"{self.deliveries - len(self.unverified):,} of {self.deliveries:,} requests "
                "verified with standardwebhooks"
                + (f": {self.unverified[0]}" if self.unverified else ""),
                not self.unverified,
            ),
        ]

    @property
    def ok(self) -> bool:
        return all(check.passed for check in self.checks)

    def text(self) -> str:
        s = self.sustained
        lines = []
        if self.latencies_ms:
            ms = self.latencies_ms
            lines.append(
                f"delivery latency, updateGenerationStatus answered -> generation.completed "
                f"received ({len(ms)} generations one after another, after {WARM_UPS} "
                f"warm-ups): median {statistics.median(ms):,.0f} ms, "
                f"p95 {percentile(ms, 0.95):,.0f} ms, min {min(ms):,.0f} ms, "
                f"max {max(ms):,.0f} ms"
            )
        completed = s.answers.get("updateGenerationStatus", Counter())["ok"]
        lines.append(
            f"{s.users} users for {s.seconds:.1f} s: {completed:,} generations started and "
            f"completed, {s.written:,} events written ({s.written / s.seconds:.1f}/s)"
        )
        for name, codes in sorted(s.answers.items()):
            tally = ", ".join(f"{code} {n:,}" for code, n in codes.most_common())
            lines.append(f"  {name}: {tally}")
        lines.append(
            f"events received (unique webhook-ids): {s.received:,} of {s.written:,}, "
            f"{s.by_trigger:,} through the trigger alone within {TRIGGER_DEADLINE_S:.0f} s; "
            f"duplicates {s.duplicates:,}; missing {s.missing:,}"
        )
        if s.deliver_command is not None:
            lines.append(f"  python -m generations_live webhooks deliver: {s.deliver_command}")
        lines.append(
            f"deliveries sustained: {s.deliveries_per_second:.1f}/s ({s.by_trigger:,} events "
            f"through the trigger / {s.to_last_trigger_delivery_s:.1f} s from the phase start "
            f"to the last of them, {s.to_last_trigger_delivery_s - s.seconds:.1f} s after "
            "the load stopped)"
        )
        lines.append(f"nothing lost: {'yes' if s.missing == 0 else 'NO'}")
        lines += [f"  [{'ok' if c.passed else 'FAILED'}] {c.what}" for c in self.checks]
        return "\n".join(lines)


def run_webhooks(suite: EmulatorSuite, latency_samples: int, users: int, seconds: float) -> Report:
    """The latency phase, then the sustained phase, on one registered receiver."""
    with registered_receiver(suite, users) as cast:
        print(f"latency: {latency_samples} generations one after another", file=sys.stderr)
        latencies = measure_latency(cast, latency_samples)
        print(f"sustained: {users} users for {seconds:.0f} s", file=sys.stderr)
        sustained = sustain(cast, seconds)
        cast.verifier.catch_up()
        return Report(latencies, sustained, cast.verifier.checked, list(cast.verifier.problems))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webhooks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--latency-samples", type=int, default=50, help="timed generations (default 50)"
    )
    parser.add_argument("--users", type=int, default=8, help="sustained-phase users (default 8)")
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="sustained-phase load (default 20)"
    )
    args = parser.parse_args(argv)
    if min(args.latency_samples, args.users) < 1 or args.seconds <= 0:
        parser.error("--latency-samples and --users must be at least 1, --seconds positive")
    log = Path(tempfile.mkdtemp(prefix="webhooks-run-")) / "firebase-tools.log"
    print(f"starting the emulators (log: {log})", file=sys.stderr)
    with emulator_suite(log=log) as suite:
        report = run_webhooks(suite, args.latency_samples, args.users, args.seconds)
    print(report.text())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
