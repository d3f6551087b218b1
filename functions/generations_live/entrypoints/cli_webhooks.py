"""``python -m generations_live webhooks ...``: the operator's view of outbound
webhooks, beside the admins' callables.

``list`` shows every endpoint (never its secret) with its latest attempts;
``register``, ``disable`` and ``rotate-secret`` do what the callables do;
``replay`` sends an event again under the same ``webhook-id``; ``test`` sends a
``webhook.test`` event to one endpoint now and prints what the attempt found;
``deliver`` does the ``deliverWebhooks`` schedule's work once, for the emulators
(which run no schedules) or to drain a backlog without waiting for the minute.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from generations_live.adapters.config import delivery_config
from generations_live.adapters.webhooks import WebhookStore
from generations_live.domain.identity import Caller
from generations_live.domain.models import RegisterWebhookEndpointRequest, WebhookEndpointRequest
from generations_live.domain.webhooks import SUBSCRIBABLE
from generations_live.entrypoints.couriers import courier
from generations_live.entrypoints.schedules import DELIVERY_BUDGET
from generations_live.services import webhooks

ClientFor = Callable[[str | None], firestore.Client]
EXIT_OK = 0


def _operator(uid: str) -> Caller:
    """The operator acts with an admin's rights, under the account named by --by."""
    return Caller(uid=uid, display_name="Operator", email=None, is_admin=True, is_worker=False)


def _print(document: Any) -> None:
    print(json.dumps(document, indent=2, sort_keys=True, default=_json_value))


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def _endpoint_request(endpoint_id: str) -> WebhookEndpointRequest:
    return WebhookEndpointRequest.model_validate({"endpointId": endpoint_id})


def add_webhook_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    project: argparse.ArgumentParser,
    client_for: ClientFor,
) -> None:
    """Add ``webhooks ACTION`` to the operator's commands."""
    command = commands.add_parser(
        "webhooks",
        help="List, register, disable, rotate, replay, test and deliver outbound webhooks.",
        description=__doc__,
        parents=[project],
    )
    command.set_defaults(command_parser=command)
    actions = command.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, handler: Callable[[argparse.Namespace], int], summary: str) -> Any:
        parser = actions.add_parser(name, help=summary, description=summary, parents=[project])
        parser.set_defaults(handler=handler, command_parser=parser)
        return parser

    def store(args: argparse.Namespace) -> WebhookStore:
        return WebhookStore(client_for(args.project))

    def list_endpoints(args: argparse.Namespace) -> int:
        _print(webhooks.list_endpoints(store(args), _operator("operator"), attempts=args.attempts))
        return EXIT_OK

    def register(args: argparse.Namespace) -> int:
        events = [event.strip() for event in args.events.split(",") if event.strip()]
        request = RegisterWebhookEndpointRequest.model_validate({"url": args.url, "events": events})
        answer = webhooks.register_endpoint(
            store(args), _operator(args.by), request, delivery_config()
        )
        _print(answer)
        print("keep the secret: it is shown only now", file=sys.stderr)
        return EXIT_OK

    def disable(args: argparse.Namespace) -> int:
        request = _endpoint_request(args.endpoint)
        _print(webhooks.disable_endpoint(store(args), _operator(args.by), request, _now()))
        return EXIT_OK

    def rotate(args: argparse.Namespace) -> int:
        request = _endpoint_request(args.endpoint)
        _print(webhooks.rotate_secret(store(args), _operator(args.by), request, _now()))
        return EXIT_OK

    def replay(args: argparse.Namespace) -> int:
        courier_now = courier(client_for(args.project))
        deliveries = webhooks.replay(
            courier_now.store, args.event, args.endpoint, courier_now.config, _now()
        )
        states = {d: courier_now.attempt(d) for d in deliveries}
        _print({d: state.value if state else None for d, state in states.items()})
        return EXIT_OK

    def test(args: argparse.Namespace) -> int:
        _print(courier(client_for(args.project)).send_test(args.endpoint))
        return EXIT_OK

    def deliver(args: argparse.Namespace) -> int:
        budget = timedelta(seconds=args.budget_seconds)
        counts = courier(client_for(args.project)).deliver_due(budget=budget)
        # One line: the local backend logs a scheduled command's last line.
        print(json.dumps(counts, sort_keys=True))
        return EXIT_OK

    listing = action("list", list_endpoints, "Print every endpoint and its latest attempts.")
    listing.add_argument("--attempts", type=int, default=5, help="attempts per endpoint")
    registering = action("register", register, "Register an endpoint; prints its secret once.")
    registering.add_argument("--url", required=True, help="https URL of the receiver")
    registering.add_argument(
        "--events",
        default=",".join(SUBSCRIBABLE),
        help="comma-separated event types (default: all of them)",
    )
    for name, handler, summary in (
        ("disable", disable, "Stop deliveries to an endpoint."),
        ("rotate-secret", rotate, "New signing secret; the old one signs too for a day."),
    ):
        parser = action(name, handler, summary)
        parser.add_argument("--endpoint", required=True, help="the endpoint id")
        _add_by(parser)
    _add_by(registering)
    replaying = action("replay", replay, "Send an event again, under the same webhook-id.")
    replaying.add_argument("--event", required=True, help="the event id (the webhook-id)")
    replaying.add_argument("--endpoint", help="only to this endpoint (default: every one)")
    testing = action("test", test, "Send a webhook.test event to an endpoint now.")
    testing.add_argument("--endpoint", required=True, help="the endpoint id")
    delivering = action(
        "deliver",
        deliver,
        "Send every due delivery now, and events the dispatcher missed, as the "
        "deliverWebhooks schedule does.",
    )
    delivering.add_argument(
        "--budget-seconds",
        type=_positive_seconds,
        metavar="SECONDS",
        default=DELIVERY_BUDGET.total_seconds(),
        help="stop starting new batches after this long (default: the schedule's, "
        f"{DELIVERY_BUDGET.total_seconds():.0f})",
    )


def _add_by(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--by",
        required=True,
        metavar="UID",
        help="the admin account acting (told if the endpoint is disabled later)",
    )


def _positive_seconds(text: str) -> float:
    seconds = float(text)
    if not 0 < seconds < math.inf:
        raise argparse.ArgumentTypeError(f"{text} is not a positive, finite number of seconds")
    return seconds


def _now() -> datetime:
    return datetime.now(UTC)
