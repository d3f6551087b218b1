"""The tracking use cases: start a generation, report its outcome, read the
feed, sweep generations stuck in processing.

Starting and finishing a generation also reserve, charge or release its
credits and count its usage, all in the generation's own transaction. Each use
case takes its store, caller, settings and clock as arguments, so tests drive
them against the emulator with any time they like.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from generations_live.adapters.generations import GenerationStore, LiveQuery, StoreTransaction
from generations_live.domain import credits, documents, usage
from generations_live.domain.errors import FailedPrecondition, NotFound
from generations_live.domain.identity import Caller
from generations_live.domain.lifecycle import Status, plan_transition
from generations_live.domain.models import (
    GetLiveGenerationsRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.domain.settings import Settings

SWEEPER = Caller(
    uid="system-sweeper", display_name="Sweeper", email=None, is_admin=False, is_worker=True
)
SWEEP_BATCH = 100
TIMEOUT_ERROR_CODE = "timeout"


def track_generation(
    store: GenerationStore,
    caller: Caller,
    request: TrackGenerationRequest,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """Record a generation that has just started and reserve its cost.

    Idempotent per ``requestId``: a retry answers the first attempt's
    generation and writes nothing.
    """
    if request.request_id is not None:
        generation_id = documents.generation_id_for_request(caller.uid, request.request_id)
    else:
        generation_id = store.new_generation_id()
    prices = settings.prices
    cost = prices.cost(request.type, request.mode, request.batch_size)
    fields = documents.new_generation(
        caller,
        request,
        engine=request.engine or settings.default_engines[request.type],
        pricing=documents.Pricing(cost=cost, price_version=prices.version),
        now=now,
        retention=settings.retention,
    )
    today = now.date()

    def start(tx: StoreTransaction) -> dict[str, Any]:
        existing = tx.private_generation(caller.uid, generation_id)
        account = tx.account(caller.uid)
        if existing is not None:
            return _start_answer(generation_id, Status(existing["status"]), existing, account)
        usage_day = tx.usage_day(caller.uid, today)
        change, offer = credits.reserve(
            account,
            generation_id=generation_id,
            generation_type=request.type,
            cost=cost,
            policy=settings.credit_policy,
            price_version=prices.version,
            today=today,
        )
        tx.create_generation(caller.uid, generation_id, fields)
        tx.save_account(caller.uid, change)
        tx.save_usage_day(
            caller.uid, today, usage.record_start(usage_day, today, request.type, request.prompt)
        )
        answer = _start_answer(generation_id, Status.PROCESSING, fields.private, change.account)
        if offer.soft_blocked:
            answer["warning"] = {
                "code": credits.LOW_CREDITS_WARNING,
                "message": f"{offer.shortfall} credits short: allowed within the overdraft",
                "shortfall": offer.shortfall,
            }
        return answer

    if request.request_id is None:
        return store.run(start)
    return store.run_claimed(f"start/{generation_id}", start)


def _start_answer(
    generation_id: str, status: Status, private: dict[str, Any], account: credits.Account
) -> dict[str, Any]:
    return {
        "generationId": generation_id,
        "status": status.value,
        "cost": private.get("cost", 0),
        "priceVersion": private.get("priceVersion"),
        "balance": account.balance,
        "available": account.available,
    }


def update_generation_status(
    store: GenerationStore, caller: Caller, request: UpdateGenerationStatusRequest, now: datetime
) -> dict[str, Any]:
    """Move a generation to a terminal status, charging or releasing its credits.

    Repeating the status it already has is a success that changes nothing.
    """

    def finish(tx: StoreTransaction) -> dict[str, Any]:
        public = tx.public_generation(request.generation_id)
        if public is None:
            raise NotFound(
                f"no generation with id {request.generation_id!r}",
                details={"field": "generationId"},
            )
        owner_id = str(public["userId"])
        plan = plan_transition(
            current=Status(public["status"]),
            requested=request.status,
            caller=caller,
            owner_id=owner_id,
        )
        if not plan.changes_state:
            return {"generationId": request.generation_id, "status": request.status.value}
        private = tx.private_generation(owner_id, request.generation_id) or {}
        account = tx.account(owner_id)
        usage_day = date.fromisoformat(private.get("usageDay") or now.date().isoformat())
        day_usage = tx.usage_day(owner_id, usage_day)
        cost = int(private.get("cost", 0))
        settled = credits.settle(
            account,
            generation_id=request.generation_id,
            generation_type=public.get("type"),
            cost=cost,
            outcome=request.status,
        )
        charged = cost if request.status is Status.COMPLETED else 0
        tx.finish_generation(
            owner_id,
            request.generation_id,
            documents.terminal_update(request, public.get("createdAt"), now),
            stored_public=public,
        )
        if settled.entries:
            tx.save_account(owner_id, settled)
        tx.save_usage_day(
            owner_id,
            usage_day,
            usage.record_outcome(day_usage, usage_day, request.status, charged),
        )
        return {"generationId": request.generation_id, "status": request.status.value}

    # Reports of one generation take turns: a worker's retry, the owner's
    # cancel and the sweeper may all arrive at once.
    return store.run_claimed(f"finish/{request.generation_id}", finish)


def live_generations(
    store: GenerationStore, request: GetLiveGenerationsRequest
) -> list[dict[str, Any]]:
    """The newest public generations with exactly the fields a listener sees."""
    query = LiveQuery(
        limit=request.limit, type=request.type, engine=request.engine, status=request.status
    )
    return [documents.public_view(gid, fields) for gid, fields in store.live_generations(query)]


def sweep_stuck_generations(
    store: GenerationStore, settings: Settings, now: datetime, *, max_batches: int = 50
) -> int:
    """Fail generations processing longer than the timeout; returns how many.

    Goes through the same path as a worker's report, so their credits are
    released. A generation a worker finishes meanwhile is left as it is.
    """
    cutoff = now - settings.processing_timeout
    swept = 0
    for _ in range(max_batches):
        stuck = store.stuck_generations(cutoff, SWEEP_BATCH)
        for generation_id in stuck:
            report = UpdateGenerationStatusRequest.model_validate(
                {
                    "generationId": generation_id,
                    "status": Status.FAILED.value,
                    "error": {
                        "code": TIMEOUT_ERROR_CODE,
                        "message": f"still processing after {settings.processing_timeout}",
                    },
                }
            )
            try:
                update_generation_status(store, SWEEPER, report, now)
                swept += 1
            except FailedPrecondition:
                continue  # finished by its worker since the query
        if len(stuck) < SWEEP_BATCH:
            break
    return swept
