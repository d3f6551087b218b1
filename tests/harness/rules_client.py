"""A client of ``firestore.rules`` as web clients meet them: an unsigned ID
token (the emulator trusts its claims) over Firestore's REST API."""

from __future__ import annotations

import base64
import json
from typing import Any

import requests

from harness.emulators import FirestoreEmulator


def id_token(project: str, uid: str, **claims: Any) -> str:
    def encode(part: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")

    payload = {
        "sub": uid,
        "user_id": uid,
        "aud": project,
        "iss": f"https://securetoken.google.com/{project}",
        "iat": 1_700_000_000,
        "exp": 4_000_000_000,
        "auth_time": 1_700_000_000,
        "firebase": {"sign_in_provider": "password"},
        **claims,
    }
    return f"{encode({'alg': 'none', 'typ': 'JWT'})}.{encode(payload)}."


class RestClient:
    """One signed-in (or anonymous) client of the Firestore REST API."""

    def __init__(self, emulator: FirestoreEmulator, token: str | None) -> None:
        self._emulator = emulator
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _send(self, method: str, path: str, **kwargs: Any) -> int:
        url = self._emulator.documents_url(path)
        reply = requests.request(method, url, headers=self._headers, timeout=30, **kwargs)
        return reply.status_code

    def get(self, path: str) -> int:
        return self._send("GET", path)

    def list(self, collection: str, page_size: int | None = None) -> int:
        """List a collection; ``page_size`` is the query's limit the rules see."""
        params = {} if page_size is None else {"pageSize": page_size}
        return self._send("GET", collection, params=params)

    def create(self, collection: str, document_id: str, fields: dict[str, str]) -> int:
        body = {"fields": {k: {"stringValue": v} for k, v in fields.items()}}
        return self._send("POST", collection, params={"documentId": document_id}, json=body)

    def update(self, path: str, fields: dict[str, str]) -> int:
        body = {"fields": {k: {"stringValue": v} for k, v in fields.items()}}
        return self._send("PATCH", path, json=body, params={"updateMask.fieldPaths": list(fields)})

    def delete(self, path: str) -> int:
        return self._send("DELETE", path)

    def run_query(self, parent: str, query: dict[str, Any]) -> int:
        url = f"{self._emulator.documents_url(parent)}:runQuery".replace("/:runQuery", ":runQuery")
        reply = requests.post(
            url, headers=self._headers, json={"structuredQuery": query}, timeout=30
        )
        return reply.status_code
