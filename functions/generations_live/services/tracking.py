"""The tracking use cases: start a generation, report its outcome, read the
feed, sweep generations stuck in processing.

Starting and finishing a generation also reserve, charge or release its
credits and count its usage, all in the generation's own transaction. Each use
case takes its store, caller, settings and clock as arguments, so tests drive
them against the emulator with any time they like.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from firebase_functions import logger

from generations_live.adapters.generations import GenerationStore, LiveQuery, StoreTransaction
from generations_live.domain import credits, documents, limits, outputs, usage
from generations_live.domain.documents import GenerationDocuments
from generations_live.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from generations_live.domain.identity import Caller
from generations_live.domain.lifecycle import (
    GenerationType,
    Status,
    Visibility,
    authorize_report,
    plan_transition,
)
from generations_live.domain.models import (
    GetLiveGenerationsRequest,
    TrackGenerationRequest,
    UpdateGenerationStatusRequest,
)
from generations_live.domain.settings import OutputPolicy, Settings

if TYPE_CHECKING:
    from generations_live.domain.previews import Preview

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
    if request.engine is not None and request.engine not in settings.engines:
        message = f"unknown engine {request.engine!r}: one of {', '.join(sorted(settings.engines))}"
        raise InvalidArgument(
            message, details={"errors": [{"field": "engine", "message": message}]}
        )
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
        if request.regenerated_from is not None and (
            tx.private_generation(caller.uid, request.regenerated_from) is None
        ):
            raise NotFound(
                f"you have no generation with id {request.regenerated_from!r} to regenerate",
                details={"field": "regeneratedFrom"},
            )
        usage_day = tx.usage_day(caller.uid, today)
        # Limits first: a refused start writes nothing, and costs no credits.
        bucket = _admit_start(account, caller, settings, now)
        no_free_credits = settings.free_credits.refusal(caller)
        change, offer = credits.reserve(
            replace(account, processing=account.processing + 1, start_bucket=bucket),
            generation_id=generation_id,
            generation_type=request.type,
            cost=cost,
            policy=settings.credit_policy if no_free_credits is None else credits.NO_FREE_CREDITS,
            price_version=prices.version,
            today=today,
            no_free_credits_because=no_free_credits,
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

    _refuse_early(store, caller, settings, now, generation_id, retry=request.request_id is not None)
    if request.request_id is None:
        return store.run(start)
    return store.run_claimed(f"start/{generation_id}", start)


def _admit_start(
    account: credits.Account, caller: Caller, settings: Settings, now: datetime
) -> limits.StartBucket:
    tier = limits.tier_for(caller, settings.rate_limits, paid_or_granted=account.paid_or_granted)
    return limits.admit_start(account.start_bucket, account.processing, tier, now)


def _refuse_early(
    store: GenerationStore,
    caller: Caller,
    settings: Settings,
    now: datetime,
    generation_id: str,
    *,
    retry: bool,
) -> None:
    """Refuse a start over the limits from a plain read, before any transaction.

    A user flooding starts would otherwise queue every call on their own billing
    document's lock; refused this way, each costs one read and holds nothing.
    The transaction checks again, so this only ever refuses sooner. A resent
    start (``requestId``) that already went through is let by: it answers the
    first attempt and spends nothing.
    """
    try:
        _admit_start(store.account(caller.uid), caller, settings, now)
    except ResourceExhausted:
        if retry and store.generation_started(caller.uid, generation_id):
            return
        raise


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
    store: GenerationStore,
    caller: Caller,
    request: UpdateGenerationStatusRequest,
    now: datetime,
    *,
    output_policy: OutputPolicy | None = None,
) -> dict[str, Any]:
    """Move a generation to a terminal status, charging or releasing its credits,
    and record what a completed one produced (checked against ``output_policy``).

    Repeating the status it already has is a success that changes nothing.
    Outputs that break a rule are ``invalid-argument`` and nothing is written.
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
        if request.outputs is None:
            settle_generation(tx, owner_id=owner_id, public=public, report=request, now=now)
        else:
            _complete_with_outputs(
                tx,
                owner_id=owner_id,
                public=public,
                report=request,
                preview=preview,
                policy=output_policy or OutputPolicy(),
                now=now,
            )
        return {"generationId": request.generation_id, "status": request.status.value}

    # Who may report is settled before the claim: a stranger repeating refused
    # reports on someone else's generation (ids are public) never holds its lock.
    # Workers and admins may report on any generation: no read is needed for them.
    if not (caller.is_worker or caller.is_admin):
        owner_id = owner_of(store, request.generation_id)
        authorize_report(caller=caller, owner_id=owner_id, requested=request.status)
    # Decoded once, outside the transaction (which may run again) and any lock.
    preview = outputs.decode_preview(request.preview) if request.preview is not None else None
    # Reports of one generation take turns: a worker's retry, the owner's
    # cancel and the sweeper may all arrive at once.
    return store.run_claimed(f"finish/{request.generation_id}", finish)


