"""Every query the code runs has a composite index in ``firestore.indexes.json``.

The emulator serves any query without indexes, while production refuses one
that needs a missing composite index. So the queries the use cases actually
send are recorded (a spy on the Firestore client, which still runs them) and
matched against the index definitions, as Firestore would.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.query import Query
from google.cloud.firestore_v1.types import StructuredQuery

from generations_live.adapters.config import settings
from generations_live.adapters.generations import GenerationStore
from generations_live.adapters.rollups import RollupStore
from generations_live.adapters.webhooks import WebhookStore
from generations_live.domain.models import GetLiveGenerationsRequest, GetUserUsageRequest
from generations_live.services import billing, maintenance, rollups, tracking
from harness.callers import member
from harness.emulators import ROOT

ASCENDING = "ASCENDING"
DESCENDING = "DESCENDING"


@dataclass(frozen=True)
class QueryShape:
    collection: str
    equality_fields: frozenset[str]
    order_by: tuple[tuple[str, str], ...]
    collection_group: bool = False


def shape_of(query: StructuredQuery) -> QueryShape:
    filters = []
    if query.where.composite_filter.filters:
        filters = [f.field_filter for f in query.where.composite_filter.filters]
    elif query.where.field_filter.field.field_path:
        filters = [query.where.field_filter]
    equal = StructuredQuery.FieldFilter.Operator.EQUAL
    order_by = tuple(
        (order.field.field_path, ASCENDING if order.direction == 1 else DESCENDING)
        for order in query.order_by
        if order.field.field_path != "__name__"  # every index ends with the document name
    )
    # Firestore orders by a range-filtered field first, implicitly if need be.
    for ranged in (f.field.field_path for f in filters if f.op != equal):
        if ranged not in {field for field, _ in order_by}:
            order_by = ((ranged, ASCENDING), *order_by)
    return QueryShape(
        collection=query.from_[0].collection_id,
        equality_fields=frozenset(f.field.field_path for f in filters if f.op == equal),
        order_by=order_by,
        collection_group=query.from_[0].all_descendants,
    )


def needs_composite_index(shape: QueryShape) -> bool:
    return bool(shape.order_by) and bool(shape.equality_fields)


def scope(shape: QueryShape) -> str:
    return "COLLECTION_GROUP" if shape.collection_group else "COLLECTION"


def index_serves(index: dict[str, Any], shape: QueryShape) -> bool:
    fields = [(field["fieldPath"], field.get("order")) for field in index["fields"]]
    prefix = fields[: len(shape.equality_fields)]
    suffix = fields[len(shape.equality_fields) :]
    return (
        index["collectionGroup"] == shape.collection
        and index.get("queryScope", "COLLECTION") == scope(shape)
        and {name for name, _ in prefix} == shape.equality_fields
        and tuple(suffix) == shape.order_by
    )


def single_field_served(overrides: list[dict[str, Any]], shape: QueryShape) -> bool:
    """Collection-scope single-field indexes exist by default; group scope must be enabled."""
    if not shape.order_by or not shape.collection_group:
        return True
    field, direction = shape.order_by[0]
    return any(
        override["collectionGroup"] == shape.collection
        and override["fieldPath"] == field
        and {"order": direction, "queryScope": "COLLECTION_GROUP"} in override["indexes"]
        for override in overrides
    )


def missing_indexes(shapes: set[QueryShape]) -> list[QueryShape]:
    definitions = json.loads((ROOT / "firestore.indexes.json").read_text())
    indexes, overrides = definitions["indexes"], definitions["fieldOverrides"]
    return [
        shape
        for shape in shapes
        if (needs_composite_index(shape) and not any(index_serves(i, shape) for i in indexes))
        or (not needs_composite_index(shape) and not single_field_served(overrides, shape))
    ]


NEWEST_FIRST = (("createdAt", DESCENDING),)
# The queries web clients send, which no Python code runs: the listener the
# README documents (web/live-feed.js, whose type and status filters the
# dashboard combines) and the dashboard's own history (web/dashboard/mine.js:
# users/{uid}/generations newest first, optionally one type; its startAfter and
# endAt cursors need no other index).
WEB_CLIENT_SHAPES = {
    QueryShape("live_generations", frozenset(), NEWEST_FIRST),
    QueryShape("live_generations", frozenset({"type"}), NEWEST_FIRST),
    QueryShape("live_generations", frozenset({"status"}), NEWEST_FIRST),
    QueryShape("live_generations", frozenset({"type", "status"}), NEWEST_FIRST),
    QueryShape("generations", frozenset(), NEWEST_FIRST),
    QueryShape("generations", frozenset({"type"}), NEWEST_FIRST),
    # The dashboard's bell: the unread count, and the newest notifications.
    QueryShape("notifications", frozenset({"read"}), NEWEST_FIRST),
    QueryShape("notifications", frozenset(), NEWEST_FIRST),
}


@pytest.fixture
def recorded_queries(monkeypatch: pytest.MonkeyPatch) -> set[QueryShape]:
    shapes: set[QueryShape] = set()
    original_stream = Query.stream

    def recording_stream(self: Query, *args: Any, **kwargs: Any) -> Any:
        shapes.add(shape_of(self._to_protobuf()))
        return original_stream(self, *args, **kwargs)

    monkeypatch.setattr(Query, "stream", recording_stream)
    return shapes


def test_every_query_the_code_runs_has_its_index(
    db: firestore.Client, recorded_queries: set[QueryShape]
) -> None:
    store = GenerationStore(db)
    filters = {"type": "image", "engine": "gemini", "status": "completed"}
    for size in range(len(filters) + 1):
        for names in itertools.combinations(filters, size):
            request = GetLiveGenerationsRequest.model_validate({n: filters[n] for n in names})
            tracking.live_generations(store, request)
    now = datetime.now(UTC)
    tracking.sweep_stuck_generations(store, settings(), now)
    caller = member("someone", {})
    billing.user_usage(store, caller, GetUserUsageRequest.model_validate({"days": 7}), now)
    billing.audit_ledgers(store)
    maintenance.cleanup_generations(store, settings(), now)
    rollup_store = RollupStore(db)
    for rollup in rollups.ROLLUPS:
        rollups.backfill(rollup_store, rollup, now.date(), now.date(), now, lag=timedelta(0))
        rollups.check(rollup_store, rollup, now.date(), now.date())
    store.mark_notifications_read("someone", None, 10)
    hooks = WebhookStore(db)
    hooks.events_not_fanned_out(now, 10)
    hooks.due_deliveries(now, 10)
    hooks.deliveries_of("an-event")
    hooks.attempts("an-endpoint", 5)
    assert len(recorded_queries) >= 20
    assert missing_indexes(recorded_queries) == []


def test_the_web_clients_queries_have_their_index() -> None:
    assert missing_indexes(WEB_CLIENT_SHAPES) == []


def test_the_dashboard_sends_the_listed_history_query() -> None:
    """A change to the history query in the page must show up in WEB_CLIENT_SHAPES."""
    source = (ROOT / "web" / "dashboard" / "mine.js").read_text()
    assert 'collection(db, "users", user.uid, "generations")' in source
    assert 'where("type", "==", historyType.value)' in source
    assert 'orderBy("createdAt", "desc")' in source


def test_the_check_catches_a_missing_collection_group_index() -> None:
    unindexed = QueryShape("ledger", frozenset(), (("amount", ASCENDING),), collection_group=True)
    assert missing_indexes({unindexed}) == [unindexed]


def test_the_check_catches_a_missing_index() -> None:
    unindexed = QueryShape(
        "live_generations", frozenset({"userName"}), (("createdAt", DESCENDING),)
    )
    wrong_direction = QueryShape(
        "live_generations", frozenset({"engine"}), (("createdAt", ASCENDING),)
    )
    assert set(missing_indexes({unindexed, wrong_direction})) == {unindexed, wrong_direction}
