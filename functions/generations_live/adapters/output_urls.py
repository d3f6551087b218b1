"""Download URLs for generation outputs: Cloud Storage V4 signed URLs.

Outputs under ``gs://BUCKET/generations/{uid}/{generationId}/...`` are reached
only through these URLs: ``storage.rules`` is closed to every client, so a
short-lived signed GET is the one way a browser can fetch an output, and it
stops working when it expires.

Two ways to sign, chosen by ``default_signer()``:

- ``OUTPUT_SIGNING_KEY_FILE`` names a service-account key file (emulators,
  tests): its private key signs locally, with no network call.
- Otherwise the runtime's default credentials sign through the IAM
  ``signBlob`` API, as Cloud Functions holds no private key. That needs the
  runtime service account to hold ``roles/iam.serviceAccountTokenCreator`` on
  itself.

The signing itself is google-cloud-storage's V4 implementation; credentials
are loaded on first use (never at import) and kept for the process.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import google.auth
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import Credentials, Signing
from google.auth.transport.requests import Request
from google.cloud.storage import _signing  # type: ignore[import-untyped]
from google.oauth2 import service_account

from generations_live.domain.errors import Unavailable

# The environment variable naming a service-account key file to sign with.
SIGNING_KEY_FILE_VARIABLE = "OUTPUT_SIGNING_KEY_FILE"
# Cloud Storage refuses V4 signed URLs valid for longer than this.
MAX_TTL = timedelta(days=7)
# The scope the IAM Credentials API (signBlob) accepts.
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ENDPOINT = "https://storage.googleapis.com"


@dataclass(frozen=True)
class SigningIdentity:
    """What google-cloud-storage signs with: credentials holding a private key,
    or a service account's email plus an access token allowed to call signBlob."""

    credentials: Signing | None = None
    service_account_email: str | None = None
    access_token: str | None = None


class Signer(Protocol):
    """A source of signing identities; asked once per URL, so it may refresh."""

    def identity(self) -> SigningIdentity:
        """The identity to sign the next URL with."""
        ...


class KeyFileSigner:
    """Signs with the private key of a service-account key file, offline."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @functools.cached_property
    def _credentials(self) -> service_account.Credentials:
        # Reading the file is all this does: no token is fetched to sign.
        credentials: service_account.Credentials = (
            service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                str(self.path)
            )
        )
        return credentials

    def identity(self) -> SigningIdentity:
        return SigningIdentity(credentials=self._credentials)


class IamSigner:
    """Signs as the runtime's service account through the IAM signBlob API."""

    def __init__(self) -> None:
        self._credentials: Credentials | None = None
        # Instances serve concurrent requests: one refresh at a time.
        self._lock = threading.Lock()

    def identity(self) -> SigningIdentity:
        try:
            with self._lock:
                if self._credentials is None:
                    self._credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
                credentials = self._credentials
                # The refresh also replaces a metadata-server account's "default"
                # email with the real one, which signBlob needs.
                if not credentials.valid:
                    credentials.refresh(Request())  # type: ignore[no-untyped-call]
        except auth_exceptions.GoogleAuthError as exc:
            raise Unavailable(
                "download links cannot be signed: no usable service-account credentials "
                f"(set {SIGNING_KEY_FILE_VARIABLE} to a key file when running locally)"
            ) from exc
        email = getattr(credentials, "service_account_email", None)
        if not isinstance(email, str) or "@" not in email:
            raise Unavailable(
                "download links cannot be signed: the default credentials are not a "
                f"service account (set {SIGNING_KEY_FILE_VARIABLE} when running locally)"
            )
        return SigningIdentity(service_account_email=email, access_token=str(credentials.token))


@functools.cache
def _key_file_signer(path: str) -> KeyFileSigner:
    return KeyFileSigner(Path(path))


@functools.cache
def _iam_signer() -> IamSigner:
    return IamSigner()


def default_signer() -> Signer:
    """The key file named by ``OUTPUT_SIGNING_KEY_FILE`` when set, otherwise IAM signBlob.

    The variable is read on every call; each signer is built once per process.
    """
    key_file = os.environ.get(SIGNING_KEY_FILE_VARIABLE, "").strip()
    if key_file:
        return _key_file_signer(key_file)
    return _iam_signer()


def sign_download_url(
    bucket: str,
    object_name: str,
    *,
    ttl: timedelta,
    now: datetime | None = None,
    signer: Signer | None = None,
) -> str:
    """A V4 signed GET URL for ``gs://bucket/object_name``, valid for ``ttl`` from ``now``.

    ``ttl`` is counted in whole seconds, from one second up to seven days.
    ``now`` (aware; the current time by default) is the URL's signing time.
    Raises ``Unavailable`` when the IAM signing fails.
    """
    if not bucket or not object_name:
        raise ValueError("a signed URL needs a bucket and an object name")
    if not timedelta(seconds=1) <= ttl <= MAX_TTL:
        raise ValueError(f"ttl must be between 1 second and {MAX_TTL}, not {ttl}")
    if now is not None and now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    signed_at = (now or datetime.now(UTC)).astimezone(UTC)
    identity = (signer or default_signer()).identity()
    # The path as Blob.generate_signed_url builds it (UTF-8, "/" and "~" kept).
    resource = f"/{bucket}/{quote(object_name, safe='/~')}"
    try:
        # The library's V4 signer, called below Blob.generate_signed_url only so
        # that the signing time can be passed in (the public method reads the clock).
        url: str = _signing.generate_signed_url_v4(
            identity.credentials,
            resource=resource,
            expiration=ttl,
            api_access_endpoint=ENDPOINT,
            method="GET",
            service_account_email=identity.service_account_email,
            access_token=identity.access_token,
            _request_timestamp=signed_at.strftime("%Y%m%dT%H%M%SZ"),
        )
    except auth_exceptions.TransportError as exc:
        # A 403 here means the service account lacks Token Creator on itself.
        raise Unavailable("download links cannot be signed now") from exc
    return url
