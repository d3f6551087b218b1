"""Simulated traffic for the local backend: a few creators start generations
and a worker reports how they ended, so the live feed has something to show.

Everything goes through the public callables with Auth-emulator ID tokens,
exactly as apps and workers would call them; nothing writes Firestore directly.
Completed generations carry real outputs (pictures, WebM clips, WAV sounds,
text) that the worker serves from a loopback port for the dashboard to show.

    python scripts/demo_traffic.py --auth-url http://127.0.0.1:9099 \\
        --functions-url http://127.0.0.1:5001/demo-generations-live/us-central1
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from demo_outputs import OutputServer, render
from generations_live.domain.signatures import SIGNATURE_HEADER, sign
from harness.clients import AppUser, AuthEmulator, CallableClient, CallableError
from harness.emulators import PROJECT_ID, local_webhook_secret

log = logging.getLogger("demo")

CREATORS = (
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Katherine Johnson",
    "Claude Shannon",
    "Hedy Lamarr",
    "Margaret Hamilton",
    "Edsger Dijkstra",
)
ENGINES = {
    "image": ("gemini", "runware", "ideogram"),
    "video": ("sora", "klingai", "runway"),
    "audio": ("elevenlabs", "suno"),
    "text": ("gemini", "mistral"),
}
PROMPTS = {
    "image": (
        "a lighthouse in a storm, oil painting",
        "isometric pixel-art city at dusk",
        "portrait of a red fox in fresh snow",
    ),
    "video": (
        "drone shot over a misty fjord at sunrise",
        "a paper boat drifting down a rainy street",
    ),
    "audio": ("lo-fi beat for studying, 90 bpm", "a warm voice reading a bedtime story"),
    "text": ("a haiku about compilers", "the history of the analytical engine in 100 words"),
}
# How long each type runs, in seconds: long enough to watch it in the feed.
RUN_TIME_S = {"image": (2.0, 6.0), "video": (5.0, 12.0), "audio": (3.0, 8.0), "text": (1.0, 3.0)}
FAILURES = (
    ("safety_filter", "the prompt was blocked by the engine's safety filter"),
    ("engine_timeout", "the engine did not answer in time"),
    ("engine_overloaded", "the engine refused the job: too many requests"),
)
OUTCOME_WEIGHTS = {"completed": 75, "failed": 15, "canceled": 10}
START_CHANCE_PER_TICK = 0.6
RETRY_CHANCE = 0.1
# Credits a simulated purchase buys when a creator's quote says they are short.
PURCHASE_CREDITS = 100
FEED_EVERY_TICKS = 10
# The completion fields a backend without outputs refuses as unknown.
OUTPUT_FIELDS = ("outputs", "preview")


@dataclass(frozen=True)
class _Pending:
    generation_id: str
    owner: AppUser
    outcome: str
    started_at: float
    due_at: float
    kind: str
    prompt: str
    batch_size: int
    # Draws the outputs, so a seeded demo makes the same pictures each run.
    output_seed: int


@dataclass
class _Worker:
    """The render worker: its account, the server its outputs are fetched
    from, and whether the backend takes outputs at all (an older one does not)."""

    user: AppUser
    outputs: OutputServer
    sends_outputs: bool = True


def run_demo(
    auth_url: str,
    functions_base_url: str,
    project: str,
    *,
    stop: threading.Event,
    seed: int | None = None,
    users: int = 5,
    tick_s: float = 1.0,
) -> None:
    """Create the accounts, then start and settle generations until ``stop`` is set."""
    if not 1 <= users <= len(CREATORS):
        raise ValueError(f"users must be between 1 and {len(CREATORS)}, got {users}")
    rng = random.Random(seed)
    auth = AuthEmulator(auth_url, project)
    client = CallableClient(functions_base_url)
    # The Admin SDK does not check expiry of Auth-emulator tokens, so these
    # last as long as the demo does without refreshing.
    creators = [auth.create_user(display_name=name) for name in rng.sample(CREATORS, users)]
    worker_user = auth.create_user(display_name="Render Worker", claims={"worker": True})
    log.info("signed up %s and a worker", ", ".join(str(c.display_name) for c in creators))

    payments = _PaymentProvider(functions_base_url, rng)
    pending: list[_Pending] = []
    ticks = 0
    # Stopped on the way out, however the loop ends, so no port stays open.
    with OutputServer() as outputs:
        log.info("the worker serves its outputs at %s", outputs.base_url)
        worker = _Worker(worker_user, outputs)
        while not stop.wait(tick_s):
            ticks += 1
            now = time.monotonic()
            for item in [p for p in pending if p.due_at <= now]:
                if stop.is_set():
                    break
                pending.remove(item)
                _settle(client, item, worker, rng, now)
            if rng.random() < START_CHANCE_PER_TICK:
                started = _start(client, payments, rng.choice(creators), rng)
                if started is not None:
                    pending.append(started)
            if ticks % FEED_EVERY_TICKS == 0:
                _show_feed(client, creators[0])
    log.info("stopped with %d generations still in progress", len(pending))


class _PaymentProvider:
    """Reports credit purchases to the payment webhook, signed as a provider would."""

    def __init__(self, functions_base_url: str, rng: random.Random) -> None:
        self._url = f"{functions_base_url}/paymentWebhook"
        self._secret = local_webhook_secret()
        self._rng = rng

    def buy(self, buyer: AppUser, credits: int) -> None:
        event = {
            "id": f"evt_demo_{self._rng.getrandbits(64):016x}",
            "type": "credits.purchased",
            "data": {"userId": buyer.uid, "credits": credits},
        }
        body = json.dumps(event).encode()
        signature = sign(self._secret, int(time.time()), body)
        try:
            reply = requests.post(
                self._url, data=body, headers={SIGNATURE_HEADER: signature}, timeout=30
            )
        except requests.RequestException as error:
            log.warning("payment webhook did not answer: %s", error)
            return
        log.info(
            "purchased %d credits for %s (webhook %d)",
            credits,
            buyer.display_name,
            reply.status_code,
        )


def _start(
    client: CallableClient, payments: _PaymentProvider, creator: AppUser, rng: random.Random
) -> _Pending | None:
    kind = rng.choice(tuple(ENGINES))
    request: dict[str, Any] = {
        "type": kind,
        "engine": rng.choice(ENGINES[kind]),
        "prompt": rng.choice(PROMPTS[kind]),
        "requestId": f"demo-{rng.getrandbits(64):016x}",
        "batchSize": rng.choice((2, 4)) if kind == "image" and rng.random() < 0.3 else 1,
        "visibility": "private" if rng.random() < 0.15 else "public",
    }
    # Show the price first, as an app would, and buy credits when they run short.
    quote = _call(
        client, "quoteGeneration", {"type": kind, "batchSize": request["batchSize"]}, creator
    )
    if quote is not None and not quote["canAfford"]:
        payments.buy(creator, PURCHASE_CREDITS)
    result = _call(client, "trackGeneration", request, creator)
    if result is None:
        return None
    generation_id = str(result["generationId"])
    log.info(
        "started   %s %s/%s x%d %s by %s: %r (%d credits, %d available%s)",
        generation_id,
        kind,
        request["engine"],
        request["batchSize"],
        request["visibility"],
        creator.display_name,
        request["prompt"],
        result["cost"],
        result["available"],
        ", low on credits" if "warning" in result else "",
    )
    # Apps resend a request when the answer is lost; the requestId makes it harmless.
    if rng.random() < RETRY_CHANCE:
        again = _call(client, "trackGeneration", request, creator)
        if again is not None and again["generationId"] == generation_id:
            log.info("retried   %s: the resend found the same generation", generation_id)
        elif again is not None:
            log.warning("retried   %s: the resend made %s", generation_id, again["generationId"])
    outcome = rng.choices(tuple(OUTCOME_WEIGHTS), weights=tuple(OUTCOME_WEIGHTS.values()))[0]
    run_time = rng.uniform(*RUN_TIME_S[kind])
    if outcome == "canceled":
        run_time *= rng.uniform(0.2, 0.6)  # owners give up partway, not at the end
    now = time.monotonic()
    return _Pending(
        generation_id,
        creator,
        outcome,
        started_at=now,
        due_at=now + run_time,
        kind=kind,
        prompt=str(request["prompt"]),
        batch_size=int(request["batchSize"]),
        output_seed=rng.getrandbits(32),
    )


def _settle(
    client: CallableClient, item: _Pending, worker: _Worker, rng: random.Random, now: float
) -> None:
    update: dict[str, Any] = {"generationId": item.generation_id, "status": item.outcome}
    if item.outcome == "canceled":
        if _call(client, "updateGenerationStatus", update, item.owner) is not None:
            log.info("canceled  %s by its owner %s", item.generation_id, item.owner.display_name)
        return
    duration_ms = int((now - item.started_at) * 1000)
    update["durationMs"] = duration_ms
    if item.outcome == "failed":
        code, message = rng.choice(FAILURES)
        update["error"] = {"code": code, "message": message}
    elif worker.sends_outputs:
        update |= _output_fields(item, worker.outputs)
    if _complete(client, update, worker) is None:
        return
    if "error" in update:
        detail = f": {update['error']['code']}"
    elif "outputs" in update:
        detail = f" with {len(update['outputs'])} output(s)"
    else:
        detail = ""
    log.info("%-9s %s after %.1f s%s", item.outcome, item.generation_id, duration_ms / 1000, detail)


def _output_fields(item: _Pending, server: OutputServer) -> dict[str, Any]:
    """``outputs`` and ``preview`` of a completed generation: what the worker
    made, published on its server (text goes inline)."""
    # At most batchSize outputs: a batch of images gives one each, the rest one.
    rendered = render(item.kind, item.prompt, item.output_seed, item.batch_size)
    fields: dict[str, Any] = {}
    if rendered.text is not None:
        fields["outputs"] = [{"text": rendered.text, "contentType": "text/plain"}]
    else:
        fields["outputs"] = [
            media.report(server.publish(item.owner.uid, item.generation_id, index, media))
            for index, media in enumerate(rendered.files)
        ]
    if rendered.preview is not None:
        fields["preview"] = base64.b64encode(rendered.preview).decode("ascii")
    return fields


def _complete(client: CallableClient, update: dict[str, Any], worker: _Worker) -> Any:
    """Report the end as the worker; against a backend that refuses outputs,
    say so once and from then on report ends without them."""
    if not any(name in update for name in OUTPUT_FIELDS):
        return _call(client, "updateGenerationStatus", update, worker.user)
    try:
        return _call(
            client, "updateGenerationStatus", update, worker.user, raise_if=_refuses_outputs
        )
    except CallableError as error:
        worker.sends_outputs = False
        log.warning(
            "updateGenerationStatus refused the outputs (%s): completing without them from now on",
            error.message,
        )
    bare = {name: value for name, value in update.items() if name not in OUTPUT_FIELDS}
    return _call(client, "updateGenerationStatus", bare, worker.user)


def _refuses_outputs(error: CallableError) -> bool:
    """An invalid-argument naming ``outputs`` or ``preview``: either a backend
    that predates them or one that refuses these; the end is reported anyway."""
    if error.code != "invalid-argument":
        return False
    problems = error.details.get("errors") if isinstance(error.details, dict) else None
    if isinstance(problems, list):
        fields = [str(p.get("field", "")) for p in problems if isinstance(p, dict)]
        return any(field.startswith(OUTPUT_FIELDS) for field in fields)
    # No field list: the message is all there is to go by.
    return any(name in error.message for name in OUTPUT_FIELDS)


def _show_feed(client: CallableClient, reader: AppUser) -> None:
    result = _call(client, "getLiveGenerations", {"limit": 50}, reader)
    if result is not None:
        statuses = Counter(str(g["status"]) for g in result["generations"])
        log.info("feed      newest %d: %s", statuses.total(), dict(sorted(statuses.items())))


def _call(
    client: CallableClient,
    name: str,
    data: Any,
    user: AppUser,
    *,
    raise_if: Callable[[CallableError], bool] | None = None,
) -> Any:
    """Call as ``user``; a refusal or a lost connection is logged, not fatal,
    except the refusals ``raise_if`` picks out, which the caller handles."""
    try:
        return client.call(name, data, id_token=user.id_token)
    except CallableError as error:
        if raise_if is not None and raise_if(error):
            raise
        log.warning("%s refused for %s: %s", name, user.display_name, error)
    except requests.RequestException as error:
        log.warning("%s did not reach the emulator: %s", name, error)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Simulated generation traffic for the emulators.")
    parser.add_argument("--auth-url", required=True, help="e.g. http://127.0.0.1:9099")
    parser.add_argument("--functions-url", required=True, help="base URL of the callables")
    parser.add_argument("--project", default=PROJECT_ID)
    parser.add_argument("--duration", type=float, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--users", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%X"
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.duration is not None:
        timer = threading.Timer(args.duration, stop.set)
        timer.daemon = True
        timer.start()
    run_demo(
        args.auth_url,
        args.functions_url,
        args.project,
        stop=stop,
        seed=args.seed,
        users=args.users,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
