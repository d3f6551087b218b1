"""Outbound webhook signatures verify with the Standard Webhooks reference library."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from generations_live.domain.webhook_signatures import (
    delivery_headers,
    new_secret,
    parse_secret,
    signature_header,
)

BODY = b'{"type":"generation.completed","timestamp":"2026-12-03T16:00:00Z","data":{"id":"g1"}}'
MESSAGE_ID = "evt_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def now() -> int:
    # The reference verifier refuses timestamps more than five minutes from its clock.
    return int(time.time())


def test_new_secrets_are_well_formed_and_distinct() -> None:
    made = [new_secret() for _ in range(50)]
    assert len(set(made)) == len(made)
    for secret in made:
        assert secret.startswith("whsec_")
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        assert len(key) == 32
        assert parse_secret(secret) == key


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "whsec_",
        "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",  # no prefix
        "whsk_" + base64.b64encode(bytes(32)).decode(),
        "whsec_" + base64.b64encode(bytes(32)).decode()[:-1],  # padding cut short
        "whsec_" + base64.urlsafe_b64encode(b"\xff" * 32).decode(),  # URL-safe alphabet
        "whsec_" + base64.b64encode(bytes(32)).decode() + " ",
        "whsec_" + "é" * 44,
        "whsec_" + base64.b64encode(bytes(16)).decode(),  # too short a key
        "whsec_" + base64.b64encode(bytes(65)).decode(),  # too long a key
    ],
)
def test_a_malformed_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="webhook secret"):
        parse_secret(secret)


def test_every_header_of_a_delivery_verifies_with_the_reference_library() -> None:
    secret = new_secret()
    headers = delivery_headers([secret], MESSAGE_ID, now(), BODY)
    assert Webhook(secret).verify(BODY, headers) == {
        "type": "generation.completed",
        "timestamp": "2026-12-03T16:00:00Z",
        "data": {"id": "g1"},
    }
    assert headers["webhook-id"] == MESSAGE_ID
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "GenerationsLive-Webhooks/1"
    assert headers["webhook-signature"].startswith("v1,")


def test_the_signature_is_the_specifications_hmac() -> None:
    # The example of the specification's own test suite.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signature = signature_header(
        [secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_both_secrets_of_a_rotation_verify() -> None:
    new, previous = new_secret(), new_secret()
    timestamp = now()
    headers = delivery_headers([new, previous], MESSAGE_ID, timestamp, BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, previous):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_tampering_with_the_body_the_timestamp_or_the_id_fails() -> None:
    secret = new_secret()
    timestamp = now()
    headers = delivery_headers([secret], MESSAGE_ID, timestamp, BODY)
    tampered = [
        (BODY.replace(b"g1", b"g2"), headers),
        (BODY, {**headers, "webhook-timestamp": str(timestamp - 1)}),
        (BODY, {**headers, "webhook-id": MESSAGE_ID + "x"}),
    ]
    for body, sent in tampered:
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body, sent)


@pytest.mark.parametrize(
    ("secrets", "message_id", "timestamp", "problem"),
    [
        ([], MESSAGE_ID, 1, "at least one secret"),
        (["whsec_"], MESSAGE_ID, 1, "webhook secret"),
        # A dot would let "a.1" at time 2 sign what "a" at time 1 signs.
        (None, "evt.1", 1, "message id"),
        (None, "evt 1", 1, "message id"),
        (None, "evt\r\nx-injected: 1", 1, "message id"),
        (None, "", 1, "message id"),
        (None, MESSAGE_ID, -1, "timestamp"),
        (None, MESSAGE_ID, True, "timestamp"),
    ],
)
def test_what_cannot_be_signed_unambiguously_is_refused(
    secrets: list[str] | None, message_id: str, timestamp: int, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        signature_header(
            [new_secret()] if secrets is None else secrets, message_id, timestamp, BODY
        )


def test_one_secret_passed_as_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        signature_header(new_secret(), MESSAGE_ID, now(), BODY)
