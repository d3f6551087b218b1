"""The rules of account deletion: who may erase whom, what is kept of a generation,
and how names and reasons are made anonymous."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from generations_live.domain import erasure
from generations_live.domain.errors import PermissionDenied
from generations_live.domain.identity import ANONYMOUS_DISPLAY_NAME, caller_from_claims

USER = caller_from_claims("u1", {"name": "Ada", "email": "ada@example.com"})
ADMIN = caller_from_claims("a1", {"admin": True})
WORKER = caller_from_claims("w1", {"worker": True})


@pytest.mark.parametrize("user_id", [None, "u1"])
def test_a_user_erases_their_own_data(user_id: str | None) -> None:
    assert erasure.deletion_target(USER, user_id) == "u1"


def test_an_admin_erases_anyone_and_nobody_else_may() -> None:
    assert erasure.deletion_target(ADMIN, "u1") == "u1"
    assert erasure.deletion_target(ADMIN, None) == "a1"
    for caller in (USER, WORKER):
        with pytest.raises(PermissionDenied) as refused:
            erasure.deletion_target(caller, "someone-else")
        assert refused.value.details == {"field": "userId"}


def test_an_erased_generation_keeps_only_what_the_recount_reads() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    public = {
        "userId": "u1",
        "userName": "Ada",
        "prompt": "a secret",
        "type": "image",
        "engine": "gemini",
        "status": "completed",
        "createdAt": at,
        "completedAt": at,
        "durationMs": 1200,
        "errorCode": None,
        "expireAt": at,
        "batchSize": 2,
    }
    kept = erasure.erased_generation(public)
    assert set(kept) == set(erasure.ERASED_GENERATION_FIELDS)
    assert "Ada" not in kept.values()
    assert "a secret" not in kept.values()


def test_top_users_lose_only_that_users_name() -> None:
    top = [
        {"userId": "u1", "userName": "Ada", "count": 3},
        {"userId": "u2", "userName": "Bob", "count": 2},
    ]
    assert erasure.anonymised_top_users(top, "u1") == [
        {"userId": "u1", "userName": ANONYMOUS_DISPLAY_NAME, "count": 3},
        {"userId": "u2", "userName": "Bob", "count": 2},
    ]
    assert top[0]["userName"] == "Ada"  # the input is not changed
    assert erasure.anonymised_top_users(top, "u3") is None
    done = erasure.anonymised_top_users(top, "u1")
    assert done is not None
    assert erasure.anonymised_top_users(done, "u1") is None  # nothing left to change


@pytest.mark.parametrize(
    ("kind", "reason", "expected"),
    [
        ("grant", "refund for Ada, ada@example.com", erasure.ERASED_REASON),
        ("adjustment", "fix for Ada", erasure.ERASED_REASON),
        ("grant", erasure.ERASED_REASON, None),
        ("grant", None, None),
        ("hold", "reserved for generation g1", None),
        ("purchase", "purchase reported by payment event evt_1", None),
    ],
)
def test_only_free_text_reasons_are_scrubbed(
    kind: str, reason: str | None, expected: str | None
) -> None:
    assert erasure.scrubbed_reason(kind, reason) == expected


def test_names_are_replaced_once() -> None:
    assert erasure.anonymised_name("Ada") == ANONYMOUS_DISPLAY_NAME
    assert erasure.anonymised_name(None) == ANONYMOUS_DISPLAY_NAME
    assert erasure.anonymised_name(ANONYMOUS_DISPLAY_NAME) is None


def test_the_steps_run_in_order_and_end() -> None:
    step: erasure.Step | None = erasure.STEPS[0]
    seen = []
    while step is not None:
        seen.append(step)
        step = erasure.next_step(step)
    assert tuple(seen) == erasure.STEPS
    assert seen[0] is erasure.Step.GENERATIONS  # holds are released before anything else


def test_the_answer_reports_progress_by_kind() -> None:
    progress = erasure.Progress()
    progress.add({"generations": 3, "events": 6, erasure.SETTLED: 1})
    answer = erasure.answer("u1", progress)
    assert answer["done"] is False
    assert answer["step"] == "generations"
    assert answer["removed"]["generations"] == 3
    assert answer["anonymised"]["events"] == 6
    assert answer["canceled"] == 1
    progress.done = True
    assert erasure.answer("u1", progress)["step"] is None
