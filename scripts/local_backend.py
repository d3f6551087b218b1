"""Run the backend locally: Auth, Firestore and Functions emulators on the
ports of firebase.json, and Hosting serving the dashboard, optionally with
simulated traffic.

    python scripts/local_backend.py [--demo] [--duration SECONDS]

Stops on Ctrl-C or SIGTERM (or after --duration) and takes the emulators down.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
import textwrap
import threading
from dataclasses import asdict

from demo_traffic import run_demo
from generations_live.entrypoints import registry
from harness.clients import API_KEY
from harness.emulators import (
    PROJECT_ID,
    REGION,
    ROOT,
    WITH_DASHBOARD,
    EmulatorError,
    EmulatorSuite,
    SuitePorts,
    emulator_suite,
    run_operator_command,
)

LOG = ROOT / ".cache" / "emulators.log"
# The demo's requests in flight finish within a callable's round trip.
DEMO_STOP_TIMEOUT_S = 15.0
# The emulator does not run scheduled functions; this loop runs the same code
# through the operator commands, as often as a dashboard wants fresh numbers.
SCHEDULE_EVERY_S = 30.0
SCHEDULED_COMMANDS = (
    ("rollup", "--lag", "0"),
    ("sweep-stuck",),
    ("webhooks", "deliver", "--budget-seconds", "20"),
    ("refresh-feed",),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the backend on the local emulators.")
    parser.add_argument("--demo", action="store_true", help="simulate creators and a worker")
    parser.add_argument(
        "--duration", type=float, help="stop after this many seconds of serving (default: never)"
    )
    parser.add_argument("--seed", type=int, help="seed of the demo traffic")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%X"
    )
    # SIGTERM takes the same way out as Ctrl-C, so the emulators are stopped
    # even when start-up is interrupted.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    ports = SuitePorts.from_config(json.loads((ROOT / "firebase.json").read_text()))
    busy = [f"{name} {port}" for name, port in asdict(ports).items() if _in_use(port)]
    if busy:
        print(f"local backend: ports already in use: {', '.join(busy)}", file=sys.stderr)
        print("Is another emulator suite running? Stop it first.", file=sys.stderr)
        return 1
    LOG.parent.mkdir(exist_ok=True)
    print(f"Starting the emulators (log: {LOG.relative_to(ROOT)}) ...", flush=True)
    try:
        with emulator_suite(ports=ports, log=LOG, only=WITH_DASHBOARD) as suite:
            _print_addresses(suite)
            _serve(suite, demo=args.demo, duration_s=args.duration, seed=args.seed)
    except EmulatorError as error:
        print(f"local backend: the emulators did not start: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    print("Emulators stopped.", flush=True)
    return 0


def _serve(suite: EmulatorSuite, *, demo: bool, duration_s: float | None, seed: int | None) -> None:
    stop = threading.Event()
    traffic: threading.Thread | None = None
    if demo:
        traffic = threading.Thread(
            target=run_demo,
            args=(suite.url("auth"), _functions_base_url(suite), suite.project),
            kwargs={"stop": stop, "seed": seed},
            name="demo-traffic",
            daemon=True,
        )
        traffic.start()
    schedules = threading.Thread(
        target=_run_schedules, args=(suite, stop), name="schedules", daemon=True
    )
    schedules.start()
    try:
        stop.wait(duration_s)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the shutdown short and orphan emulators.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("Stopping ...", flush=True)
        stop.set()
        if traffic is not None:
            traffic.join(DEMO_STOP_TIMEOUT_S)
        schedules.join(DEMO_STOP_TIMEOUT_S)


def _run_schedules(suite: EmulatorSuite, stop: threading.Event) -> None:
    while not stop.wait(SCHEDULE_EVERY_S):
        for command in SCHEDULED_COMMANDS:
            if stop.is_set():
                return
            result = run_operator_command(suite, *command)
            outcome = result.stdout.strip().splitlines() or result.stderr.strip().splitlines()
            logging.info(
                "scheduled %s: %s", command[0], outcome[-1] if outcome else result.returncode
            )


def _functions_base_url(suite: EmulatorSuite) -> str:
    return f"{suite.url('functions')}/{suite.project}/{REGION}"


def _deployed_lines() -> str:
    """The deployed callables and HTTPS functions, as main.py exports them, wrapped."""
    indent = " " * 13
    callables = ", ".join(registry.names(registry.Trigger.CALLABLE))
    wrapped = textwrap.fill(callables, width=92, initial_indent=indent, subsequent_indent=indent)
    https = ", ".join(registry.names(registry.Trigger.HTTPS))
    events = ", ".join(registry.names(registry.Trigger.EVENT))
    tasks = ", ".join(registry.names(registry.Trigger.TASK))
    return (
        f"{wrapped},\n{indent}{https} (HTTPS), {events} (on Firestore writes),\n"
        f"{indent}{tasks} (a task queue)"
    )


def _print_addresses(suite: EmulatorSuite) -> None:
    functions = _functions_base_url(suite)
    auth = suite.url("auth")
    print(
        f"""
Generations Live is running on the emulators (project {PROJECT_ID}):
  Dashboard  {suite.dashboard_url}   (open it in a browser: live feed, numbers, your generations)
  Auth       {auth}   (FIREBASE_AUTH_EMULATOR_HOST={suite.auth_host})
  Firestore  {suite.url("firestore")}   (FIRESTORE_EMULATOR_HOST={suite.firestore_host})
  Functions  {functions}/<callable>
{_deployed_lines()}
  Schedules  rollup, sweep-stuck, webhooks deliver and refresh-feed every {SCHEDULE_EVERY_S:.0f} s
             (the emulator runs no schedule: the operator commands run their code)

Try a callable:
  TOKEN=$(curl -s '{auth}/identitytoolkit.googleapis.com/v1/accounts:signUp?key={API_KEY}' \\
    -H 'Content-Type: application/json' -d '{{"returnSecureToken": true}}' \\
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["idToken"])')
  curl -s {functions}/getLiveGenerations -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/json' -d '{{"data": {{"limit": 5}}}}'

Press Ctrl-C to stop.
""",
        flush=True,
    )


def _in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    sys.exit(main())
