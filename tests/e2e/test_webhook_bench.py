"""The webhook bench's run, small, against the session's emulators: every event
reaches the receiver and verifies; and ``webhooks deliver``, the schedule's work
on demand, sends a delivery that is due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bench.webhooks import run_webhooks
from harness.clients import AppUser, CallableClient, FirestoreAdminRest
from harness.emulators import EmulatorSuite, run_operator_command
from harness.receiver import Receiver, verified

DEADLINE_S = 60.0


def test_the_webhook_bench_loses_nothing_and_every_delivery_verifies(
    suite: EmulatorSuite,
) -> None:
    report = run_webhooks(suite, latency_samples=5, users=2, seconds=5)
    print(report.text())
    assert len(report.latencies_ms) == 5
    assert all(0 < ms < DEADLINE_S * 1000 for ms in report.latencies_ms)
    sustained = report.sustained
    assert sustained.written > 0
    assert sustained.missing == 0
    assert sustained.deliveries_per_second > 0
    assert report.deliveries >= sustained.received
    assert report.unverified == []
    assert report.ok, report.text()


def test_webhooks_deliver_sends_a_due_delivery_again_under_its_webhook_id(
    suite: EmulatorSuite,
    api: CallableClient,
    user: AppUser,
    admin: AppUser,
    firestore_admin: FirestoreAdminRest,
) -> None:
    with Receiver() as receiver:
        endpoint = api.call(
            "registerWebhookEndpoint",
            {"url": receiver.url, "events": ["generation.started"]},
            id_token=admin.id_token,
        )
        try:
            api.call(
                "trackGeneration", {"type": "text", "prompt": "a tide"}, id_token=user.id_token
            )
            (first,) = receiver.wait_for("the start", lambda got: len(got) >= 1, DEADLINE_S)
            # As a dispatcher that failed and left a retry due would leave it.
            path = f"webhook_deliveries/{first.webhook_id}_{endpoint['endpointId']}"
            fields = firestore_admin.get(path)
            assert fields is not None
            assert fields["state"] == {"stringValue": "delivered"}
            overdue = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
            firestore_admin.write(
                path,
                {
                    **fields,
                    "state": {"stringValue": "pending"},
                    "nextAttemptAt": {"timestampValue": overdue},
                    "leaseUntil": {"nullValue": None},
                },
            )

            done = run_operator_command(suite, "webhooks", "deliver", "--budget-seconds", "20")
            assert done.returncode == 0, done.stderr
            counts = json.loads(done.stdout)
            assert set(counts) == {"fannedOut", "attempted", "delivered", "dead"}
            assert counts["delivered"] >= 1
            again = receiver.requests()
            assert [r.webhook_id for r in again] == [first.webhook_id] * 2
            assert again[1].body == first.body
            verified(endpoint["secret"], again[1])
            after = firestore_admin.get(path)
            assert after is not None
            assert after["state"] == {"stringValue": "delivered"}
        finally:
            api.call(
                "disableWebhookEndpoint",
                {"endpointId": endpoint["endpointId"]},
                id_token=admin.id_token,
            )
