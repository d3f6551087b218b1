from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest

from generations_live.domain import billing_analytics as ba
from generations_live.domain.billing_analytics import BillingDelta, LedgerFact

TODAY = date(2026, 3, 18)
KINDS = ("grant", "purchase", "daily_free", "adjustment", "hold", "charge", "release")
ZERO_CREDITS = dict.fromkeys(ba.CREDIT_COUNTERS, 0)


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def fact(
    kind: str, amount: int, day: date = TODAY, uid: str = "u1", generation_type: str | None = None
) -> LedgerFact:
    return LedgerFact(
        uid=uid, kind=kind, amount=amount, generation_type=generation_type, at=at(day)
    )


def window_of(delta: BillingDelta, days: int, today: date = TODAY) -> dict[str, Any]:
    return ba.billing_window(delta.days, delta.spenders, today, days)


def random_facts(rng: random.Random, count: int) -> list[LedgerFact]:
    """Facts over ~40 days around TODAY, a few users (so ties happen), mixed offsets."""
    offsets = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))]
    start = datetime.combine(TODAY - timedelta(days=35), time(), tzinfo=UTC)
    facts = []
    for _ in range(count):
        kind = rng.choice(KINDS)
        cost = rng.randint(1, 20)
        amount = {
            "charge": -cost,
            "hold": -cost,
            "adjustment": rng.randint(-30, 30),
        }.get(kind, cost)
        typed = kind in {"hold", "charge", "release"}
        moment = start + timedelta(minutes=rng.randrange(40 * 24 * 60))
        facts.append(
            LedgerFact(
                uid=f"u{rng.randrange(15)}",
                kind=kind,
                amount=amount,
                # None stands for entries written before the type was recorded.
                generation_type=rng.choice([*ba.TYPES, None]) if typed else None,
                at=moment.astimezone(rng.choice(offsets)),
            )
        )
    return facts


def reference_window(facts: list[LedgerFact], today: date, days: int) -> dict[str, Any]:
    """The window answer straight from raw facts, written independently of the rollups."""
    since = today - timedelta(days=days - 1)
    window = [since + timedelta(days=n) for n in range(days)]
    per_day = {d: dict(ZERO_CREDITS) for d in window}
    per_type = {t: {"charged": 0, "released": 0} for t in ba.TYPES}
    spent: Counter[str] = Counter()
    names = {
        "grant": "granted",
        "purchase": "purchased",
        "daily_free": "dailyFree",
        "adjustment": "adjusted",
    }
    for f in facts:
        day = f.at.astimezone(UTC).date()
        if day not in per_day:
            continue
        if f.kind == "charge":
            per_day[day]["charged"] += -f.amount
            spent[f.uid] += -f.amount
            if f.generation_type:
                per_type[f.generation_type]["charged"] += -f.amount
        elif f.kind == "release":
            per_day[day]["released"] += f.amount
            if f.generation_type:
                per_type[f.generation_type]["released"] += f.amount
        elif f.kind in names:
            per_day[day][names[f.kind]] += f.amount
    totals = {name: sum(row[name] for row in per_day.values()) for name in ba.CREDIT_COUNTERS}
    settled = totals["charged"] + totals["released"]
    top = sorted(spent.items(), key=lambda item: (-item[1], item[0]))[:10]
    return {
        "days": days,
        "since": since.isoformat(),
        "totals": totals,
        "perDay": [{"day": d.isoformat(), **row} for d, row in per_day.items()],
        "perType": per_type,
        "refundRate": totals["released"] / settled if settled else None,
        "topSpenders": [{"userId": uid, "credits": credits} for uid, credits in top],
    }


def test_fold_counts_each_kind_and_skips_holds() -> None:
    late_evening_in_new_york = datetime(2026, 3, 17, 21, 30, tzinfo=timezone(timedelta(hours=-4)))
    delta = ba.fold_ledger_entries(
        [
            fact("grant", 100),
            fact("purchase", 50),
            fact("daily_free", 10),
            fact("adjustment", -7),
            fact("hold", -5, generation_type="image"),
            fact("charge", -5, generation_type="image"),
            fact("hold", -8, generation_type="video", uid="u2"),
            fact("release", 8, generation_type="video", uid="u2"),
            LedgerFact("u3", "charge", -4, "text", late_evening_in_new_york),  # 01:30 UTC on 18th
        ]
    )
    day = TODAY.isoformat()
    assert list(delta.days) == [day]
    assert delta.days[day]["credits"] == {
        "charged": 9,
        "released": 8,
        "granted": 100,
        "purchased": 50,
        "dailyFree": 10,
        "adjusted": -7,
    }
    assert delta.days[day]["byType"] == {
        "image": {"charged": 5, "released": 0},
        "video": {"charged": 0, "released": 8},
        "audio": {"charged": 0, "released": 0},
        "text": {"charged": 4, "released": 0},
    }
    assert delta.spenders == {day: {"u1": 5, "u3": 4}}


def test_holds_alone_touch_no_day() -> None:
    assert ba.fold_ledger_entries([fact("hold", -5, generation_type="image")]) == BillingDelta(
        days={}, spenders={}
    )


def test_untyped_charges_count_in_totals_only() -> None:
    delta = ba.fold_ledger_entries([fact("charge", -6), fact("release", 2, generation_type="x")])
    assert delta.days[TODAY.isoformat()]["credits"]["charged"] == 6
    assert delta.days[TODAY.isoformat()]["credits"]["released"] == 2
    assert delta.days[TODAY.isoformat()]["byType"] == ba.empty_day()["byType"]
    assert delta.spenders == {TODAY.isoformat(): {"u1": 6}}


