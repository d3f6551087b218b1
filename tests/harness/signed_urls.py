"""Checking V4 signed Cloud Storage URLs offline: the signing rules rebuilt from
the specification, verified with the public half of the key that signed them."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qsl, quote, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from harness.emulators import local_output_signing_key


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    """Sorted by name, every byte but the unreserved ones percent-encoded."""
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(pairs))


def verify_v4(url: str, public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """Check ``url``'s V4 signature; return its query parameters.

    Raises ``cryptography.exceptions.InvalidSignature`` when it does not verify.
    """
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    query = dict(pairs)
    assert len(query) == len(pairs), "a parameter is repeated"
    signature = bytes.fromhex(query["X-Goog-Signature"])
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert query["X-Goog-SignedHeaders"] == "host"
    canonical_request = "\n".join(
        [
            "GET",
            parts.path,
            canonical_query([(k, v) for k, v in pairs if k != "X-Goog-Signature"]),
            f"host:{parts.netloc}\n",
            "host",
            "UNSIGNED-PAYLOAD",
        ]
    )
    scope = query["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        [
            "GOOG4-RSA-SHA256",
            query["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    public_key.verify(signature, string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    return query


def verify_signed_url(url: str) -> dict[str, str]:
    """Check a URL the local backend signed with its local signing key."""
    key_file = json.loads(local_output_signing_key().read_text())
    private_key = serialization.load_pem_private_key(key_file["private_key"].encode(), None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    return verify_v4(url, private_key.public_key())
