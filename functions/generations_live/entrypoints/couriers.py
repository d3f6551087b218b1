"""The webhook courier as the deployed functions and the operator commands build it:
the Firestore client, the configured retries, and the guarded sender."""

from __future__ import annotations

from collections.abc import Mapping

from google.cloud import firestore

from generations_live.adapters import webhook_sender
from generations_live.adapters.config import delivery_config
from generations_live.adapters.firestore import default_client
from generations_live.adapters.webhooks import WebhookStore
from generations_live.domain.destinations import Destination
from generations_live.services.webhooks import Courier


def courier(client: firestore.Client | None = None) -> Courier:
    config = delivery_config()

    def send(
        destination: Destination, body: bytes, headers: Mapping[str, str]
    ) -> webhook_sender.DeliveryResult:
        return webhook_sender.deliver(
            destination, body, headers, allow_loopback=config.allow_loopback
        )

    return Courier(store=WebhookStore(client or default_client()), config=config, send=send)
