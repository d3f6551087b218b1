"""Signed download URLs: each one is checked against the V4 signing rules
rebuilt here from the specification, with the public half of the key that
signed it (and fails with any other key, or with the URL altered)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from generations_live.adapters.output_urls import (
    IamSigner,
    KeyFileSigner,
    default_signer,
    sign_download_url,
)
from harness.signed_urls import verify_v4

BUCKET = "demo-generations-live.appspot.com"
OBJECT = "generations/u1/g1/output-0.png"
EMAIL = "outputs@demo-generations-live.iam.gserviceaccount.com"
NOW = datetime(2026, 3, 14, 12, 0, 5, tzinfo=UTC)
TTL = timedelta(minutes=15)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_key_file(path: Path, key: rsa.RSAPrivateKey, email: str = EMAIL) -> Path:
    """A service-account key file as the IAM console downloads it."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "demo-generations-live",
                "private_key_id": "0123456789abcdef",
                "private_key": pem.decode(),
                "client_email": email,
                "client_id": "100000000000000000001",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def key_file(tmp_path: Path, key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = write_key_file(tmp_path / "signing-key.json", key)
    monkeypatch.setenv("OUTPUT_SIGNING_KEY_FILE", str(path))
    return path


@pytest.mark.usefixtures("key_file")
def test_a_signed_url_verifies_with_the_key_that_signed_it(key: rsa.RSAPrivateKey) -> None:
    url = sign_download_url(BUCKET, OBJECT, ttl=TTL, now=NOW)

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "storage.googleapis.com")
    assert parts.path == f"/{BUCKET}/{OBJECT}"
    query = verify_v4(url, key.public_key())
    assert query["X-Goog-Expires"] == str(int(TTL.total_seconds())) == "900"
    assert query["X-Goog-Date"] == "20260314T120005Z"
    assert query["X-Goog-Credential"] == f"{EMAIL}/20260314/auto/storage/goog4_request"


@pytest.mark.usefixtures("key_file")
@pytest.mark.parametrize("ttl", [timedelta(seconds=1), timedelta(hours=1), timedelta(days=7)])
def test_expires_is_the_ttl_in_seconds(key: rsa.RSAPrivateKey, ttl: timedelta) -> None:
    query = verify_v4(sign_download_url(BUCKET, OBJECT, ttl=ttl, now=NOW), key.public_key())
    assert query["X-Goog-Expires"] == str(int(ttl.total_seconds()))


@pytest.mark.usefixtures("key_file")
def test_without_now_the_url_is_signed_at_the_current_time(key: rsa.RSAPrivateKey) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    query = verify_v4(sign_download_url(BUCKET, OBJECT, ttl=TTL), key.public_key())
    signed_at = datetime.strptime(query["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= signed_at <= datetime.now(UTC)


@pytest.mark.usefixtures("key_file")
@pytest.mark.parametrize(
    ("name", "path"),
    [
        (
            "generations/u1/g1/my output (final).png",
            "generations/u1/g1/my%20output%20%28final%29.png",
        ),
        (
            "generations/u1/g1/ünïcødé/猫.webp",
            "generations/u1/g1/%C3%BCn%C3%AFc%C3%B8d%C3%A9/%E7%8C%AB.webp",
        ),
        ("generations/u1/g1/a+b&c=d?e#f~g.mp4", "generations/u1/g1/a%2Bb%26c%3Dd%3Fe%23f~g.mp4"),
    ],
)
def test_object_names_are_percent_encoded_and_still_verify(
    key: rsa.RSAPrivateKey, name: str, path: str
) -> None:
    url = sign_download_url(BUCKET, name, ttl=TTL, now=NOW)
    assert urlsplit(url).path == f"/{BUCKET}/{path}"
    verify_v4(url, key.public_key())


@pytest.mark.usefixtures("key_file")
def test_another_key_does_not_verify_the_signature() -> None:
    url = sign_download_url(BUCKET, OBJECT, ttl=TTL, now=NOW)
    with pytest.raises(InvalidSignature):
        verify_v4(url, new_key().public_key())


@pytest.mark.usefixtures("key_file")
@pytest.mark.parametrize(
    "tamper",
    [
        lambda parts: parts._replace(path=parts.path.replace("output-0", "output-1")),
        lambda parts: parts._replace(path=parts.path.replace("/u1/", "/u2/")),
        lambda parts: parts._replace(
            query=parts.query.replace("X-Goog-Expires=900", "X-Goog-Expires=9000")
        ),
    ],
    ids=["object", "owner", "expiry"],
)
def test_an_altered_url_does_not_verify(
    key: rsa.RSAPrivateKey, tamper: Callable[[SplitResult], SplitResult]
) -> None:
    parts = urlsplit(sign_download_url(BUCKET, OBJECT, ttl=TTL, now=NOW))
    altered = urlunsplit(tamper(parts))
    assert altered != urlunsplit(parts)
    with pytest.raises(InvalidSignature):
        verify_v4(altered, key.public_key())


@pytest.mark.usefixtures("key_file")
@pytest.mark.parametrize(
    ("bucket", "name", "ttl", "now"),
    [
        (BUCKET, OBJECT, timedelta(0), NOW),
        (BUCKET, OBJECT, timedelta(seconds=-1), NOW),
        (BUCKET, OBJECT, timedelta(days=7, seconds=1), NOW),
        (BUCKET, OBJECT, TTL, datetime(2026, 3, 14, 12, 0)),
        ("", OBJECT, TTL, NOW),
        (BUCKET, "", TTL, NOW),
    ],
)
def test_impossible_requests_are_refused(
    bucket: str, name: str, ttl: timedelta, now: datetime
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        sign_download_url(bucket, name, ttl=ttl, now=now)


def test_the_key_file_variable_chooses_the_signer(
    tmp_path: Path, key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OUTPUT_SIGNING_KEY_FILE", raising=False)
    # Building the IAM signer touches no credentials: that happens on first use.
    assert isinstance(default_signer(), IamSigner)
    assert default_signer() is default_signer()

    first = write_key_file(tmp_path / "first.json", key)
    monkeypatch.setenv("OUTPUT_SIGNING_KEY_FILE", str(first))
    signer = default_signer()
    assert isinstance(signer, KeyFileSigner)
    assert signer.path == first
    assert default_signer() is signer

    second_key = new_key()
    second = write_key_file(
        tmp_path / "second.json", second_key, email="other@x.iam.gserviceaccount.com"
    )
    monkeypatch.setenv("OUTPUT_SIGNING_KEY_FILE", str(second))
    query = verify_v4(sign_download_url(BUCKET, OBJECT, ttl=TTL, now=NOW), second_key.public_key())
    assert query["X-Goog-Credential"].startswith("other@x.iam.gserviceaccount.com/")


def test_an_explicit_signer_wins_over_the_environment(
    tmp_path: Path, key: rsa.RSAPrivateKey, key_file: Path
) -> None:
    other_key = new_key()
    signer = KeyFileSigner(write_key_file(tmp_path / "other.json", other_key))
    assert signer.path != key_file
    url = sign_download_url(BUCKET, OBJECT, ttl=TTL, now=NOW, signer=signer)
    verify_v4(url, other_key.public_key())
    with pytest.raises(InvalidSignature):
        verify_v4(url, key.public_key())
