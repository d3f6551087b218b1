"""App Check on the callables, offline.

The emulators cannot verify App Check tokens. Here a local stand-in of the
App Check service (its public keys, its token-consumption endpoint and an
OAuth token endpoint for the service account) lets the Admin SDK's own
verification check real RS256 tokens, so enforcement and replay protection
run through the same code as in production; only Google's keys and servers
are swapped for local ones.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import firebase_admin
import flask
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from firebase_admin import app_check as admin_app_check
from firebase_admin import credentials

from generations_live.adapters import app_check
from generations_live.domain.errors import Unauthenticated
from generations_live.entrypoints import callables
from generations_live.entrypoints.deployment import ENFORCE_APP_CHECK_VARIABLE
from generations_live.entrypoints.edge import (
    APP_CHECK_HEADER,
    callable_function,
    handler_of,
    single_use_app_check,
)
from harness.rules_client import id_token

if TYPE_CHECKING:
    from generations_live.domain.models import QuoteGenerationRequest

PROJECT = "demo-app-check"
KEY_ID = "local-app-check-key"
APP_ID = "1:1234567890:web:0123456789abcdef"


def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class AppCheckService(ThreadingHTTPServer):
    """Answers as firebaseappcheck.googleapis.com and oauth2 do, for one key."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.key = key
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        self.jwks = {"keys": [{**public, "kid": KEY_ID, "alg": "RS256", "use": "sig"}]}
        self.consumed: set[str] = set()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: AppCheckService

    def _answer(self, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer(self.server.jwks)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/token":
            self._answer({"access_token": "local", "expires_in": 3600, "token_type": "Bearer"})
            return
        token = json.loads(body)["app_check_token"]
        already = token in self.server.consumed
        self.server.consumed.add(token)
        self._answer({"alreadyConsumed": already})

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


def app_check_token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": "https://firebaseappcheck.googleapis.com/1234567890",
        "sub": APP_ID,
        "aud": [f"projects/{PROJECT}"],
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": KEY_ID, "typ": "JWT"})


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[AppCheckService]:
    """The stand-in service, and a default app whose App Check client talks to it."""
    service_key = private_key()
    server = AppCheckService(service_key)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(admin_app_check._AppCheckService, "_JWKS_URL", f"{server.url}/v1/jwks")
    monkeypatch.setattr(
        admin_app_check._AppCheckService,
        "_VERIFY_URL_FORMAT",
        server.url + "/v1beta/projects/{project_id}:verifyAppCheckToken",
    )
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    pem = service_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    account = credentials.Certificate(
        {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": KEY_ID,
            "private_key": pem,
            "client_email": f"functions@{PROJECT}.iam.gserviceaccount.com",
            "client_id": "1",
            "token_uri": f"{server.url}/token",
        }
    )
    previous = firebase_admin._apps.pop(firebase_admin._DEFAULT_APP_NAME, None)
    app = firebase_admin.initialize_app(account, {"projectId": PROJECT})
    try:
        yield server
    finally:
        firebase_admin.delete_app(app)
        if previous is not None:
            firebase_admin._apps[firebase_admin._DEFAULT_APP_NAME] = previous
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class Calls:
    def __init__(self) -> None:
        self.count = 0


def deploy(calls: Calls, *, single_use: bool) -> Any:
    """A callable deployed as ``callable_function`` deploys them, counting its runs."""

    def quoteGeneration(caller: Any, request: QuoteGenerationRequest) -> dict[str, Any]:  # noqa: N802
        del caller, request
        calls.count += 1
        return {"ran": True}

    handler = single_use_app_check(quoteGeneration) if single_use else quoteGeneration
    return callable_function(handler)


def call(deployed: Any, app_token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {id_token(PROJECT, 'user-1')}"}
    if app_token is not None:
        headers[APP_CHECK_HEADER] = app_token
    app = flask.Flask(__name__)
    with app.test_request_context(
        "/", method="POST", json={"data": {"type": "text"}}, headers=headers
    ):
        response = deployed(flask.request)
    return response.status_code, response.get_json()


def test_an_enforced_callable_refuses_calls_without_a_valid_token(
    service: AppCheckService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENFORCE_APP_CHECK_VARIABLE, "true")
    calls = Calls()
    deployed = deploy(calls, single_use=False)
    foreign = app_check_token(private_key())
    expired = app_check_token(service.key, iat=int(time.time()) - 600, exp=int(time.time()) - 300)
    for token in (None, "not-a-token", foreign, expired):
        status, body = call(deployed, token)
        assert (status, body["error"]["status"]) == (401, "UNAUTHENTICATED")
    assert calls.count == 0
    token = app_check_token(service.key)
    assert call(deployed, token) == (200, {"result": {"ran": True}})
    assert call(deployed, token)[0] == 200  # reusable where not single use
    assert calls.count == 2


def test_a_single_use_token_is_refused_the_second_time(
    service: AppCheckService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENFORCE_APP_CHECK_VARIABLE, "true")
    calls = Calls()
    deployed = deploy(calls, single_use=True)
    token = app_check_token(service.key)
    assert call(deployed, token) == (200, {"result": {"ran": True}})
    status, body = call(deployed, token)
    assert (status, body["error"]["status"]) == (401, "UNAUTHENTICATED")
    assert "used before" in body["error"]["message"]
    assert calls.count == 1
    assert service.consumed == {token}


def test_without_enforcement_no_token_is_needed(service: AppCheckService) -> None:
    calls = Calls()
    assert call(deploy(calls, single_use=True), None) == (200, {"result": {"ran": True}})
    assert service.consumed == set()


def test_consuming_refuses_a_token_the_service_rejects(service: AppCheckService) -> None:
    with pytest.raises(Unauthenticated, match="not valid"):
        app_check.consume_token(app_check_token(private_key()))
    assert service.consumed == set()


def test_starting_a_generation_takes_single_use_tokens() -> None:
    track = handler_of(callables.trackGeneration)
    assert getattr(track, "__single_use_app_check__", False) is True
    others = [
        name
        for name in ("updateGenerationStatus", "quoteGeneration", "getLiveGenerations")
        if getattr(handler_of(getattr(callables, name)), "__single_use_app_check__", False)
    ]
    assert others == []
