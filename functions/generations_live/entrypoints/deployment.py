"""How each kind of function runs once deployed: its resource bounds and App
Check, in one place.

Every bound is chosen for what the function does, so that a flood of calls
costs a bounded bill and a stuck call ends:

- **Callables** answer in tens of milliseconds (one transaction); the slowest
  path is a duplicate call waiting up to 20 s for the one ahead of it (see
  ``adapters/claims.py``). 60 s ends anything stuck, and stays below the 2-minute
  claim lease, so no live call is ever overtaken. Python serves concurrent
  requests with threads: 40 at once on one vCPU keeps an instance busy
  without queueing behind slow transactions; 512 MiB holds the SDKs with room.
  ``CALLABLE_MAX_INSTANCES`` caps the bill of a flood (20 x 40 = 800 calls in
  flight); raise it with the traffic.
- **The payment webhook** does one transaction per event; the provider
  retries, so a small cap only delays purchases, never loses them.
- **The webhook dispatcher** (a Firestore trigger on the outbox) sends an
  event's deliveries, each within a few seconds' timeout, and may wait a few
  seconds for one retry: 60 s ends it. 20 events at once per instance; the
  sweeper delivers whatever it leaves.
- **The feed maintainer** (a Firestore trigger on the feed) reads a few
  leases per change and, for at most one change per view and second, runs
  the view's query and writes its snapshot, waiting up to a second for its
  period: most invocations end in milliseconds, a few wait, so 40 at once
  per instance. The schedule puts right whatever it misses.
- **Schedules** fold, sweep and clean in bounded batches for minutes: one
  instance, one run at a time, up to 9 minutes (the longest a scheduled
  function may run). Running twice at once would only contend: the rollups
  also hold their own lease.

App Check: with ``ENFORCE_APP_CHECK=true`` in the deploy's environment
(``functions/.env``), every callable refuses a request without a valid App
Check token, and ``trackGeneration`` takes limited-use tokens and consumes
them, so a captured request cannot be replayed. It is read when the functions
are loaded, because the SDK fixes enforcement when it wraps a function.
"""

from __future__ import annotations

import os
from typing import Any

from firebase_functions import options, params

CALLABLE_MAX_INSTANCES = params.IntParam(
    "CALLABLE_MAX_INSTANCES",
    default=20,
    description="Instances each callable may scale to (each serves 40 calls at once).",
)
WEBHOOK_MAX_INSTANCES = params.IntParam(
    "WEBHOOK_MAX_INSTANCES",
    default=5,
    description="Instances the payment webhook may scale to.",
)

DISPATCH_MAX_INSTANCES = params.IntParam(
    "DISPATCH_MAX_INSTANCES",
    default=10,
    description="Instances the webhook dispatcher may scale to (each sends 20 events at once).",
)

FEED_MAINTAINER_MAX_INSTANCES = params.IntParam(
    "FEED_MAINTAINER_MAX_INSTANCES",
    default=10,
    description="Instances the feed snapshots' maintainer may scale to (40 changes at once each).",
)

CALLABLE_TIMEOUT_SECONDS = 60
SCHEDULE_TIMEOUT_SECONDS = 540

CALLABLES: dict[str, Any] = {
    "memory": options.MemoryOption.MB_512,
    "cpu": 1,
    "concurrency": 40,
    "timeout_sec": CALLABLE_TIMEOUT_SECONDS,
    "max_instances": CALLABLE_MAX_INSTANCES,
}
WEBHOOK: dict[str, Any] = {
    "memory": options.MemoryOption.MB_256,
    "cpu": 1,
    "concurrency": 20,
    "timeout_sec": 30,
    "max_instances": WEBHOOK_MAX_INSTANCES,
}
DISPATCHER: dict[str, Any] = {
    "memory": options.MemoryOption.MB_256,
    "cpu": 1,
    "concurrency": 20,
    "timeout_sec": 60,
    "max_instances": DISPATCH_MAX_INSTANCES,
}
FEED_MAINTAINER: dict[str, Any] = {
    "memory": options.MemoryOption.MB_256,
    "cpu": 1,
    "concurrency": 40,
    "timeout_sec": 60,
    "max_instances": FEED_MAINTAINER_MAX_INSTANCES,
}
SCHEDULES: dict[str, Any] = {
    "memory": options.MemoryOption.MB_512,
    "cpu": 1,
    "concurrency": 1,
    "timeout_sec": SCHEDULE_TIMEOUT_SECONDS,
    "max_instances": 1,
}

ENFORCE_APP_CHECK_VARIABLE = "ENFORCE_APP_CHECK"


def app_check_enforced() -> bool:
    """Whether the deploy asked callables to require App Check."""
    return os.environ.get(ENFORCE_APP_CHECK_VARIABLE, "").strip().lower() == "true"