def test_unknown_kinds_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="refund"):
        ba.fold_ledger_entries([fact("refund", 5)])
    with pytest.raises(ValueError, match="timezone-aware"):
        LedgerFact("u1", "grant", 5, None, datetime(2026, 3, 18, 12))  # naive on purpose


def test_negative_adjustments_keep_their_sign_and_cancelling_ones_still_show_the_day() -> None:
    yesterday = TODAY - timedelta(days=1)
    delta = ba.fold_ledger_entries(
        [fact("adjustment", -5), fact("adjustment", 3), fact("adjustment", 4, yesterday)]
    )
    later = ba.fold_ledger_entries([fact("adjustment", -4, yesterday)])
    merged = ba.merge_deltas(delta, later)
    assert merged.days[TODAY.isoformat()]["credits"]["adjusted"] == -2
    assert merged.days[yesterday.isoformat()] == ba.empty_day()
    assert window_of(merged, 2)["totals"]["adjusted"] == -2


def test_empty_window_has_every_day_and_every_type_at_zero() -> None:
    answer = ba.billing_window({}, {}, TODAY, 7)
    assert answer["since"] == "2026-03-12"
    assert answer["totals"] == ZERO_CREDITS
    assert [row["day"] for row in answer["perDay"]] == [f"2026-03-{d}" for d in range(12, 19)]
    assert all(row == {"day": row["day"], **ZERO_CREDITS} for row in answer["perDay"])
    assert answer["perType"] == {t: {"charged": 0, "released": 0} for t in ba.TYPES}
    assert answer["refundRate"] is None
    assert answer["topSpenders"] == []


def test_refunds_only_give_a_refund_rate_of_one() -> None:
    delta = ba.fold_ledger_entries([fact("release", 5, generation_type="audio")])
    answer = window_of(delta, 1)
    assert answer["refundRate"] == 1.0
    assert answer["perType"]["audio"] == {"charged": 0, "released": 5}
    assert answer["topSpenders"] == []


def test_window_includes_its_first_day_and_today_and_nothing_else() -> None:
    since = TODAY - timedelta(days=6)
    facts = [
        fact("charge", -1, since - timedelta(days=1), uid="before"),
        fact("charge", -2, since, uid="first"),
        fact("charge", -4, TODAY, uid="today"),
        fact("charge", -8, TODAY + timedelta(days=1), uid="after"),
    ]
    answer = window_of(ba.fold_ledger_entries(facts), 7)
    assert answer["totals"]["charged"] == 6
    assert (answer["perDay"][0]["charged"], answer["perDay"][-1]["charged"]) == (2, 4)
    assert [s["userId"] for s in answer["topSpenders"]] == ["today", "first"]
    assert window_of(ba.fold_ledger_entries(facts), 1)["totals"]["charged"] == 4


def test_window_length_is_validated() -> None:
    assert ba.billing_window({}, {}, TODAY, 90)["since"] == "2025-12-19"
    for days in (0, -1, 91):
        with pytest.raises(ValueError, match="between 1 and 90"):
            ba.billing_window({}, {}, TODAY, days)


def test_top_spenders_sum_the_window_break_ties_by_user_id_and_keep_ten() -> None:
    facts = [fact("charge", -5, uid=f"user{n:02}") for n in range(12)]
    facts += [fact("charge", -3, TODAY - timedelta(days=1), uid="user11")]  # 8 over two days
    facts += [fact("charge", -3, TODAY - timedelta(days=9), uid="user10")]  # outside 7 days
    top = window_of(ba.fold_ledger_entries(facts), 7)["topSpenders"]
    assert top[0] == {"userId": "user11", "credits": 8}
    assert [s["userId"] for s in top[1:]] == [f"user{n:02}" for n in range(9)]
    assert len(top) == 10


def test_recount_includes_entries_committed_exactly_at_as_of() -> None:
    facts = [fact("grant", 1), fact("grant", 2, TODAY + timedelta(days=1))]
    assert ba.recount_billing(facts, at(TODAY)) == ba.fold_ledger_entries(facts[:1])


@pytest.mark.parametrize("seed", [1, 2, 3, 17, 2026])
def test_rollups_folded_in_chunks_match_a_recount_and_the_raw_ledger(seed: int) -> None:
    rng = random.Random(seed)
    facts = sorted(random_facts(rng, rng.randint(50, 400)), key=lambda f: f.at)
    as_of = rng.choice(facts).at
    folded = [f for f in facts if f.at <= as_of]
    # The job folds whatever was committed since its last run: cut the history
    # into a random number of runs, some of them empty.
    cuts = sorted(rng.choices(range(len(folded) + 1), k=rng.randint(0, 8)))
    runs = [folded[i:j] for i, j in zip([0, *cuts], [*cuts, len(folded)], strict=True)]
    rollups = BillingDelta(days={}, spenders={})
    for run in runs:
        rollups = ba.merge_deltas(rollups, ba.fold_ledger_entries(run))

    recount = ba.recount_billing(facts, as_of)
    assert rollups == recount
    shuffled = rng.sample(folded, len(folded))  # folding does not depend on order
    assert ba.fold_ledger_entries(shuffled) == recount

    today = as_of.astimezone(UTC).date()
    for days in (1, 7, rng.randint(2, 90), 90):
        answer = window_of(rollups, days, today)
        assert answer == window_of(recount, days, today)
        assert answer == reference_window(folded, today, days)
