"""Every deployed function, by the name clients and schedulers call it.

``functions/main.py`` exports exactly these; the local backend's banner and the
fuzz tests' field lists are read from here, so a new function (``getGenerationOutputs``,
say) is declared once, in its entry module.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from generations_live.entrypoints import callables, schedules, triggers, webhooks
from generations_live.entrypoints.edge import Handler, handler_of


class Trigger(enum.StrEnum):
    CALLABLE = "callable"
    HTTPS = "https"
    SCHEDULE = "schedule"
    EVENT = "event"
    TASK = "task"


@dataclass(frozen=True)
class Deployed:
    name: str
    function: Callable[..., Any]
    trigger: Trigger
    handler: Handler[Any] | None  # callables only


def _trigger(function: Callable[..., Any]) -> Trigger:
    endpoint = function.__firebase_endpoint__  # type: ignore[attr-defined]
    if endpoint.callableTrigger is not None:
        return Trigger.CALLABLE
    if endpoint.scheduleTrigger is not None:
        return Trigger.SCHEDULE
    if endpoint.eventTrigger is not None:
        return Trigger.EVENT
    if endpoint.taskQueueTrigger is not None:
        return Trigger.TASK
    return Trigger.HTTPS


def _deployed_in(*modules: ModuleType) -> dict[str, Deployed]:
    """The functions the SDK would deploy from these modules (it looks for its endpoint)."""
    found: dict[str, Deployed] = {}
    for module in modules:
        for name, value in vars(module).items():
            if callable(value) and hasattr(value, "__firebase_endpoint__"):
                found[name] = Deployed(name, value, _trigger(value), handler_of(value))
    return found


DEPLOYED: dict[str, Deployed] = _deployed_in(callables, webhooks, schedules, triggers)


def names(trigger: Trigger) -> list[str]:
    """The deployed functions of one kind, in declaration order."""
    return [name for name, deployed in DEPLOYED.items() if deployed.trigger is trigger]