def _complete_with_outputs(
    tx: StoreTransaction,
    *,
    owner_id: str,
    public: dict[str, Any],
    report: UpdateGenerationStatusRequest,
    preview: Preview | None,
    policy: OutputPolicy,
    now: datetime,
) -> None:
    """Settle a completed generation together with its outputs and preview."""
    generation_id = report.generation_id
    stored = outputs.check_outputs(
        report.outputs or [],
        generation_type=GenerationType(public["type"]),
        batch_size=int(public.get("batchSize") or 1),
        owner_id=owner_id,
        generation_id=generation_id,
        policy=policy,
    )
    private = tx.private_generation(owner_id, generation_id) or {}
    visibility = Visibility(private.get("visibility", Visibility.PUBLIC.value))
    completion = outputs.Completion(
        outputs=stored, preview=preview, text_excerpt=outputs.text_excerpt(stored)
    )
    public_fields, private_fields = completion.summary(visibility)
    settle_generation(
        tx,
        owner_id=owner_id,
        public=public,
        report=report,
        now=now,
        also=GenerationDocuments(public=public_fields, private=private_fields),
        outputs=stored,
    )
    tx.save_outputs(
        owner_id,
        generation_id,
        outputs=stored,
        preview=preview,
        visibility=visibility.value,
        expire_at=public.get(documents.RETENTION_FIELD),
    )


def owner_of(store: GenerationStore, generation_id: str) -> str:
    """The uid of the generation's owner (it never changes), read before any lock."""
    owner_id = store.generation_owner(generation_id)
    if owner_id is None:
        raise NotFound(
            f"no generation with id {generation_id!r}", details={"field": "generationId"}
        )
    return owner_id


def settle_generation(
    tx: StoreTransaction,
    *,
    owner_id: str,
    public: dict[str, Any],
    report: UpdateGenerationStatusRequest,
    now: datetime,
    also: GenerationDocuments | None = None,
    outputs: list[dict[str, Any]] | None = None,
) -> None:
    """Move a processing generation to the report's terminal status in ``tx``:
    both halves (with ``also``'s field changes), its end event, the charge or
    release of its hold and the owner's usage. Reads first, then writes."""
    generation_id = report.generation_id
    private = tx.private_generation(owner_id, generation_id) or {}
    stored = tx.account(owner_id)
    # Accounts older than the count may have none to take back: never below 0.
    account = replace(stored, processing=max(0, stored.processing - 1))
    usage_day = date.fromisoformat(private.get("usageDay") or now.date().isoformat())
    day_usage = tx.usage_day(owner_id, usage_day)
    cost = int(private.get("cost", 0))
    settled = credits.settle(
        account,
        generation_id=generation_id,
        generation_type=public.get("type"),
        cost=cost,
        outcome=report.status,
    )
    charged = cost if report.status is Status.COMPLETED else 0
    update = documents.terminal_update(report, public.get("createdAt"), now)
    if also is not None:
        update = GenerationDocuments(
            public={**update.public, **also.public}, private={**update.private, **also.private}
        )
    tx.finish_generation(owner_id, generation_id, update, stored_public=public, outputs=outputs)
    tx.save_account(owner_id, settled)
    tx.save_usage_day(
        owner_id, usage_day, usage.record_outcome(day_usage, usage_day, report.status, charged)
    )


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
    released. A generation a worker finishes meanwhile is left as it is; one
    that cannot be settled is logged and passed over, and once the rest are
    settled the first such error is raised.
    """
    cutoff = now - settings.processing_timeout
    swept = 0
    # Generations that could not be settled stay first in the query: skip them.
    errors: list[Exception] = []
    for _ in range(max_batches):
        stuck = store.stuck_generations(cutoff, SWEEP_BATCH, skip=len(errors))
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
            except Exception as error:  # one generation never stops the run
                errors.append(error)
                logger.error(
                    "a stuck generation was not settled",
                    generationId=generation_id,
                    error=repr(error),
                )
        if len(stuck) < SWEEP_BATCH:
            break
    if errors:
        # The rest are settled; the run still fails, so the scheduler shows it.
        raise errors[0]
    return swept
