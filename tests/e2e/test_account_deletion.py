"""deleteAccountData end to end: through the callable protocol with Auth-emulator
ID tokens, served by the Functions emulator, against the suite's Firestore."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from harness.clients import (
    API_KEY,
    AppUser,
    AuthEmulator,
    CallableClient,
    CallableError,
    FirestoreAdminRest,
)
from harness.emulators import EmulatorSuite, run_operator_command

# A call answers ``done: false`` while work remains; no test here needs more.
MAX_CALLS = 20


def every_document(suite: EmulatorSuite) -> dict[str, Any]:
    """Every document of every collection, at any depth, by name (read as an administrator)."""
    return FirestoreAdminRest(suite.url("firestore"), suite.project).every_document()


def written(suite: EmulatorSuite) -> dict[str, Any]:
    """Every document but the webhook dispatcher's own bookkeeping, which runs on its own."""
    return FirestoreAdminRest(suite.url("firestore"), suite.project).written_by_changes()


def leftovers(suite: EmulatorSuite, personal: list[str]) -> dict[str, list[str]]:
    """Documents still holding one of these strings (in a value or a key), by name."""
    found = {}
    for name, fields in every_document(suite).items():
        text = json.dumps(fields, ensure_ascii=False)
        hits = [value for value in personal if value in text]
        if hits:
            found[name] = hits
    return found


def erase(api: CallableClient, caller: AppUser, **data: Any) -> dict[str, Any]:
    """Call deleteAccountData until it answers ``done``; the last answer."""
    for _ in range(MAX_CALLS):
        answer: dict[str, Any] = api.call("deleteAccountData", data, id_token=caller.id_token)
        if answer["done"]:
            return answer
    raise AssertionError(f"not done after {MAX_CALLS} calls")


def creator(auth: AuthEmulator) -> tuple[AppUser, str]:
    """A user with a name no other test uses, and a tag for their prompts."""
    tag = uuid.uuid4().hex[:10]
    return auth.create_user(display_name=f"Ada Deletable {tag}"), tag


def traffic(api: CallableClient, user: AppUser, worker: AppUser, tag: str) -> list[str]:
    """Three generations: one completed, one failed, one still processing; their prompts."""
    prompts = [f"secret prompt {n} of {tag}" for n in range(3)]
    ids = [
        api.call(
            "trackGeneration",
            {"type": "text", "prompt": prompt, "visibility": "private" if n else "public"},
            id_token=user.id_token,
        )["generationId"]
        for n, prompt in enumerate(prompts)
    ]
    for generation_id, status in zip(ids, ("completed", "failed"), strict=False):
        api.call(
            "updateGenerationStatus",
            {"generationId": generation_id, "status": status},
            id_token=worker.id_token,
        )
    return prompts


def personal(user: AppUser, prompts: list[str]) -> list[str]:
    assert user.display_name is not None
    return [*prompts, user.email, user.display_name]


def test_a_user_erases_their_own_data_and_a_second_call_answers_the_same(
    api: CallableClient, auth: AuthEmulator, worker: AppUser, suite: EmulatorSuite
) -> None:
    user, tag = creator(auth)
    prompts = traffic(api, user, worker, tag)
    assert leftovers(suite, personal(user, prompts))
    rolled = run_operator_command(suite, "rollup", "--lag", "0")
    assert rolled.returncode == 0, rolled.stderr

    answer = erase(api, user)

    assert answer["userId"] == user.uid
    assert answer["removed"]["generations"] == 3
    assert answer["canceled"] == 1  # its hold released before it went
    assert answer["anonymised"]["rollupUsers"] >= 1
    assert leftovers(suite, personal(user, prompts)) == {}
    before = written(suite)
    assert api.call("deleteAccountData", {}, id_token=user.id_token) == answer
    assert api.call("deleteAccountData", {"userId": user.uid}, id_token=user.id_token) == answer
    assert written(suite) == before
    # The ledger stays consistent, and the rollups equal a recount.
    audit = run_operator_command(suite, "audit-ledgers")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    rolled = run_operator_command(suite, "rollup", "--lag", "0")
    assert rolled.returncode == 0, rolled.stderr
    today = datetime.now(UTC).date()
    days = ("--from", (today - timedelta(days=1)).isoformat(), "--to", today.isoformat())
    checked = run_operator_command(suite, "check", *days)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_admin_erases_another_user(
    api: CallableClient, auth: AuthEmulator, worker: AppUser, admin: AppUser, suite: EmulatorSuite
) -> None:
    user, tag = creator(auth)
    prompts = traffic(api, user, worker, tag)

    answer = erase(api, admin, userId=user.uid)

    assert (answer["userId"], answer["removed"]["generations"]) == (user.uid, 3)
    assert leftovers(suite, personal(user, prompts)) == {}
    # The Auth account stays: deleting it is the client's (or the CLI's --auth) step.
    assert api.call("getUserUsage", {"days": 1}, id_token=user.id_token)["today"] == {
        "generations": 0,
        "credits": 0,
    }


@pytest.mark.parametrize("role", ["stranger", "worker"])
def test_nobody_else_may_erase_a_user_and_the_refusal_writes_nothing(
    api: CallableClient,
    auth: AuthEmulator,
    worker: AppUser,
    stranger: AppUser,
    suite: EmulatorSuite,
    role: str,
) -> None:
    user, tag = creator(auth)
    traffic(api, user, worker, tag)
    caller = stranger if role == "stranger" else worker
    before = written(suite)

    with pytest.raises(CallableError) as refused:
        api.call("deleteAccountData", {"userId": user.uid}, id_token=caller.id_token)

    assert refused.value.code == "permission-denied"
    assert written(suite) == before


@pytest.mark.parametrize(
    "data", [{"userId": "a/b"}, {"userId": ""}, {"userId": 7}, {"uid": "x"}, {"userId": None}]
)
def test_malformed_requests_are_invalid_arguments(
    api: CallableClient, stranger: AppUser, data: dict[str, Any]
) -> None:
    if data == {"userId": None}:
        # null is the caller's own data, like no userId at all.
        assert api.call("deleteAccountData", data, id_token=stranger.id_token)["done"] is True
        return
    with pytest.raises(CallableError) as refused:
        api.call("deleteAccountData", data, id_token=stranger.id_token)
    assert refused.value.code == "invalid-argument"


def test_signing_in_is_required(api: CallableClient) -> None:
    with pytest.raises(CallableError) as refused:
        api.call("deleteAccountData", {})
    assert refused.value.code == "unauthenticated"


def test_the_operator_command_erases_a_user_and_with_auth_their_account(
    api: CallableClient, auth: AuthEmulator, worker: AppUser, suite: EmulatorSuite
) -> None:
    user, tag = creator(auth)
    prompts = traffic(api, user, worker, tag)

    done = run_operator_command(suite, "delete-account", "--uid", user.uid, "--auth")

    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout)
    assert (answer["done"], answer["removed"]["generations"]) == (True, 3)
    assert f"deleted the Auth account {user.uid}" in done.stderr
    assert leftovers(suite, personal(user, prompts)) == {}
    lookup = requests.post(
        f"{suite.url('auth')}/identitytoolkit.googleapis.com/v1/accounts:lookup?key={API_KEY}",
        json={"idToken": user.id_token},
        timeout=30,
    )
    assert lookup.status_code == 400
    assert "USER_NOT_FOUND" in lookup.text
