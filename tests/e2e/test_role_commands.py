"""``python -m generations_live roles`` against the Auth, Firestore and Functions
emulators: claims set and removed through the Admin SDK, one audit entry per
change, and a revoked worker's old ID token refused on its very next call."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
import requests

from generations_live.adapters.collections import LIVE_GENERATIONS, ROLE_AUDIT
from harness.clients import (
    API_KEY,
    AppUser,
    AuthEmulator,
    CallableClient,
    CallableError,
    FirestoreAdminRest,
)
from harness.emulators import ROOT, EmulatorSuite, run_operator_command

OPERATOR = "ops-oncall"


# --- reading the emulators as an administrator ---------------------------------------


def token_claims(id_token: str) -> dict[str, Any]:
    """The payload of an ID token (the Auth emulator's are unsigned JWTs)."""
    payload = id_token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def sign_in(suite: EmulatorSuite, email: str, password: str) -> str:
    """A fresh ID token, as a client signing in again gets it."""
    reply = requests.post(
        f"{suite.url('auth')}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword",
        params={"key": API_KEY},
        json={"email": email, "password": password, "returnSecureToken": True},
        timeout=30,
    )
    reply.raise_for_status()
    token: str = reply.json()["idToken"]
    return token


def account(suite: EmulatorSuite, uid: str) -> dict[str, Any]:
    """The Auth emulator's record of an account (``customAttributes``, ``validSince``)."""
    reply = requests.post(
        f"{suite.url('auth')}/identitytoolkit.googleapis.com/v1/projects/{suite.project}"
        "/accounts:lookup",
        json={"localId": [uid]},
        headers={"Authorization": "Bearer owner"},
        timeout=30,
    )
    reply.raise_for_status()
    users: list[dict[str, Any]] = reply.json()["users"]
    return users[0]


def stored_claims(suite: EmulatorSuite, uid: str) -> dict[str, Any]:
    claims: dict[str, Any] = json.loads(account(suite, uid).get("customAttributes") or "{}")
    return claims


def plain(value: dict[str, Any]) -> Any:
    """A Firestore REST value as Python."""
    if "mapValue" in value:
        return {key: plain(item) for key, item in value["mapValue"].get("fields", {}).items()}
    if "integerValue" in value:
        return int(value["integerValue"])
    if "nullValue" in value:
        return None
    return next(iter(value.values()))


def audit_entries(firestore_admin: FirestoreAdminRest, uid: str) -> list[dict[str, Any]]:
    """Every role_audit entry about ``uid``, oldest first (ids sort by time)."""
    entries = firestore_admin.collection_group(ROLE_AUDIT)
    about = [
        {key: plain(value) for key, value in fields.items()} | {"id": name.rpartition("/")[2]}
        for name, fields in entries.items()
    ]
    return sorted((entry for entry in about if entry.get("uid") == uid), key=lambda e: e["id"])


def roles(suite: EmulatorSuite, *args: str) -> subprocess.CompletedProcess[str]:
    return run_operator_command(suite, "roles", *args)


def wait_past_the_second_of(id_token: str) -> None:
    """Return once the clock is in a later second than the token's issue time.

    Auth records a revocation in whole seconds and refuses only tokens issued
    before that second, so a revocation in the token's own second would not
    touch it. A poll on the clock, bounded by the token's own age.
    """
    issued_at = token_claims(id_token)["iat"]
    deadline = time.monotonic() + 3
    while time.time() < issued_at + 1:
        assert time.monotonic() < deadline, "the clock did not pass the token's second"
        time.sleep(0.05)


# --- grant, list, revoke ---------------------------------------------------------------


def test_grant_list_and_revoke_a_role_with_one_audit_entry_each(
    suite: EmulatorSuite, auth: AuthEmulator, firestore_admin: FirestoreAdminRest
) -> None:
    password = "password-" + uuid.uuid4().hex
    user = auth.create_user(password=password, claims={"tier": "pro"})
    assert "worker" not in token_claims(user.id_token)

    granted = roles(suite, "grant", "--uid", user.uid, "--role", "worker", "--by", OPERATOR)

    assert granted.returncode == 0, granted.stderr
    assert f"granted the worker role to {user.uid}" in granted.stdout
    assert stored_claims(suite, user.uid) == {"tier": "pro", "worker": True}
    fresh = token_claims(sign_in(suite, user.email, password))
    assert fresh["worker"] is True
    assert fresh["tier"] == "pro"
    [grant] = audit_entries(firestore_admin, user.uid)
    assert grant["id"] in granted.stdout
    assert grant["action"] == "grant"
    assert grant["role"] == "worker"
    assert grant["by"] == OPERATOR
    assert grant["claimsBefore"] == {"tier": "pro"}
    assert grant["claimsAfter"] == {"tier": "pro", "worker": True}
    assert grant["revokesSessions"] is False
    assert grant["at"].startswith(time.strftime("%Y-%m-%d", time.gmtime()))

    one = roles(suite, "list", "--uid", user.uid)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) == {"uid": user.uid, "roles": ["worker"]}
    every = roles(suite, "list")
    assert every.returncode == 0, every.stderr
    holders = [json.loads(line) for line in every.stdout.splitlines()]
    assert {"uid": user.uid, "roles": ["worker"]} in holders
    assert all(holder["roles"] for holder in holders)

    # Granting again changes nothing, says so and writes no entry.
    again = roles(suite, "grant", "--uid", user.uid, "--role", "worker", "--by", OPERATOR)
    assert again.returncode == 0, again.stderr
    assert "already has the worker role: nothing changed" in again.stdout
    assert len(audit_entries(firestore_admin, user.uid)) == 1

    before_revoke = int(time.time())
    revoked = roles(suite, "revoke", "--uid", user.uid, "--role", "worker", "--by", OPERATOR)

    assert revoked.returncode == 0, revoked.stderr
    assert f"revoked the worker role from {user.uid} and its refresh tokens" in revoked.stdout
    assert stored_claims(suite, user.uid) == {"tier": "pro"}
    assert "worker" not in token_claims(sign_in(suite, user.email, password))
    assert int(account(suite, user.uid)["validSince"]) >= before_revoke
    grant_again, revoke = audit_entries(firestore_admin, user.uid)
    assert grant_again == grant
    assert revoke["action"] == "revoke"
    assert revoke["claimsBefore"] == {"tier": "pro", "worker": True}
    assert revoke["claimsAfter"] == {"tier": "pro"}
    assert revoke["revokesSessions"] is True
    assert json.loads(roles(suite, "list", "--uid", user.uid).stdout)["roles"] == []


