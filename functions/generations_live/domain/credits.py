"""Credits: prices, holds, charges, releases and grants. Pure rules: no I/O.

The ledger model. Every change to an account is a ledger entry whose id is
derived from its cause, so a replay finds the entry and changes nothing.

- ``grant``, ``purchase``, ``daily_free``, ``adjustment`` and ``charge`` move
  the balance by their signed ``amount``.
- ``hold`` reserves credits for a processing generation (``amount`` is minus
  the cost); it moves ``held``, not the balance. ``charge`` (completed) or
  ``release`` (failed, canceled) closes it.

So ``balance`` is the sum of the balance-moving entries and ``held`` is the sum
of the costs of holds that no charge or release has closed: ``audit`` checks
exactly that.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from generations_live.domain.errors import InvalidArgument, ResourceExhausted
from generations_live.domain.lifecycle import GenerationType, Status
from generations_live.domain.limits import StartBucket


class Mode(enum.StrEnum):
    CREATE = "create"
    EDIT = "edit"


class EntryKind(enum.StrEnum):
    GRANT = "grant"
    PURCHASE = "purchase"
    DAILY_FREE = "daily_free"
    ADJUSTMENT = "adjustment"
    HOLD = "hold"
    CHARGE = "charge"
    RELEASE = "release"

    @property
    def moves_balance(self) -> bool:
        return self not in {EntryKind.HOLD, EntryKind.RELEASE}


LOW_CREDITS_WARNING = "low-credits"
# ``details.reason`` of a refusal for want of credits (rate limits have their own).
NOT_ENOUGH_CREDITS = "credits"


@dataclass(frozen=True)
class PriceTable:
    """Credits per unit of each (type, mode); a batch costs ``batchSize`` units."""

    version: str
    unit_prices: Mapping[tuple[GenerationType, Mode], int]

    def cost(self, generation_type: GenerationType, mode: Mode, batch_size: int) -> int:
        price = self.unit_prices.get((generation_type, mode))
        if price is None:
            raise InvalidArgument(
                f"mode: {mode.value!r} is not offered for {generation_type.value} generations",
                details={"errors": [{"field": "mode", "message": "not offered for this type"}]},
            )
        return price * batch_size


@dataclass(frozen=True)
class CreditPolicy:
    overdraft_allowance: int
    daily_free_floor: int


# What an account that does not qualify for free credits gets.
NO_FREE_CREDITS = CreditPolicy(overdraft_allowance=0, daily_free_floor=0)


@dataclass(frozen=True)
class Account:
    """A user's billing document.

    Besides credits it keeps the user's start allowance and how many of their
    generations are processing: the start transaction reads this document
    anyway, so the rate limits cost no extra read.
    """

    balance: int = 0
    held: int = 0
    last_daily_free_day: str | None = None
    lifetime: Mapping[str, int] = field(default_factory=dict)
    processing: int = 0
    start_bucket: StartBucket = field(default_factory=StartBucket)
    # Whether the owner was told their credits ran low since credits were last
    # added (domain/notifications.py): one alert per crossing.
    low_credits_alerted: bool = False

    @property
    def available(self) -> int:
        return self.balance - self.held

    @property
    def paid_or_granted(self) -> bool:
        """Whether credits were ever bought for or granted to this account."""
        return any(
            self.lifetime.get(kind.value, 0) > 0 for kind in (EntryKind.PURCHASE, EntryKind.GRANT)
        )


@dataclass(frozen=True)
class LedgerEntry:
    entry_id: str
    kind: EntryKind
    amount: int
    balance_after: int
    held_after: int
    reason: str
    generation_id: str | None = None
    event_id: str | None = None
    # Kept on hold, charge and release entries so billing analytics can split
    # credits by generation type from the ledger alone.
    generation_type: str | None = None


@dataclass(frozen=True)
class Quote:
    cost: int
    balance: int
    held: int
    available: int
    can_afford: bool
    soft_blocked: bool
    remaining_after: int
    price_version: str

    @property
    def shortfall(self) -> int:
        return max(0, -self.remaining_after)


@dataclass(frozen=True)
class Change:
    """An account after a change, and the ledger entries that record it."""

    account: Account
    entries: tuple[LedgerEntry, ...]


def hold_entry_id(generation_id: str) -> str:
    return f"hold_{generation_id}"


def _with_lifetime(account: Account, kind: EntryKind, amount: int) -> Mapping[str, int]:
    lifetime = dict(account.lifetime)
    lifetime[kind.value] = lifetime.get(kind.value, 0) + abs(amount)
    return lifetime


def apply_entry(
    account: Account,
    *,
    entry_id: str,
    kind: EntryKind,
    amount: int,
    reason: str,
    generation_id: str | None = None,
    event_id: str | None = None,
    generation_type: str | None = None,
) -> Change:
    """Apply one signed ledger entry to an account."""
    balance = account.balance + amount if kind.moves_balance else account.balance
    held = account.held
    if kind is EntryKind.HOLD:
        held -= amount  # a hold's amount is negative: minus the credits reserved
    elif kind in {EntryKind.CHARGE, EntryKind.RELEASE}:
        held -= abs(amount)
    after = replace(
        account, balance=balance, held=held, lifetime=_with_lifetime(account, kind, amount)
    )
    entry = LedgerEntry(
        entry_id=entry_id,
        kind=kind,
        amount=amount,
        balance_after=balance,
        held_after=held,
        reason=reason,
        generation_id=generation_id,
        event_id=event_id,
        generation_type=generation_type,
    )
    return Change(account=after, entries=(entry,))


def daily_top_up(account: Account, policy: CreditPolicy, today: date) -> Change:
    """Top the balance up to the daily free floor, once per UTC day.

    Done lazily on the user's first priced request of the day, so no job has
    to write every user. A balance left negative by a soft-blocked generation
    gets at most the floor's worth: free credits pay the overdraft back, they
    do not forgive it.
    """
    day = today.isoformat()
    if account.last_daily_free_day == day:
        return Change(account=account, entries=())
    marked = replace(account, last_daily_free_day=day)
    top_up = min(policy.daily_free_floor, policy.daily_free_floor - account.balance)
    if top_up <= 0:
        return Change(account=marked, entries=())
    return apply_entry(
        marked,
        entry_id=f"daily_free_{day}",
        kind=EntryKind.DAILY_FREE,
        amount=top_up,
        reason=f"daily free credits for {day}",
    )


def quote(account: Account, cost: int, policy: CreditPolicy, price_version: str) -> Quote:
    """What a generation would cost and whether it would be accepted."""
    remaining = account.available - cost
    return Quote(
        cost=cost,
        balance=account.balance,
        held=account.held,
        available=account.available,
        can_afford=remaining >= -policy.overdraft_allowance,
        soft_blocked=-policy.overdraft_allowance <= remaining < 0,
        remaining_after=remaining,
        price_version=price_version,
    )


def quote_with_daily_credits(
    account: Account, cost: int, policy: CreditPolicy, price_version: str, today: date
) -> Quote:
    """The quote a user sees before generating, counting today's free credits."""
    return quote(daily_top_up(account, policy, today).account, cost, policy, price_version)


