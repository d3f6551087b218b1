"""Admin billing analytics: ledger entries folded into per-day rollups, and the
window ``getBillingAnalytics`` answers. Pure rules: no I/O.

A scheduled job folds each new ledger entry once into the rollup of its UTC day
by *adding* a delta (Firestore increments), so a rollup is always a sum of
deltas. Every day a delta touches carries every counter, zeros included: a
delta, a sum of deltas and a brute-force recount then share one shape and
compare with ``==``.

Holds are not counted: they are reservations that a charge or release closes,
and counting both would count a generation twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from generations_live.domain.credits import EntryKind
from generations_live.domain.lifecycle import GenerationType
from generations_live.domain.windows import sum_counters, window_days

TOP_SPENDERS = 10
TYPES = tuple(t.value for t in GenerationType)
CREDIT_COUNTERS = ("charged", "released", "granted", "purchased", "dailyFree", "adjusted")
# The credit counter each balance-moving kind adds to, and the sign that makes it
# positive (``adjusted`` keeps the adjustment's own sign).
_COUNTER_OF_KIND = {
    EntryKind.CHARGE: ("charged", -1),
    EntryKind.RELEASE: ("released", 1),
    EntryKind.GRANT: ("granted", 1),
    EntryKind.PURCHASE: ("purchased", 1),
    EntryKind.DAILY_FREE: ("dailyFree", 1),
    EntryKind.ADJUSTMENT: ("adjusted", 1),
}


@dataclass(frozen=True)
class LedgerFact:
    """What the analytics need of one ledger entry; ``at`` is its commit time."""

    uid: str
    kind: str
    amount: int
    generation_type: str | None
    at: datetime

    def __post_init__(self) -> None:
        # A naive time would be read as local time and land on the wrong day.
        if self.at.tzinfo is None:
            raise ValueError(f"ledger fact time must be timezone-aware, got {self.at!r}")


@dataclass(frozen=True)
class BillingDelta:
    """Counters to add: ``days[day]`` to a day's rollup, ``spenders[day][uid]``
    to the credits that user was charged that day."""

    days: dict[str, dict[str, Any]]
    spenders: dict[str, dict[str, int]]


def empty_day() -> dict[str, Any]:
    return {
        "credits": dict.fromkeys(CREDIT_COUNTERS, 0),
        "byType": {t: {"charged": 0, "released": 0} for t in TYPES},
    }


def fold_ledger_entries(facts: Iterable[LedgerFact]) -> BillingDelta:
    """The rollup delta of some ledger entries, by UTC day.

    Raises ``ValueError`` on an unknown kind: a new kind needs a decision on
    how it counts, not a silent zero. A charge or release without a known
    generation type counts in ``credits`` only.
    """
    days: dict[str, dict[str, Any]] = {}
    spenders: dict[str, dict[str, int]] = {}
    for fact in facts:
        kind = EntryKind(fact.kind)
        if kind is EntryKind.HOLD:
            continue
        counter, sign = _COUNTER_OF_KIND[kind]
        credits = sign * fact.amount
        day = fact.at.astimezone(UTC).date().isoformat()
        rollup = days.setdefault(day, empty_day())
        rollup["credits"][counter] += credits
        if counter in {"charged", "released"} and fact.generation_type in TYPES:
            rollup["byType"][fact.generation_type][counter] += credits
        if kind is EntryKind.CHARGE and credits > 0:
            by_user = spenders.setdefault(day, {})
            by_user[fact.uid] = by_user.get(fact.uid, 0) + credits
    return BillingDelta(days=days, spenders=spenders)


def recount_billing(facts: Iterable[LedgerFact], as_of: datetime) -> BillingDelta:
    """Everything the ledger held at ``as_of``, folded from scratch."""
    return fold_ledger_entries(fact for fact in facts if fact.at <= as_of)


def merge_deltas(a: BillingDelta, b: BillingDelta) -> BillingDelta:
    return BillingDelta(
        days=sum_counters(a.days, b.days), spenders=sum_counters(a.spenders, b.spenders)
    )


def billing_window(
    day_docs: Mapping[str, Mapping[str, Any]],
    spenders_by_day: Mapping[str, Mapping[str, int]],
    today: date,
    days: int,
) -> dict[str, Any]:
    """The answer of ``getBillingAnalytics``: the ``days`` UTC days ending today.

    Missing days and counters read as zero; days outside the window are ignored.
    """
    window = window_days(today, days)
    totals: Counter[str] = Counter(dict.fromkeys(CREDIT_COUNTERS, 0))
    per_type = {t: Counter({"charged": 0, "released": 0}) for t in TYPES}
    spent: Counter[str] = Counter()
    per_day = []
    for day in window:
        doc = day_docs.get(day, {})
        credits = {name: doc.get("credits", {}).get(name, 0) for name in CREDIT_COUNTERS}
        totals.update(credits)
        per_day.append({"day": day, **credits})
        for generation_type, counts in per_type.items():
            stored = doc.get("byType", {}).get(generation_type, {})
            counts.update({name: stored.get(name, 0) for name in ("charged", "released")})
        spent.update(spenders_by_day.get(day, {}))
    settled = totals["charged"] + totals["released"]
    ranked = sorted(
        ((uid, credits) for uid, credits in spent.items() if credits > 0),
        key=lambda item: (-item[1], item[0]),
    )
    return {
        "days": days,
        "since": window[0],
        "totals": dict(totals),
        "perDay": per_day,
        "perType": {t: dict(counts) for t, counts in per_type.items()},
        "refundRate": totals["released"] / settled if settled else None,
        "topSpenders": [
            {"userId": uid, "credits": credits} for uid, credits in ranked[:TOP_SPENDERS]
        ],
    }