def test_a_missing_account_fails_with_a_message_and_writes_nothing(
    suite: EmulatorSuite, firestore_admin: FirestoreAdminRest
) -> None:
    before = firestore_admin.collection_group(ROLE_AUDIT)
    for action in ("grant", "revoke"):
        result = roles(suite, action, "--uid", "no-such-account", "--role", "admin", "--by", "ops")
        assert result.returncode == 1
        assert "no account has uid 'no-such-account'" in result.stderr
    listed = roles(suite, "list", "--uid", "no-such-account")
    assert listed.returncode == 1
    assert "no account has uid" in listed.stderr
    assert firestore_admin.collection_group(ROLE_AUDIT) == before


@pytest.fixture
def someone(auth: AuthEmulator) -> AppUser:
    return auth.create_user(claims={"tier": "pro"})


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grant", "--uid", "", "--role", "worker", "--by", "ops"], "--uid: must not be empty"),
        (["grant", "--uid", "u" * 129, "--role", "worker", "--by", "ops"], "at most 128"),
        (["grant", "--uid", "a/{uid}", "--role", "worker", "--by", "ops"], "'/'"),
        (["grant", "--uid", "{uid}", "--role", "superuser", "--by", "ops"], "invalid choice"),
        (["grant", "--uid", "{uid}", "--role", "worker"], "--by"),
        (["grant", "--uid", "{uid}", "--role", "worker", "--by", "  "], "--by: must not be empty"),
        (["revoke", "--uid", "{uid}", "--by", "ops"], "--role"),
        (["revoke", "--role", "worker", "--by", "ops"], "--uid"),
        (["list", "--uid", "{uid}/x"], "'/'"),
        (["list", "--max-accounts", "0"], "not between"),
        (["list", "--uid", "{uid}", "--page-token", "abc"], "--page-token"),
        (["promote", "--uid", "{uid}"], "invalid choice"),
        ([], "ACTION"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(
    suite: EmulatorSuite,
    firestore_admin: FirestoreAdminRest,
    someone: AppUser,
    argv: list[str],
    message: str,
) -> None:
    before = firestore_admin.collection_group(ROLE_AUDIT)

    result = roles(suite, *(arg.replace("{uid}", someone.uid) for arg in argv))

    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert stored_claims(suite, someone.uid) == {"tier": "pro"}
    assert firestore_admin.collection_group(ROLE_AUDIT) == before


def test_firestore_emulated_without_auth_is_refused_before_anything_is_touched(
    suite: EmulatorSuite, firestore_admin: FirestoreAdminRest, someone: AppUser
) -> None:
    """Claims changed in one project and audited in another would be no audit."""
    env = {
        **os.environ,
        "FIRESTORE_EMULATOR_HOST": suite.firestore_host,
        "GCLOUD_PROJECT": suite.project,
        "PYTHONPATH": str(ROOT / "functions"),
    }
    env.pop("FIREBASE_AUTH_EMULATOR_HOST", None)
    argv = ["roles", "grant", "--uid", someone.uid, "--role", "admin", "--by", "ops"]
    result = subprocess.run(  # noqa: S603 - this interpreter running the project's own CLI
        [sys.executable, "-m", "generations_live", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 2
    assert "FIREBASE_AUTH_EMULATOR_HOST" in result.stderr
    assert stored_claims(suite, someone.uid) == {"tier": "pro"}
    assert all(
        plain(fields["uid"]) != someone.uid
        for fields in firestore_admin.collection_group(ROLE_AUDIT).values()
    )


# --- the revocation check on privileged calls ------------------------------------------


def start(api: CallableClient, user: AppUser) -> str:
    started = api.call(
        "trackGeneration", {"type": "text", "prompt": "a haiku about rain"}, id_token=user.id_token
    )
    generation_id: str = started["generationId"]
    return generation_id


def status_of(firestore_admin: FirestoreAdminRest, generation_id: str) -> str:
    document = firestore_admin.get(f"{LIVE_GENERATIONS}/{generation_id}")
    assert document is not None
    status: str = plain(document["status"])
    return status


def logged_refusal(suite: EmulatorSuite, uid: str, reason: str) -> dict[str, Any]:
    """The functions' "refused call" log entry for ``uid`` (polled: logs arrive late)."""
    deadline = time.monotonic() + 15
    while True:
        for line in suite.log.read_text(errors="replace").splitlines():
            if '"refused call"' in line and uid in line and reason in line:
                entry: dict[str, Any] = json.loads(line[line.index("{") :])
                return entry
        assert time.monotonic() < deadline, f"no refusal logged for {uid}: {reason}"
        time.sleep(0.1)


def test_a_revoked_worker_is_refused_on_its_next_call(
    suite: EmulatorSuite,
    auth: AuthEmulator,
    api: CallableClient,
    firestore_admin: FirestoreAdminRest,
    user: AppUser,
) -> None:
    password = "password-" + uuid.uuid4().hex
    worker = auth.create_user(display_name="Render Worker", password=password)
    granted = roles(suite, "grant", "--uid", worker.uid, "--role", "worker", "--by", OPERATOR)
    assert granted.returncode == 0, granted.stderr
    old_token = sign_in(suite, worker.email, password)
    assert token_claims(old_token)["worker"] is True
    first, second = start(api, user), start(api, user)

    reported = api.call(
        "updateGenerationStatus", {"generationId": first, "status": "completed"}, id_token=old_token
    )
    assert reported["status"] == "completed"

    wait_past_the_second_of(old_token)
    revoked = roles(suite, "revoke", "--uid", worker.uid, "--role", "worker", "--by", OPERATOR)
    assert revoked.returncode == 0, revoked.stderr

    # The very token that just worked, still unexpired and still saying worker: true.
    with pytest.raises(CallableError) as refused:
        api.call(
            "updateGenerationStatus",
            {"generationId": second, "status": "completed"},
            id_token=old_token,
        )
    assert refused.value.code == "unauthenticated"
    assert refused.value.http_status == 401
    assert "the session was revoked: sign in again" in refused.value.message
    assert status_of(firestore_admin, second) == "processing"
    logged = logged_refusal(suite, worker.uid, "the session was revoked")
    assert logged["uid"] == worker.uid
    assert logged["function"] == "updateGenerationStatus"
    assert worker.email not in json.dumps(logged)

    # Signed in again, the account is no worker: a stranger's generation is not its to settle.
    fresh = sign_in(suite, worker.email, password)
    with pytest.raises(CallableError) as denied:
        api.call(
            "updateGenerationStatus",
            {"generationId": second, "status": "completed"},
            id_token=fresh,
        )
    assert denied.value.code == "permission-denied"
    assert status_of(firestore_admin, second) == "processing"

    # A user without a role is unaffected: the owner still settles its own generation.
    canceled = api.call(
        "updateGenerationStatus",
        {"generationId": second, "status": "canceled"},
        id_token=user.id_token,
    )
    assert canceled["status"] == "canceled"


def test_callers_without_a_role_skip_the_revocation_check(
    suite: EmulatorSuite, auth: AuthEmulator, api: CallableClient
) -> None:
    """Only privileged calls pay for the check: a plain user's call makes no call to
    Auth, so even a token whose sessions were revoked passes until it expires."""
    plain_user = auth.create_user(display_name="Plain User")
    wait_past_the_second_of(plain_user.id_token)
    # Revoking a role the account never had still revokes its refresh tokens.
    revoked = roles(suite, "revoke", "--uid", plain_user.uid, "--role", "admin", "--by", OPERATOR)
    assert revoked.returncode == 0, revoked.stderr
    assert "did not have the admin role; its refresh tokens were revoked anyway" in revoked.stdout

    answer = api.call("getLiveGenerations", {"limit": 1}, id_token=plain_user.id_token)
    assert "generations" in answer


def test_a_revoked_admin_is_refused_too(
    suite: EmulatorSuite, auth: AuthEmulator, api: CallableClient
) -> None:
    admin = auth.create_user(display_name="Platform Admin", claims={"admin": True})
    assert "totals" in api.call("getBillingAnalytics", {"days": 7}, id_token=admin.id_token)

    wait_past_the_second_of(admin.id_token)
    revoked = roles(suite, "revoke", "--uid", admin.uid, "--role", "admin", "--by", OPERATOR)
    assert revoked.returncode == 0, revoked.stderr

    with pytest.raises(CallableError) as refused:
        api.call("getBillingAnalytics", {"days": 7}, id_token=admin.id_token)
    assert refused.value.code == "unauthenticated"
    assert "revoked" in refused.value.message