def reserve(
    account: Account,
    *,
    generation_id: str,
    generation_type: GenerationType,
    cost: int,
    policy: CreditPolicy,
    price_version: str,
    today: date,
    no_free_credits_because: str | None = None,
) -> tuple[Change, Quote]:
    """Hold a generation's cost, after today's free credits.

    Refused with ``ResourceExhausted`` when the shortfall exceeds the
    overdraft allowance; within it the hold goes through (soft-block) and the
    quote says so. ``no_free_credits_because`` is why the account gets no free
    credits (``policy`` then grants none), told in a refusal.
    """
    topped_up = daily_top_up(account, policy, today)
    offer = quote(topped_up.account, cost, policy, price_version)
    if not offer.can_afford:
        details: dict[str, object] = {
            "reason": NOT_ENOUGH_CREDITS,
            "cost": cost,
            "available": offer.available,
            "shortfall": offer.shortfall - policy.overdraft_allowance,
            "overdraftAllowance": policy.overdraft_allowance,
        }
        message = (
            f"not enough credits: this generation costs {cost}, {offer.available} are available"
        )
        if no_free_credits_because is not None:
            details["noFreeCredits"] = no_free_credits_because
            message = f"{message}. {no_free_credits_because}"
        raise ResourceExhausted(message, details=details)
    if cost == 0:
        return topped_up, offer
    held = apply_entry(
        topped_up.account,
        entry_id=hold_entry_id(generation_id),
        kind=EntryKind.HOLD,
        amount=-cost,
        reason=f"reserved for generation {generation_id}",
        generation_id=generation_id,
        generation_type=generation_type.value,
    )
    return Change(account=held.account, entries=topped_up.entries + held.entries), offer


