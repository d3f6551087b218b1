"""The payment provider's webhook (HTTPS, not callable).

The use case, the models and the Firestore client load on the first request.
"""
# ruff: noqa: N802, PLC0415 - the camelCase name is the deployed one; imports are deferred

from __future__ import annotations

import json
from datetime import UTC, datetime

import flask
from firebase_functions import https_fn, logger

from generations_live.adapters.config import (
    PAYMENT_WEBHOOK_SECRET,
    WEBHOOK_TOLERANCE,
    notice_policy,
)
from generations_live.domain import signatures
from generations_live.entrypoints.deployment import WEBHOOK
from generations_live.entrypoints.edge import body_within

PURCHASE_EVENT = "credits.purchased"
# A provider's event is a few hundred bytes; nothing larger is read.
MAX_WEBHOOK_BODY_BYTES = 64 * 1024


def _reply(status: int, **body: object) -> flask.Response:
    return flask.make_response(flask.jsonify(body), status)


@https_fn.on_request(secrets=[PAYMENT_WEBHOOK_SECRET], **WEBHOOK)
def paymentWebhook(request: flask.Request) -> flask.Response:
    """Credit purchases reported by the payment provider, each event exactly once.

    401 for a bad or stale signature (the answer never says which: the
    reason is logged), 400 for a malformed body, 413 for one over 64 KiB, 200
    for an applied, replayed or ignored event, and for a purchase by a user id
    with no account, which is parked for review instead of credited.
    """
    if request.method != "POST":
        return _reply(405, error="POST only")
    if not body_within(request, MAX_WEBHOOK_BODY_BYTES):
        return _reply(413, error=f"the body must be at most {MAX_WEBHOOK_BODY_BYTES // 1024} KiB")
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
        return _reply(401, error="invalid signature")
    from generations_live.adapters import accounts
    from generations_live.adapters.firestore import default_client
    from generations_live.adapters.generations import GenerationStore
    from generations_live.domain.models import PaymentEvent, PurchaseData
    from generations_live.services import billing

    try:
        event = PaymentEvent.model_validate(json.loads(raw_body))
        if event.type != PURCHASE_EVENT:
            return _reply(200, received=True, ignored=True, eventId=event.id)
        purchase = PurchaseData.model_validate(event.data)
    except (ValueError, RecursionError) as malformed:
        # ValidationError, json.JSONDecodeError and UnicodeDecodeError are all
        # ValueErrors; Python's JSON reader recurses, so deep nesting is malformed too.
        return _reply(400, error=f"malformed event: {malformed}")
    store = GenerationStore(default_client(), notices=notice_policy())
    outcome = billing.apply_purchase(store, event.id, purchase, accounts.user_exists)
    logger.info("payment event", eventId=event.id, outcome=outcome.value)
    return _reply(
        200,
        received=True,
        applied=outcome is billing.PurchaseOutcome.APPLIED,
        parked=outcome is billing.PurchaseOutcome.PARKED,
        eventId=event.id,
    )
