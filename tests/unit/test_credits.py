from __future__ import annotations

from datetime import date

import pytest

from generations_live.adapters.config import settings
from generations_live.domain import credits
from generations_live.domain.credits import (
    Account,
    AuditedEntry,
    CreditPolicy,
    EntryKind,
    Mode,
    parse_price_table,
)
from generations_live.domain.errors import InvalidArgument, ResourceExhausted
from generations_live.domain.lifecycle import GenerationType, Status

POLICY = CreditPolicy(overdraft_allowance=10, daily_free_floor=10)
TODAY = date(2026, 3, 14)
PRICES = settings().prices


@pytest.mark.parametrize(
    ("generation_type", "mode", "batch", "cost"),
    [
        (GenerationType.TEXT, Mode.CREATE, 1, 1),
        (GenerationType.IMAGE, Mode.CREATE, 1, 5),
        (GenerationType.IMAGE, Mode.EDIT, 1, 3),
        (GenerationType.VIDEO, Mode.CREATE, 1, 10),
        (GenerationType.AUDIO, Mode.CREATE, 1, 2),
        (GenerationType.IMAGE, Mode.CREATE, 4, 20),
        (GenerationType.VIDEO, Mode.CREATE, 8, 80),
    ],
)
def test_default_prices(generation_type: GenerationType, mode: Mode, batch: int, cost: int) -> None:
    assert PRICES.cost(generation_type, mode, batch) == cost


def test_unpriced_mode_is_invalid() -> None:
    with pytest.raises(InvalidArgument, match="mode"):
        PRICES.cost(GenerationType.VIDEO, Mode.EDIT, 1)


def test_price_table_must_price_every_type() -> None:
    with pytest.raises(ValueError, match="no price"):
        parse_price_table("v", "image=5")
    with pytest.raises(ValueError, match="negative"):
        parse_price_table("v", "image=-1,video=1,audio=1,text=1")


def reserve(account: Account, cost: int, generation_id: str = "g1") -> credits.Change:
    change, _ = credits.reserve(
        account,
        generation_id=generation_id,
        generation_type=GenerationType.IMAGE,
        cost=cost,
        policy=POLICY,
        price_version="v1",
        today=TODAY,
    )
    return change


def test_reserve_holds_without_touching_the_balance() -> None:
    account = Account(balance=50, last_daily_free_day=TODAY.isoformat())
    change = reserve(account, 20)
    assert (change.account.balance, change.account.held, change.account.available) == (50, 20, 30)
    [hold] = change.entries
    assert (hold.entry_id, hold.kind, hold.amount, hold.balance_after) == (
        "hold_g1",
        "hold",
        -20,
        50,
    )


def test_first_request_of_the_day_tops_up_to_the_floor_once() -> None:
    change = reserve(Account(balance=3, last_daily_free_day="2026-03-13"), 5)
    kinds = [(entry.kind, entry.amount) for entry in change.entries]
    assert kinds == [(EntryKind.DAILY_FREE, 7), (EntryKind.HOLD, -5)]
    assert change.account.balance == 10
    assert change.account.last_daily_free_day == TODAY.isoformat()
    again = reserve(change.account, 1, "g2")
    assert [entry.kind for entry in again.entries] == [EntryKind.HOLD]


def test_an_overdraft_is_paid_back_not_forgiven() -> None:
    change = credits.daily_top_up(Account(balance=-8), POLICY, TODAY)
    assert [entry.amount for entry in change.entries] == [10]
    assert change.account.balance == 2


def test_top_up_gives_nothing_above_the_floor_but_marks_the_day() -> None:
    change = credits.daily_top_up(Account(balance=25), POLICY, TODAY)
    assert change.entries == ()
    assert change.account.last_daily_free_day == TODAY.isoformat()


def test_soft_block_within_the_overdraft_allowance() -> None:
    account = Account(balance=10, held=5, last_daily_free_day=TODAY.isoformat())
    change, offer = credits.reserve(
        account,
        generation_id="g",
        generation_type=GenerationType.VIDEO,
        cost=15,
        policy=POLICY,
        price_version="v",
        today=TODAY,
    )
    assert offer.soft_blocked
    assert offer.shortfall == 10
    assert change.account.available == -10


def test_beyond_the_allowance_is_refused_with_the_shortfall() -> None:
    account = Account(balance=10, held=5, last_daily_free_day=TODAY.isoformat())
    with pytest.raises(ResourceExhausted) as refused:
        reserve(account, 16)
    assert refused.value.details == {
        "reason": "credits",
        "cost": 16,
        "available": 5,
        "shortfall": 1,
        "overdraftAllowance": 10,
    }


def test_quote_counts_todays_free_credits_without_writing() -> None:
    offer = credits.quote_with_daily_credits(Account(), 5, POLICY, "v1", TODAY)
    assert (offer.balance, offer.available, offer.can_afford, offer.soft_blocked) == (
        10,
        10,
        True,
        False,
    )
    assert offer.remaining_after == 5


@pytest.mark.parametrize(
    ("outcome", "kind", "balance"),
    [
        (Status.COMPLETED, EntryKind.CHARGE, 30),
        (Status.FAILED, EntryKind.RELEASE, 50),
        (Status.CANCELED, EntryKind.RELEASE, 50),
    ],
)
def test_settle_charges_success_and_releases_the_rest(
    outcome: Status, kind: EntryKind, balance: int
) -> None:
    held = reserve(Account(balance=50, last_daily_free_day=TODAY.isoformat()), 20).account
    change = credits.settle(
        held, generation_id="g1", generation_type="image", cost=20, outcome=outcome
    )
    assert (change.account.balance, change.account.held) == (balance, 0)
    assert [entry.kind for entry in change.entries] == [kind]


def test_audit_accepts_a_consistent_history_and_names_mismatches() -> None:
    account = Account()
    entries: list[credits.LedgerEntry] = []
    for change in [
        credits.apply_entry(
            account, entry_id="grant_a", kind=EntryKind.GRANT, amount=40, reason=""
        ),
    ]:
        account = change.account
        entries += change.entries
    for generation_id, outcome in [("g1", Status.COMPLETED), ("g2", Status.FAILED), ("g3", None)]:
        change = reserve(account, 5, generation_id)
        account, entries = change.account, entries + list(change.entries)
        if outcome is not None:
            change = credits.settle(
                account,
                generation_id=generation_id,
                generation_type="image",
                cost=5,
                outcome=outcome,
            )
            account, entries = change.account, entries + list(change.entries)
    audited = [AuditedEntry(e.kind, e.amount, e.generation_id) for e in entries]
    assert (account.balance, account.held) == (35, 5)
    assert credits.audit(account, audited) == []
    assert credits.audit(Account(balance=36, held=5), audited) == [
        "balance is 36 but the ledger sums to 35"
    ]
    assert credits.audit(Account(balance=35, held=0), audited) == [
        "held is 0 but open holds sum to 5"
    ]


def test_lifetime_totals_accumulate_per_kind() -> None:
    change = credits.apply_entry(
        Account(), entry_id="p", kind=EntryKind.PURCHASE, amount=100, reason=""
    )
    change = credits.settle(
        reserve(change.account, 10).account,
        generation_id="g1",
        generation_type="image",
        cost=10,
        outcome=Status.COMPLETED,
    )
    assert change.account.lifetime["purchase"] == 100
    assert change.account.lifetime["charge"] == 10
