"""Outbound webhook signatures, as the Standard Webhooks specification defines
them (https://www.standardwebhooks.com/). Pure rules: no I/O.

Every delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` values, each
signing ``"<id>.<timestamp>.<body>"`` with one endpoint secret. A secret is
``whsec_`` followed by the standard base64 of its key bytes.

While an endpoint's secret is being rotated, the new and the previous secret
both sign, so a receiver still holding either one verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Sequence
from secrets import token_bytes
from typing import Final

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES: Final = 32
# The specification asks for keys of 24 to 64 bytes: shorter ones are guessable,
# and receivers' libraries need not accept longer ones.
MIN_SECRET_BYTES: Final = 24
MAX_SECRET_BYTES: Final = 64
SIGNATURE_VERSION: Final = "v1"
USER_AGENT: Final = "GenerationsLive-Webhooks/1"
CONTENT_TYPE: Final = "application/json"

# A message id goes into a header and into the signed text. Without dots the
# signed text splits one way only ("a.1" at time 2 would otherwise sign the
# same bytes as "a" at time 1 with a body starting "2."), and without spaces
# or control characters it cannot break the header.
_MESSAGE_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,255}")


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode("ascii")


def parse_secret(secret: str) -> bytes:
    """The key bytes of a ``whsec_`` secret; ``ValueError`` when it is malformed."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX!r}")
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as malformed:
        raise ValueError("a webhook secret's key is standard base64") from malformed
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"a webhook secret's key is {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes,"
            f" got {len(key)}"
        )
    return key


def signature_header(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1,<signature>`` per secret, in order."""
    if isinstance(secrets, str):
        # A bare string is a sequence of one-character "secrets": a caller's slip.
        raise TypeError("secrets is a sequence of secrets, not one secret")
    if not secrets:
        raise ValueError("a webhook is signed with at least one secret")
    signed = _signed_content(message_id, timestamp, body)
    return " ".join(
        f"{SIGNATURE_VERSION},"
        + base64.b64encode(hmac.digest(parse_secret(secret), signed, hashlib.sha256)).decode(
            "ascii"
        )
        for secret in secrets
    )


def delivery_headers(
    secrets: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Every header a delivery of this body sends, signature included."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, message_id, timestamp, body),
        "content-type": CONTENT_TYPE,
        "user-agent": USER_AGENT,
    }


def _signed_content(message_id: str, timestamp: int, body: bytes) -> bytes:
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError("a webhook message id is 1 to 255 letters, digits, '_' or '-'")
    # bool is an int; and receivers read the timestamp as non-negative seconds.
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("a webhook timestamp is a non-negative number of Unix seconds")
    return f"{message_id}.{timestamp}.".encode("ascii") + body
