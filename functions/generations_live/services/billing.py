"""The billing use cases: quotes, usage, grants and purchases."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from typing import Any

from generations_live.adapters.generations import GenerationStore, StoreTransaction
from generations_live.domain import credits, usage
from generations_live.domain.credits import EntryKind
from generations_live.domain.errors import NotFound, PermissionDenied
from generations_live.domain.identity import Caller
from generations_live.domain.models import (
    GetUserUsageRequest,
    GrantCreditsRequest,
    PurchaseData,
    QuoteGenerationRequest,
)
from generations_live.domain.settings import Settings


def quote_generation(
    store: GenerationStore,
    caller: Caller,
    request: QuoteGenerationRequest,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """What a generation would cost the caller now, with today's free credits
    where the account qualifies for them (and why not, where it does not);
    writes nothing."""
    cost = settings.prices.cost(request.type, request.mode, request.batch_size)
    no_free_credits = settings.free_credits.refusal(caller)
    policy = settings.credit_policy if no_free_credits is None else credits.NO_FREE_CREDITS
    offer = credits.quote_with_daily_credits(
        store.account(caller.uid), cost, policy, settings.prices.version, now.date()
    )
    return {
        "cost": offer.cost,
        "balance": offer.balance,
        "held": offer.held,
        "available": offer.available,
        "canAfford": offer.can_afford,
        "softBlocked": offer.soft_blocked,
        "remainingAfter": offer.remaining_after,
        "priceVersion": offer.price_version,
        "freeCredits": {
            "qualifies": no_free_credits is None,
            "reason": no_free_credits,
            "dailyFloor": policy.daily_free_floor,
            "overdraftAllowance": policy.overdraft_allowance,
        },
    }


def user_usage(
    store: GenerationStore, caller: Caller, request: GetUserUsageRequest, now: datetime
) -> dict[str, Any]:
    """The caller's own usage, from at most about 90 daily documents and their account."""
    today = now.date()
    days = store.usage_days(caller.uid, usage.window_start(today, request.days))
    account = store.account(caller.uid)
    return {
        **usage.summarize(days, today, request.days),
        "balance": account.balance,
        "held": account.held,
        "available": account.available,
    }


def _credit_once(
    store: GenerationStore,
    uid: str,
    *,
    entry_id: str,
    kind: EntryKind,
    amount: int,
    reason: str,
    event_id: str,
) -> tuple[bool, credits.Account]:
    """Add credits under an entry id derived from their cause; a replay changes nothing."""

    def credit(tx: StoreTransaction) -> tuple[bool, credits.Account]:
        already = tx.ledger_entry(uid, entry_id)
        account = tx.account(uid)
        if already is not None:
            return False, account
        change = credits.apply_entry(
            account, entry_id=entry_id, kind=kind, amount=amount, reason=reason, event_id=event_id
        )
        tx.save_account(uid, change)
        return True, change.account

    return store.run_claimed(f"credit/{uid}/{entry_id}", credit)


def grant_credits(
    store: GenerationStore,
    caller: Caller,
    request: GrantCreditsRequest,
    user_exists: Callable[[str], bool],
) -> dict[str, Any]:
    """An admin's grant to an existing account, applied once per ``grantId``."""
    if not caller.is_admin:
        raise PermissionDenied("only admins may grant credits")
    # A mistyped uid must not mint credits for an account nobody has.
    if not user_exists(request.user_id):
        raise NotFound(f"no user with id {request.user_id!r}", details={"field": "userId"})
    applied, account = _credit_once(
        store,
        request.user_id,
        entry_id=f"grant_{request.grant_id}",
        kind=EntryKind.GRANT,
        amount=request.amount,
        reason=f"{request.reason} (granted by {caller.uid})",
        event_id=request.grant_id,
    )
    return {
        "grantId": request.grant_id,
        "userId": request.user_id,
        "applied": applied,
        "balance": account.balance,
        "available": account.available,
    }


class PurchaseOutcome(enum.StrEnum):
    APPLIED = "applied"
    REPLAYED = "replayed"  # applied before: nothing changes
    PARKED = "parked"  # no such account: kept for an admin to review, never credited


def apply_purchase(
    store: GenerationStore,
    event_id: str,
    purchase: PurchaseData,
    user_exists: Callable[[str], bool],
) -> PurchaseOutcome:
    """Credit a purchase reported by the payment provider, once per event.

    A purchase for a user id with no account is not credited (that would open
    an orphan account): it is parked under its event id for an admin.
    """
    if not user_exists(purchase.user_id):
        store.park_purchase(event_id, purchase.user_id, purchase.credits)
        return PurchaseOutcome.PARKED
    applied, _ = _credit_once(
        store,
        purchase.user_id,
        entry_id=f"purchase_{event_id}",
        kind=EntryKind.PURCHASE,
        amount=purchase.credits,
        reason=f"purchase reported by payment event {event_id}",
        event_id=event_id,
    )
    return PurchaseOutcome.APPLIED if applied else PurchaseOutcome.REPLAYED


def audit_ledgers(store: GenerationStore) -> dict[str, Any]:
    """Check every account against its ledger; the mismatches, by user."""
    checked = 0
    mismatches: dict[str, list[str]] = {}
    for uid, account, entries in store.accounts_with_ledgers():
        checked += 1
        problems = credits.audit(account, entries)
        if problems:
            mismatches[uid] = problems
    return {"accountsChecked": checked, "mismatches": mismatches}
