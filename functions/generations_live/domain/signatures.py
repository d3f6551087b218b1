"""Payment webhook signatures: HMAC-SHA256 over the timestamp and raw body.
Pure rules: no I/O.

The provider sends ``Generations-Signature: t=<unix seconds>,v1=<hex digest>``
where the digest signs ``"<t>.<raw body>"`` with the shared secret. Several
``v1`` values may be sent while a secret is being rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timedelta

SIGNATURE_HEADER = "Generations-Signature"
# ASCII only ([0-9], not str.isdigit, which takes "²"): Unix seconds, and
# SHA-256 digests in lower-case hex.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_DIGEST = re.compile(r"[0-9a-f]{64}")


class InvalidSignature(Exception):
    """The request is not provably from the payment provider, or is too old."""


def sign(secret: str, timestamp: int, raw_body: bytes) -> str:
    """The header value a provider sends for this body at this time."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(
    secret: str, header: str | None, raw_body: bytes, now: datetime, tolerance: timedelta
) -> None:
    """Raise ``InvalidSignature`` unless the header signs this body within the tolerance."""
    if not secret:
        raise InvalidSignature("no webhook secret is configured")
    if not header:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamps.append(value)
        elif name == "v1":
            signatures.append(value)
    digests = [value for value in signatures if _DIGEST.fullmatch(value)]
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]) or not digests:
        raise InvalidSignature(f"malformed {SIGNATURE_HEADER} header")
    timestamp = int(timestamps[0])
    if abs(now.timestamp() - timestamp) > tolerance.total_seconds():
        raise InvalidSignature("the signature's timestamp is outside the tolerance")
    expected = sign(secret, timestamp, raw_body).split("v1=", 1)[1].encode()
    if not any(hmac.compare_digest(expected, digest.encode()) for digest in digests):
        raise InvalidSignature("the signature does not match")
