"""The pure rules of notifications and webhook events: who is told what, once per
crossing; the retry schedule; the payload's bytes and what it leaves out."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from generations_live.domain import credits, notifications, webhooks
from generations_live.domain.credits import Account, Change, EntryKind, LedgerEntry
from generations_live.domain.lifecycle import Status
from generations_live.domain.notifications import NoticeType

THRESHOLD = 5
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def entry(kind: EntryKind, amount: int, account: Account) -> LedgerEntry:
    return LedgerEntry(
        entry_id=f"{kind.value}-1",
        kind=kind,
        amount=amount,
        balance_after=account.balance,
        held_after=account.held,
        reason="test",
    )


def change(before: Account, *, balance: int, held: int, kind: EntryKind, amount: int) -> Change:
    after = Account(balance=balance, held=held, low_credits_alerted=before.low_credits_alerted)
    return Change(account=after, entries=(entry(kind, amount, after),))


def types(told: notifications.AccountNotices) -> list[str]:
    return [notice.type.value for notice in told.notices]


def test_falling_below_the_threshold_alerts_once_until_credits_are_added() -> None:
    account = Account(balance=10)
    held = notifications.for_account_change(
        account, change(account, balance=10, held=6, kind=EntryKind.HOLD, amount=-6), THRESHOLD
    )
    assert types(held) == ["credits.low"]
    assert held.credits_low
    assert held.notices[0].fields == {"available": 4, "threshold": THRESHOLD}
    alerted = held.account
    assert alerted.low_credits_alerted

    lower = notifications.for_account_change(
        alerted, change(alerted, balance=10, held=9, kind=EntryKind.HOLD, amount=-3), THRESHOLD
    )
    assert types(lower) == []  # still below: no second alert
    released = notifications.for_account_change(
        alerted, change(alerted, balance=10, held=0, kind=EntryKind.RELEASE, amount=9), THRESHOLD
    )
    assert types(released) == []
    assert released.account.low_credits_alerted  # a release is not credits added

    granted = notifications.for_account_change(
        alerted, change(alerted, balance=60, held=9, kind=EntryKind.GRANT, amount=50), THRESHOLD
    )
    assert types(granted) == ["credits.granted"]
    assert granted.notices[0].fields == {"credits": 50}
    assert not granted.account.low_credits_alerted  # armed again
    again = notifications.for_account_change(
        granted.account,
        change(granted.account, balance=60, held=58, kind=EntryKind.HOLD, amount=-49),
        THRESHOLD,
    )
    assert types(again) == ["credits.low"]


def test_credits_added_but_still_below_keep_the_alert_spent() -> None:
    alerted = Account(balance=1, low_credits_alerted=True)
    topped = notifications.for_account_change(
        alerted, change(alerted, balance=3, held=0, kind=EntryKind.PURCHASE, amount=2), THRESHOLD
    )
    assert types(topped) == ["credits.purchased"]
    assert topped.account.low_credits_alerted


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status.COMPLETED, NoticeType.GENERATION_COMPLETED),
        (Status.FAILED, NoticeType.GENERATION_FAILED),
        (Status.CANCELED, None),
    ],
)
def test_owners_hear_of_completions_and_failures_not_cancels(
    status: Status, expected: NoticeType | None
) -> None:
    notice = notifications.for_generation_end("gen-1", {"type": "video", "engine": "sora"}, status)
    if expected is None:
        assert notice is None
        return
    assert notice is not None
    assert notice.type is expected
    document = notice.document()
    assert document["read"] is False
    assert (document["generationId"], document["generationType"], document["engine"]) == (
        "gen-1",
        "video",
        "sora",
    )


def test_the_retry_schedule_backs_off_with_jitter_then_gives_up() -> None:
    policy = webhooks.RetryPolicy()
    rng = random.Random(1)
    first = policy.next_attempt(1, NOW, rng)
    assert first == NOW + timedelta(seconds=5)  # no jitter on the first retry: seconds
    waits = [policy.next_attempt(n, NOW, rng) for n in range(2, policy.max_attempts)]
    for wait, delay in zip(waits, policy.delays[1:], strict=True):
        assert wait is not None
        assert delay * 0.8 <= wait - NOW <= delay * 1.2
    assert policy.next_attempt(policy.max_attempts, NOW, rng) is None
    total = sum(policy.delays, timedelta())
    assert timedelta(hours=20) <= total <= timedelta(hours=28)  # about a day


def test_retry_delays_parse_and_refuse_nonsense() -> None:
    assert webhooks.parse_delays("5s, 1m,2h,1d") == (
        timedelta(seconds=5),
        timedelta(minutes=1),
        timedelta(hours=2),
        timedelta(days=1),
    )
    for bad in ("", "5", "5x", "-5s", "0s", ",".join(["1s"] * 21)):
        with pytest.raises(ValueError, match="WEBHOOK_RETRY_DELAYS"):
            webhooks.parse_delays(bad)


def test_the_payload_is_stable_json_with_the_public_fields_only() -> None:
    public = {
        "userId": "u1",
        "userName": "Grace",
        "type": "image",
        "prompt": "a fox",
        "status": "completed",
        "createdAt": NOW,
    }
    outputs = [{"uri": "https://cdn.example.com/a.png", "contentType": "image/png"}]
    data = webhooks.generation_data("gen-1", {**public, "userEmail": "g@example.com"}, outputs)
    assert "userEmail" not in data
    assert data["outputs"] == outputs
    body = webhooks.payload("generation.completed", NOW, data)
    assert body == webhooks.payload("generation.completed", NOW, data)
    parsed = json.loads(body)
    assert parsed["type"] == "generation.completed"
    assert parsed["timestamp"] == NOW.isoformat()
    assert parsed["data"]["createdAt"] == NOW.isoformat()
    private = webhooks.generation_data("gen-2", {**public, "prompt": None}, outputs)
    assert "outputs" not in private


def test_only_a_2xx_is_a_delivery() -> None:
    assert [webhooks.succeeded(code) for code in (200, 204, 299, 301, 404, 500, None)] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_every_end_has_its_event_and_tests_are_not_subscribable() -> None:
    assert {webhooks.ended_event(s) for s in Status if s is not Status.PROCESSING} == {
        webhooks.EventType.GENERATION_COMPLETED,
        webhooks.EventType.GENERATION_FAILED,
        webhooks.EventType.GENERATION_CANCELED,
    }
    assert webhooks.EventType.TEST not in webhooks.SUBSCRIBABLE
    assert credits.EntryKind.GRANT.moves_balance