def settle(
    account: Account,
    *,
    generation_id: str,
    generation_type: str | None,
    cost: int,
    outcome: Status,
) -> Change:
    """Close a generation's hold: charge it on success, release it otherwise."""
    if cost == 0:
        return Change(account=account, entries=())
    if outcome is Status.COMPLETED:
        return apply_entry(
            account,
            entry_id=f"charge_{generation_id}",
            kind=EntryKind.CHARGE,
            amount=-cost,
            reason=f"generation {generation_id} completed",
            generation_id=generation_id,
            generation_type=generation_type,
        )
    return apply_entry(
        account,
        entry_id=f"release_{generation_id}",
        kind=EntryKind.RELEASE,
        amount=cost,
        reason=f"generation {generation_id} {outcome.value}",
        generation_id=generation_id,
        generation_type=generation_type,
    )


@dataclass(frozen=True)
class AuditedEntry:
    """What the audit needs of one stored ledger entry."""

    kind: EntryKind
    amount: int
    generation_id: str | None


def audit(account: Account, entries: Iterable[AuditedEntry]) -> list[str]:
    """Mismatches between an account and its ledger; empty when they agree."""
    balance = 0
    open_holds: dict[str, int] = {}
    closed: set[str] = set()
    for entry in entries:
        if entry.kind.moves_balance:
            balance += entry.amount
        if entry.kind is EntryKind.HOLD and entry.generation_id is not None:
            open_holds[entry.generation_id] = -entry.amount
        if entry.kind in {EntryKind.CHARGE, EntryKind.RELEASE} and entry.generation_id:
            closed.add(entry.generation_id)
    held = sum(cost for gid, cost in open_holds.items() if gid not in closed)
    problems = []
    if balance != account.balance:
        problems.append(f"balance is {account.balance} but the ledger sums to {balance}")
    if held != account.held:
        problems.append(f"held is {account.held} but open holds sum to {held}")
    if closed - set(open_holds):
        problems.append(f"charges or releases without a hold: {sorted(closed - set(open_holds))}")
    return problems


def parse_price_table(version: str, spec: str) -> PriceTable:
    """Parse ``type[.mode]=credits`` pairs, e.g. ``image=5,image.edit=3``."""
    prices: dict[tuple[GenerationType, Mode], int] = {}
    for pair in filter(None, (part.strip() for part in spec.split(","))):
        key, _, credits = pair.partition("=")
        type_name, _, mode_name = key.strip().partition(".")
        price = int(credits)
        if price < 0:
            raise ValueError(f"price of {key} must not be negative")
        prices[(GenerationType(type_name), Mode(mode_name or Mode.CREATE.value))] = price
    missing = {t for t in GenerationType if (t, Mode.CREATE) not in prices}
    if missing:
        raise ValueError(f"the price table has no price for {sorted(missing)}")
    return PriceTable(version=version, unit_prices=prices)
