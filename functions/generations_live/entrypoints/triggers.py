"""Functions Firestore runs on a change: the webhook outbox's dispatcher.

Each event the tracking and billing transactions write to ``webhook_events``
is fanned out and sent at once. Firestore triggers are delivered at most
once here (the SDK cannot ask for retries of them, and the emulator never
redelivers), so nothing depends on this one running: the ``deliverWebhooks``
schedule sends whatever it leaves, every minute.

The use cases and the Firestore client load on the first event, not at import.
"""
# ruff: noqa: N802, PLC0415 - the camelCase name is the deployed one; imports are deferred

from __future__ import annotations

from typing import Any

from firebase_functions import firestore_fn, logger

from generations_live.adapters.collections import WEBHOOK_EVENTS
from generations_live.entrypoints.deployment import DISPATCHER


@firestore_fn.on_document_created(document=f"{WEBHOOK_EVENTS}/{{eventId}}", **DISPATCHER)
def dispatchWebhookEvent(event: firestore_fn.Event[Any]) -> None:
    """Fan a new outbox event out to its endpoints and send it now."""
    from generations_live.entrypoints.couriers import courier

    event_id = str(event.params["eventId"])
    sent = courier().dispatch(event_id)
    logger.info("webhook event dispatched", eventId=event_id, **sent)
