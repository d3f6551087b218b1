"""Clients of the local emulators as an app would use them: Auth-emulator
accounts with real ID tokens, and the Firebase callable protocol over HTTP.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from generations_live.adapters.collections import (
    FEED_SNAPSHOT_LEASES,
    FEED_SNAPSHOTS,
    WEBHOOK_ATTEMPTS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_EVENTS,
)

# The Auth emulator accepts any API key.
API_KEY = "demo-api-key"


@dataclass(frozen=True)
class AppUser:
    uid: str
    email: str
    display_name: str | None
    id_token: str


class CallableError(Exception):
    """A callable answered with the protocol's error object."""

    def __init__(self, http_status: int, status: str, message: str, details: Any) -> None:
        super().__init__(f"{status}: {message}")
        self.http_status = http_status
        self.status = status
        self.message = message
        self.details = details

    @property
    def code(self) -> str:
        """The status as client SDKs spell it: ``INVALID_ARGUMENT`` is ``invalid-argument``."""
        return self.status.lower().replace("_", "-")


class AuthEmulator:
    """Creates accounts in the Auth emulator and signs them in."""

    def __init__(
        self, base_url: str, project: str, session: requests.Session | None = None
    ) -> None:
        self._base = f"{base_url}/identitytoolkit.googleapis.com/v1"
        self._project = project
        self._http = session or requests.Session()

    def create_user(
        self,
        *,
        display_name: str | None = "Test Creator",
        email: str | None = None,
        password: str | None = None,
        claims: dict[str, Any] | None = None,
        email_verified: bool = True,
    ) -> AppUser:
        """An email account; pass ``password`` to sign in with it elsewhere (a browser).

        Its email is verified unless ``email_verified`` is False: only verified
        email accounts get free credits under the default policy.
        """
        email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
        password = password or "password-" + uuid.uuid4().hex
        body: dict[str, Any] = {"email": email, "password": password, "returnSecureToken": True}
        if display_name is not None:
            body["displayName"] = display_name
        signed_up = self._post("accounts:signUp", body)
        uid = signed_up["localId"]
        update: dict[str, Any] = {"localId": uid}
        if claims:
            update["customAttributes"] = json.dumps(claims)
        if email_verified:
            update["emailVerified"] = True
        if len(update) > 1:
            self._http.post(
                f"{self._base}/projects/{self._project}/accounts:update",
                json=update,
                headers={"Authorization": "Bearer owner"},
                timeout=30,
            ).raise_for_status()
        # Sign in again so the token carries the display name and custom claims.
        signed_in = self._post(
            "accounts:signInWithPassword",
            {"email": email, "password": password, "returnSecureToken": True},
        )
        return AppUser(
            uid=uid, email=email, display_name=display_name, id_token=signed_in["idToken"]
        )

    def create_guest(self) -> AppUser:
        """An anonymous account, as a client's guest sign-in makes (no email, no name)."""
        signed_up = self._post("accounts:signUp", {"returnSecureToken": True})
        return AppUser(
            uid=signed_up["localId"], email="", display_name=None, id_token=signed_up["idToken"]
        )

    def _post(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = self._http.post(f"{self._base}/{method}?key={API_KEY}", json=body, timeout=30)
        reply.raise_for_status()
        result: dict[str, Any] = reply.json()
        return result


# How often a call is sent again after the Functions emulator's own ECONNRESET.
EMULATOR_RESETS_RETRIED = 3


class CallableClient:
    """Calls HTTPS callable functions the way the Firebase client SDKs do."""

    def __init__(self, functions_url: str, session: requests.Session | None = None) -> None:
        self._functions_url = functions_url.rstrip("/")
        self._http = session or requests.Session()

    def call(self, name: str, data: Any, *, id_token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if id_token is not None:
            headers["Authorization"] = f"Bearer {id_token}"
        for _ in range(EMULATOR_RESETS_RETRIED):
            reply = self._http.post(
                f"{self._functions_url}/{name}", json={"data": data}, headers=headers, timeout=60
            )
            # The Functions emulator answers this itself when a Python worker it
            # is still starting resets the connection, before the function ran.
            if not (reply.status_code == 500 and '"ECONNRESET"' in reply.text):
                break
        try:
            payload = reply.json()
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            raise CallableError(
                reply.status_code,
                error.get("status", ""),
                error.get("message", ""),
                error.get("details"),
            )
        if error is not None or not isinstance(payload, dict) or "result" not in payload:
            # Not the protocol's answer (an emulator worker that crashed or
            # timed out, say): the HTTP status stands in for the code.
            raise CallableError(reply.status_code, f"HTTP_{reply.status_code}", reply.text, None)
        return payload["result"]


# The fields of an outbox event that the dispatcher sets when it fans the event out.
DISPATCHER_MARKS = frozenset({"fannedOut", "deliveries"})


class FirestoreAdminRest:
    """Reads the Firestore emulator as an administrator (``Bearer owner`` skips rules)."""

    def __init__(
        self, base_url: str, project: str, session: requests.Session | None = None
    ) -> None:
        self._documents = f"{base_url}/v1/projects/{project}/databases/(default)/documents"
        self._http = session or requests.Session()
        self._headers = {"Authorization": "Bearer owner"}

    def collection_group(self, collection_id: str) -> dict[str, dict[str, Any]]:
        """Every document of that collection id anywhere, by path, with its REST fields."""
        return self._every({"collectionId": collection_id, "allDescendants": True})

    def every_document(self) -> dict[str, dict[str, Any]]:
        """Every document of every collection, at any depth, by path, with its REST fields."""
        return self._every({"allDescendants": True})

    def written_by_changes(self) -> dict[str, dict[str, Any]]:
        """Every document, without what the triggers write on their own after a change
        (the webhook dispatcher's deliveries, their log and the outbox's fan-out marks;
        the feed maintainer's snapshots and leases): what a call wrote, compared before
        and after it without racing the triggers."""
        settled: dict[str, dict[str, Any]] = {}
        on_their_own = (WEBHOOK_DELIVERIES, WEBHOOK_ATTEMPTS, FEED_SNAPSHOTS, FEED_SNAPSHOT_LEASES)
        for path, fields in self.every_document().items():
            if any(f"/{collection}/" in path for collection in on_their_own):
                continue
            marks = DISPATCHER_MARKS if f"/{WEBHOOK_EVENTS}/" in path else frozenset()
            settled[path] = {name: value for name, value in fields.items() if name not in marks}
        return settled

    def _every(self, selector: dict[str, Any]) -> dict[str, dict[str, Any]]:
        query = {"from": [selector]}
        reply = self._http.post(
            f"{self._documents}:runQuery",
            json={"structuredQuery": query},
            headers=self._headers,
            timeout=60,
        )
        reply.raise_for_status()
        return {
            row["document"]["name"]: row["document"].get("fields", {})
            for row in reply.json()
            if "document" in row
        }

    def get(self, path: str) -> dict[str, Any] | None:
        """One document's REST fields, or None when it does not exist."""
        reply = self._http.get(f"{self._documents}/{path}", headers=self._headers, timeout=60)
        if reply.status_code == 404:
            return None
        reply.raise_for_status()
        fields: dict[str, Any] = reply.json().get("fields", {})
        return fields

    def count(
        self, collection_id: str, *, parent: str = "", equals: tuple[str, str] | None = None
    ) -> int:
        """How many documents a collection under ``parent`` holds (an aggregation, no reads of
        the documents), optionally only those whose string field equals a value."""
        query: dict[str, Any] = {"from": [{"collectionId": collection_id}]}
        if equals is not None:
            field, value = equals
            query["where"] = {
                "fieldFilter": {
                    "field": {"fieldPath": field},
                    "op": "EQUAL",
                    "value": {"stringValue": value},
                }
            }
        body = {
            "structuredAggregationQuery": {
                "structuredQuery": query,
                "aggregations": [{"alias": "n", "count": {}}],
            }
        }
        url = f"{self._documents}/{parent}" if parent else self._documents
        reply = self._http.post(
            f"{url}:runAggregationQuery", json=body, headers=self._headers, timeout=60
        )
        reply.raise_for_status()
        return int(reply.json()[0]["result"]["aggregateFields"]["n"]["integerValue"])

    def write(self, path: str, fields: dict[str, Any]) -> None:
        """One plain document write (REST field values), as a baseline client would do."""
        reply = self._http.patch(
            f"{self._documents}/{path}", json={"fields": fields}, headers=self._headers, timeout=60
        )
        reply.raise_for_status()


def grant_credits(
    api: CallableClient, admin: AppUser, receiver: AppUser, amount: int, reason: str
) -> None:
    """Grant ``receiver`` ``amount`` credits through ``grantCredits``, as a new grant each call."""
    grant = {
        "userId": receiver.uid,
        "amount": amount,
        "reason": reason,
        "grantId": f"grant-{uuid.uuid4().hex}",
    }
    api.call("grantCredits", grant, id_token=admin.id_token)


def grant_each(
    api: CallableClient, admin: AppUser, users: list[AppUser], amount: int, reason: str
) -> None:
    """Grant every user ``amount`` credits through ``grantCredits``, once per user
    (the grant id is derived from the user, so a rerun grants nothing more)."""
    for user in users:
        grant = {
            "userId": user.uid,
            "amount": amount,
            "reason": reason,
            "grantId": f"grant-{user.uid}",
        }
        api.call("grantCredits", grant, id_token=admin.id_token)
