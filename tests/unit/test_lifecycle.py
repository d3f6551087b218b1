from __future__ import annotations

import pytest

from generations_live.domain.errors import FailedPrecondition, PermissionDenied
from generations_live.domain.identity import Caller
from generations_live.domain.lifecycle import Status, plan_transition

OWNER = Caller(uid="owner", display_name="O", email=None, is_admin=False, is_worker=False)
STRANGER = Caller(uid="stranger", display_name="S", email=None, is_admin=False, is_worker=False)
WORKER = Caller(uid="worker", display_name="W", email=None, is_admin=False, is_worker=True)
ADMIN = Caller(uid="admin", display_name="A", email=None, is_admin=True, is_worker=False)
TERMINAL = [Status.COMPLETED, Status.FAILED, Status.CANCELED]


@pytest.mark.parametrize("caller", [WORKER, ADMIN])
@pytest.mark.parametrize("target", TERMINAL)
def test_privileged_callers_finish_processing_generations(caller: Caller, target: Status) -> None:
    plan = plan_transition(current=Status.PROCESSING, requested=target, caller=caller, owner_id="o")
    assert plan.changes_state
    assert plan.target is target


@pytest.mark.parametrize("status", TERMINAL)
def test_repeating_a_terminal_status_changes_nothing(status: Status) -> None:
    plan = plan_transition(current=status, requested=status, caller=WORKER, owner_id="owner")
    assert not plan.changes_state


@pytest.mark.parametrize(
    ("current", "requested"),
    [(c, r) for c in TERMINAL for r in [*TERMINAL, Status.PROCESSING] if c is not r],
)
def test_terminal_states_never_change(current: Status, requested: Status) -> None:
    with pytest.raises(FailedPrecondition):
        plan_transition(current=current, requested=requested, caller=ADMIN, owner_id="owner")


def test_processing_cannot_be_requested_again() -> None:
    with pytest.raises(FailedPrecondition):
        plan_transition(
            current=Status.PROCESSING, requested=Status.PROCESSING, caller=WORKER, owner_id="o"
        )


def test_owner_may_cancel_only() -> None:
    plan = plan_transition(
        current=Status.PROCESSING, requested=Status.CANCELED, caller=OWNER, owner_id="owner"
    )
    assert plan.changes_state
    for target in (Status.COMPLETED, Status.FAILED):
        with pytest.raises(PermissionDenied):
            plan_transition(
                current=Status.PROCESSING, requested=target, caller=OWNER, owner_id="owner"
            )


def test_owner_cannot_cancel_a_finished_generation() -> None:
    with pytest.raises(FailedPrecondition):
        plan_transition(
            current=Status.COMPLETED, requested=Status.CANCELED, caller=OWNER, owner_id="owner"
        )


@pytest.mark.parametrize("target", TERMINAL)
def test_strangers_are_refused(target: Status) -> None:
    with pytest.raises(PermissionDenied):
        plan_transition(
            current=Status.PROCESSING, requested=target, caller=STRANGER, owner_id="owner"
        )
