"""Account deletion: who may erase whose data, what is erased, what stays and how
what stays is made anonymous. Pure rules: no I/O.

Erased: both halves of every generation of the user (after any still processing
is canceled, which releases its hold), their per-user documents (daily usage
and the collections listed with it), the reports they filed, and the reports
and queue entries about their generations.

Kept, without name, email or prompt:
- each erased generation's analytics facts (``ERASED_GENERATION_FIELDS``), so
  the rollups still equal a recount of the raw documents;
- the generation events, the rollups' per-user entries and the precomputed
  windows, with the display name replaced by ``ANONYMOUS_DISPLAY_NAME``;
- the billing account and its ledger (accounting), with the free-text reasons
  admins typed replaced by ``ERASED_REASON``.

The uid stays on what is kept: it is a random identifier that names nobody,
the billing account is keyed by it, and the rollups shard their users by it.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from generations_live.domain.credits import EntryKind
from generations_live.domain.documents import RETENTION_FIELD
from generations_live.domain.errors import PermissionDenied
from generations_live.domain.identity import ANONYMOUS_DISPLAY_NAME, Caller

# What stays of a ledger entry's reason when an admin typed it (a grant's or an
# adjustment's may name the person); the other kinds' reasons are made of ids.
ERASED_REASON = "erased with the account"
FREE_TEXT_REASON_KINDS: tuple[EntryKind, ...] = (EntryKind.GRANT, EntryKind.ADJUSTMENT)
# What the analytics recount reads of a generation (see analytics.GenerationSnapshot),
# and its retention deadline: no prompt, name, email or error.
ERASED_GENERATION_FIELDS: tuple[str, ...] = (
    "userId",
    "type",
    "engine",
    "status",
    "createdAt",
    "completedAt",
    "durationMs",
    RETENTION_FIELD,
)


class Step(enum.StrEnum):
    """The steps of a deletion, in order; each is idempotent and done in bounded batches."""

    GENERATIONS = "generations"  # cancel those processing, then erase both halves
    USER_DOCUMENTS = "userDocuments"  # usage days and the other per-user collections
    REPORTS = "reports"  # reports the user filed
    LEDGER = "ledger"  # free-text reasons of the user's ledger entries
    EVENTS = "events"  # display name in the generation events
    ROLLUP_USERS = "rollupUsers"  # display name in the rollups' per-day user shards
    WINDOWS = "windows"  # display name in the precomputed analytics windows


STEPS: tuple[Step, ...] = tuple(Step)
# The counters a deletion reports, by what happened to the documents.
REMOVED = ("generations", "userDocuments", "reports", "queueEntries")
ANONYMISED = ("events", "rollupUsers", "windows", "ledgerEntries")
SETTLED = "canceled"
COUNTERS: tuple[str, ...] = (*REMOVED, *ANONYMISED, SETTLED)


def next_step(step: Step) -> Step | None:
    index = STEPS.index(step)
    return STEPS[index + 1] if index + 1 < len(STEPS) else None


def deletion_target(caller: Caller, user_id: str | None) -> str:
    """The uid whose data the caller asks to delete: their own, or (admins) anyone's."""
    if user_id is None or user_id == caller.uid:
        return caller.uid
    if caller.is_admin:
        return user_id
    raise PermissionDenied(
        "only admins may delete another user's data", details={"field": "userId"}
    )


def erased_generation(public: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of a generation whose owner deleted their account."""
    return {name: public.get(name) for name in ERASED_GENERATION_FIELDS}


def anonymised_name(name: object) -> str | None:
    """The neutral name to write in place of ``name``, or None when it already is."""
    return None if name == ANONYMOUS_DISPLAY_NAME else ANONYMOUS_DISPLAY_NAME


def anonymised_top_users(
    top_users: Sequence[Mapping[str, Any]], uid: str
) -> list[dict[str, Any]] | None:
    """``topUsers`` with the user's name replaced, or None when nothing changes."""
    changed = False
    entries = []
    for entry in top_users:
        copy = dict(entry)
        if copy.get("userId") == uid and copy.get("userName") != ANONYMOUS_DISPLAY_NAME:
            copy["userName"] = ANONYMOUS_DISPLAY_NAME
            changed = True
        entries.append(copy)
    return entries if changed else None


def without_names(answer: Mapping[str, Any], erased: Collection[str]) -> dict[str, Any]:
    """A window answer whose top users erased with their accounts are named neutrally."""
    top = [dict(entry) for entry in answer.get("topUsers", [])]
    for entry in top:
        if entry.get("userId") in erased:
            entry["userName"] = ANONYMOUS_DISPLAY_NAME
    return {**answer, "topUsers": top} if "topUsers" in answer else dict(answer)


def scrubbed_reason(kind: object, reason: object) -> str | None:
    """The reason to write on a ledger entry of this kind, or None to keep it."""
    if kind not in {k.value for k in FREE_TEXT_REASON_KINDS} or reason in (None, ERASED_REASON):
        return None
    return ERASED_REASON


@dataclass
class Progress:
    """A deletion's state, as its marker document records it."""

    step: Step = Step.GENERATIONS
    cursor: str | None = None  # the last document a scanning step has done
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    done: bool = False

    def add(self, counts: Mapping[str, int]) -> None:
        for name, count in counts.items():
            self.counts[name] = self.counts.get(name, 0) + count


def answer(uid: str, progress: Progress) -> dict[str, Any]:
    """What a deletion call answers: where it stands and what it has done so far."""
    counts = progress.counts
    return {
        "userId": uid,
        "done": progress.done,
        "step": None if progress.done else progress.step.value,
        "removed": {name: counts.get(name, 0) for name in REMOVED},
        "anonymised": {name: counts.get(name, 0) for name in ANONYMISED},
        "canceled": counts.get(SETTLED, 0),
    }
