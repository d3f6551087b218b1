"""The callable edge: the error map, request parsing, JSON output, the registry."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from firebase_functions import https_fn

from generations_live.domain import errors
from generations_live.domain.models import GetLiveGenerationsRequest, TrackGenerationRequest
from generations_live.entrypoints import edge
from generations_live.entrypoints.registry import DEPLOYED, Trigger, names
from harness.emulators import ROOT

Code = https_fn.FunctionsErrorCode


def every_subclass(base: type[errors.DomainError]) -> list[type[errors.DomainError]]:
    found = []
    for child in base.__subclasses__():
        found += [child, *every_subclass(child)]
    return found


def test_every_domain_error_maps_to_a_declared_code() -> None:
    # Subclasses declared anywhere in the package (RollupBusy in the adapters) count too.
    import generations_live.adapters.rollups  # noqa: F401, PLC0415

    subclasses = every_subclass(errors.DomainError)
    assert len(subclasses) >= 8
    for error_class in subclasses:
        assert edge.error_code(error_class("x")) is not Code.INTERNAL, error_class


def test_a_new_subclass_answers_with_its_parents_code() -> None:
    class QuotaSpent(errors.ResourceExhausted):
        pass

    class OwnersOnly(errors.PermissionDenied):
        pass

    assert edge.error_code(QuotaSpent("no more")) is Code.RESOURCE_EXHAUSTED
    refused = edge.to_https_error(OwnersOnly("yours only", details={"field": "id"}))
    assert refused.code is Code.PERMISSION_DENIED
    assert (refused.message, refused.details) == ("yours only", {"field": "id"})


def test_a_bare_domain_error_is_a_bug_and_answers_internal() -> None:
    assert edge.error_code(errors.DomainError("which code?")) is Code.INTERNAL


def test_parse_request_names_every_offending_field() -> None:
    with pytest.raises(errors.InvalidArgument) as refused:
        edge.parse_request(TrackGenerationRequest, {"type": "hologram", "extra": 1})
    assert refused.value.details is not None
    fields = sorted(problem["field"] for problem in refused.value.details["errors"])
    assert fields == ["extra", "prompt", "type"]
    assert "type:" in refused.value.message


@pytest.mark.parametrize("data", [None, {}])
def test_parse_request_reads_no_data_as_an_empty_object(data: Any) -> None:
    assert edge.parse_request(GetLiveGenerationsRequest, data).limit == 50


@pytest.mark.parametrize(
    ("data", "field"),
    [({"\x80": "\ud800"}, "\x80"), ({"é": {"\ud800": 1}}, "é.\\ud800")],
)
def test_a_non_ascii_path_to_unencodable_text_is_named_not_internal(data: Any, field: str) -> None:
    with pytest.raises(errors.InvalidArgument) as refused:
        edge.parse_request(GetLiveGenerationsRequest, data)
    assert refused.value.details is not None
    assert refused.value.details["errors"][0]["field"] == field


@pytest.mark.parametrize("data", [[], "text", 7])
def test_parse_request_refuses_data_that_is_not_an_object(data: Any) -> None:
    with pytest.raises(errors.InvalidArgument) as refused:
        edge.parse_request(GetLiveGenerationsRequest, data)
    assert refused.value.details is not None
    assert refused.value.details["errors"][0]["field"] == "data"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"prompt": "ok", "tags": ["a", "b\ud800"]}, ("tags.1", "UTF-8")),
        ({"\udc00key": 1}, ("\udc00key", "UTF-8")),
        ("\ud800", ("data", "UTF-8")),
        ({"a": [[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}, ("a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0", "nest")),
        ([[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]], ("0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0", "nest")),
    ],
)
def test_request_problem_names_the_first_unreadable_or_too_deep_field(
    data: Any, problem: tuple[str, str]
) -> None:
    found = edge.request_problem(data)
    assert found is not None
    assert found[0] == problem[0]
    assert problem[1] in found[1]


def test_request_problem_accepts_every_real_request_shape() -> None:
    report = {"generationId": "g", "status": "failed", "error": {"code": "oom", "message": "é"}}
    assert edge.request_problem(report) is None
    assert edge.request_problem({"a": [[[[[[[[[[[[[[[]]]]]]]]]]]]]]]}) is None  # 16 levels
    assert edge.request_problem(None) is None


def test_to_json_turns_timestamps_into_utc_iso_strings_everywhere() -> None:
    at = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
    elsewhere = datetime(2026, 12, 3, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    answer = {"at": at, "nested": [{"at": at}, (1, "x", None)], "other": elsewhere}
    assert edge.to_json(answer) == {
        "at": "2026-12-03T08:30:00Z",
        "nested": [{"at": "2026-12-03T08:30:00Z"}, [1, "x", None]],
        "other": "2026-12-03T09:30:00+01:00",
    }


def test_every_callable_names_a_request_model() -> None:
    callables = [deployed for deployed in DEPLOYED.values() if deployed.trigger is Trigger.CALLABLE]
    assert len(callables) == 18
    for deployed in callables:
        assert deployed.handler is not None
        model = edge.request_model(deployed.handler)
        assert model.__name__.endswith("Request"), deployed.name


def test_a_handler_without_a_model_is_refused() -> None:
    def lookAtMe(caller: Any, request: int) -> dict[str, Any]:  # noqa: N802
        del caller, request
        return {}

    with pytest.raises(TypeError, match="lookAtMe"):
        edge.request_model(lookAtMe)


def test_main_exports_exactly_the_registry() -> None:
    sys.path.insert(0, str(ROOT / "functions"))
    try:
        import main  # noqa: PLC0415
    finally:
        sys.path.remove(str(ROOT / "functions"))
    assert main.__all__ == list(DEPLOYED)
    for name, deployed in DEPLOYED.items():
        assert getattr(main, name) is deployed.function
        assert deployed.function.__firebase_endpoint__.entryPoint == name
    assert names(Trigger.HTTPS) == ["paymentWebhook"]
    assert names(Trigger.SCHEDULE) == [
        "sweepStuckGenerations",
        "cleanupGenerations",
        "deliverWebhooks",
        "refreshFeedSnapshots",
        "rollupAnalytics",
    ]
    assert names(Trigger.EVENT) == ["dispatchWebhookEvent", "maintainFeedSnapshots"]
    assert names(Trigger.TASK) == ["rebuildFeedSnapshot"]
