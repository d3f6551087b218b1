"""Every deployed function runs within chosen bounds (the manifest the deploy reads)."""

from __future__ import annotations

import pytest

from generations_live.adapters.claims import ClaimPolicy
from generations_live.entrypoints.deployment import CALLABLE_TIMEOUT_SECONDS
from generations_live.entrypoints.registry import DEPLOYED, Deployed, Trigger


@pytest.mark.parametrize("deployed", DEPLOYED.values(), ids=list(DEPLOYED))
def test_every_function_has_memory_time_instance_and_concurrency_bounds(
    deployed: Deployed,
) -> None:
    endpoint = deployed.function.__firebase_endpoint__  # type: ignore[attr-defined]
    assert endpoint.availableMemoryMb in {256, 512}
    assert 0 < endpoint.timeoutSeconds <= 540
    assert endpoint.maxInstances is not None
    assert endpoint.concurrency is not None
    assert endpoint.cpu == 1
    if deployed.trigger is Trigger.CALLABLE:
        assert endpoint.timeoutSeconds == CALLABLE_TIMEOUT_SECONDS
    if deployed.trigger is Trigger.SCHEDULE:
        # One run at a time: a second would only contend with the first.
        assert (endpoint.maxInstances, endpoint.concurrency) == (1, 1)


def test_a_callable_ends_before_its_claim_could_be_taken_over() -> None:
    policy = ClaimPolicy()
    assert policy.wait.total_seconds() < CALLABLE_TIMEOUT_SECONDS
    assert policy.lease.total_seconds() > CALLABLE_TIMEOUT_SECONDS
