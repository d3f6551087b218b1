"""The payment provider's webhook (HTTPS, not callable).

The use case, the models and the Firestore client load on the first request.
"""
# ruff: noqa: N802, PLC0415 - the camelCase name is the deployed one; imports are deferred

from __future__ import annotations

import json
from datetime import UTC, datetime

import flask
from firebase_functions import https_fn, logger

from generations_live.adapters.config import PAYMENT_WEBHOOK_SECRET, WEBHOOK_TOLERANCE
from generations_live.domain import signatures

PURCHASE_EVENT = "credits.purchased"


def _reply(status: int, **body: object) -> flask.Response:
    return flask.make_response(flask.jsonify(body), status)


@https_fn.on_request(secrets=[PAYMENT_WEBHOOK_SECRET])
def paymentWebhook(request: flask.Request) -> flask.Response:
    """Credit purchases reported by the payment provider, each event exactly once.

    401 for a bad or stale signature, 400 for a malformed body, 200 for an
    applied, replayed or ignored event; nothing is written unless applied.
    """
    if request.method != "POST":
        return _reply(405, error="POST only")
    raw_body = request.get_data(cache=True)
    try:
        signatures.verify(
            PAYMENT_WEBHOOK_SECRET.value,
            request.headers.get(signatures.SIGNATURE_HEADER),
            raw_body,
            datetime.now(UTC),
            WEBHOOK_TOLERANCE,
        )
    except signatures.InvalidSignature as refused:
        logger.warn("payment webhook refused", reason=str(refused))
        return _reply(401, error=str(refused))
    from generations_live.adapters.firestore import default_client
    from generations_live.adapters.generations import GenerationStore
    from generations_live.domain.models import PaymentEvent, PurchaseData
    from generations_live.services import billing

    try:
        event = PaymentEvent.model_validate(json.loads(raw_body))
        if event.type != PURCHASE_EVENT:
            return _reply(200, received=True, ignored=True, eventId=event.id)
        purchase = PurchaseData.model_validate(event.data)
    except ValueError as malformed:
        # ValidationError, json.JSONDecodeError and UnicodeDecodeError are all ValueErrors.
        return _reply(400, error=f"malformed event: {malformed}")
    applied = billing.apply_purchase(GenerationStore(default_client()), event.id, purchase)
    logger.info("payment event", eventId=event.id, applied=applied)
    return _reply(200, received=True, applied=applied, eventId=event.id)
