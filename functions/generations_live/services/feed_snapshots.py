"""Keep each feed view's snapshot equal to its query, rewriting it at most once
per period however many generations change.

Every change of a feed document asks for the views it touches to be rebuilt
after it (``refresh``). A rebuild runs the view's query, so it sees every
change committed before it started; the question for each change is only
whether some rebuild will start after it:

- **Covered**: the view's lease names a period claimed after the change was
  committed, or one that starts after it (its builder waits for its start):
  that builder's query will see the change. Nothing to do.
- **Idle view**: the lease names an earlier period. Claim the current one and
  rebuild now; at low traffic a change reaches its snapshot at once.
- **Busy view**: the current period was claimed before the change. Claim the
  next one, and have it rebuilt once it starts (``later``: deployed, a task on
  the ``rebuildFeedSnapshot`` queue scheduled for that moment, so no trigger
  waits): a burst of changes within a period costs one rebuild, by whoever
  claimed the next period first.

Claims are conditional writes on the lease, so one claimer wins each period.
A builder that dies after claiming leaves its view stale until the next change
or ``rebuild_all``, which the ``refreshFeedSnapshots`` schedule runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from generations_live.adapters.feed_snapshots import FeedSnapshotStore, Lease
from generations_live.domain.feed_views import (
    ALL_VIEWS,
    PERIOD,
    FeedView,
    slot_of,
    slot_start,
)

# How long one refresh keeps trying before it leaves the rest to the schedule:
# claims fail only when others claim, so a few rounds always settle.
REFRESH_BUDGET = timedelta(seconds=20)


def _real_sleep(seconds: float) -> None:
    time.sleep(seconds)


def _real_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class RefreshReport:
    """What one refresh did, per view id: rebuilt (and written or unchanged), or
    left to a builder already due."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    scheduled: list[str] = field(default_factory=list)  # rebuilt later, by ``later``
    covered: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(ids) for name, ids in vars(self).items()}


class LeaseMemo:
    """The leases one process has seen. Leases only move forward, so one that covers
    a change is a claim made after it (or for a period starting after it) whether
    or not it is still the latest: the change needs no read of its own. Under
    load most changes find the next period already claimed, and end here."""

    def __init__(self) -> None:
        self._leases: dict[FeedView, Lease] = {}
        self._lock = threading.Lock()

    def covering(self, views: Iterable[FeedView], changed_at: datetime) -> set[FeedView]:
        with self._lock:
            return {view for view in views if covers(self._leases.get(view), changed_at)}

    def remember(self, view: FeedView, lease: Lease) -> None:
        with self._lock:
            known = self._leases.get(view)
            if known is None or (lease.slot, lease.claimed_at) > (known.slot, known.claimed_at):
                self._leases[view] = lease


def covers(lease: Lease | None, changed_at: datetime) -> bool:
    """Whether the claimed build will query after the change: its claim was
    committed after it, or its period starts after it."""
    if lease is None:
        return False
    return max(lease.claimed_at, slot_start(lease.slot)) > changed_at


def refresh(
    store: FeedSnapshotStore,
    views: Iterable[FeedView],
    changed_at: datetime,
    *,
    clock: Callable[[], datetime] = _real_clock,
    sleep: Callable[[float], None] = _real_sleep,
    memo: LeaseMemo | None = None,
    later: Callable[[FeedView, int], None] | None = None,
) -> RefreshReport:
    """Make sure each view is rebuilt after ``changed_at`` (a commit time). A view
    claimed for the next period is handed to ``later``, or, without it, waited
    for and rebuilt here."""
    report = RefreshReport()
    memo = memo or LeaseMemo()
    pending = list(dict.fromkeys(views))
    remembered = memo.covering(pending, changed_at)
    report.covered += [view.id for view in pending if view in remembered]
    pending = [view for view in pending if view not in remembered]
    deadline = clock() + REFRESH_BUDGET
    while pending:
        if clock() > deadline:
            report.abandoned += [view.id for view in pending]
            break
        leases = store.leases(pending)
        for view, lease in leases.items():
            if lease is not None:
                memo.remember(view, lease)
        current = slot_of(clock())
        now_claimed: list[tuple[FeedView, int]] = []
        next_claimed: list[tuple[FeedView, int]] = []
        retry: list[FeedView] = []
        for view in pending:
            lease = leases[view]
            if covers(lease, changed_at):
                report.covered.append(view.id)
                continue
            # An idle view is rebuilt in the current period; a busy one in the next.
            slot = current if lease is None or lease.slot < current else lease.slot + 1
            claimed_at = store.claim(view, slot, lease)
            if claimed_at is None:
                retry.append(view)  # someone claimed first: read the lease again
                continue
            memo.remember(view, Lease(slot=slot, claimed_at=claimed_at))
            if slot <= current:
                now_claimed.append((view, slot))
            else:
                next_claimed.append((view, slot))
        _build_each(store, now_claimed, report)
        if later is not None:
            for view, slot in next_claimed:
                later(view, slot)
                report.scheduled.append(view.id)
        else:
            _wait_and_build(store, next_claimed, report, clock, sleep)
        pending = retry
    return report


def _wait_and_build(
    store: FeedSnapshotStore,
    claimed: list[tuple[FeedView, int]],
    report: RefreshReport,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> None:
    """Wait for the next period, then rebuild what was claimed for it."""
    if not claimed:
        return
    # One wait for all of them: they are the same next period.
    wait = (slot_start(max(slot for _, slot in claimed)) - clock()).total_seconds()
    if wait > 0:
        sleep(wait)
    _build_each(store, claimed, report)


def _build_each(
    store: FeedSnapshotStore, claimed: list[tuple[FeedView, int]], report: RefreshReport
) -> None:
    """Rebuild the claimed views side by side: each is a query and a write or two,
    mostly waiting on Firestore."""
    if not claimed:
        return
    with ThreadPoolExecutor(max_workers=len(claimed)) as pool:
        written = list(pool.map(lambda each: store.build(*each), claimed))
    for (view, _), was_written in zip(claimed, written, strict=True):
        (report.written if was_written else report.unchanged).append(view.id)


def rebuild_when_due(
    store: FeedSnapshotStore,
    view: FeedView,
    slot: int,
    *,
    clock: Callable[[], datetime] = _real_clock,
    sleep: Callable[[float], None] = _real_sleep,
) -> bool:
    """A claimed period's rebuild, run by its task: not before the period starts
    (a task may be early); whether the snapshot was written.

    A task names the next period at most. One naming a later period is refused
    before any read or write: stored, its period would make every rebuild until
    then look overtaken, freezing the snapshot (only this backend enqueues, but
    a forged or corrupted task must not be able to do that)."""
    if slot > slot_of(clock()) + MAX_TASK_LEAD:
        return False
    wait = (slot_start(slot) - clock()).total_seconds()
    if wait > 0:
        sleep(min(wait, PERIOD.total_seconds()))
    return store.build(view, slot)


# How many periods ahead of now a rebuild task may name (it names the next one).
MAX_TASK_LEAD = 2
# How long an account deletion waits for the snapshots to forget the user.
FORGET_BUDGET = timedelta(seconds=15)
FORGET_POLL_S = 0.2


def forget_user(
    store: FeedSnapshotStore,
    uid: str,
    *,
    clock: Callable[[], datetime] = _real_clock,
    sleep: Callable[[float], None] = _real_sleep,
) -> bool:
    """Once a user's feed documents are gone, rebuild until no snapshot shows them
    (a rebuild another change claimed may still be on its way: wait for it).
    Whether they are gone from every snapshot within ``FORGET_BUDGET``."""
    deadline = clock() + FORGET_BUDGET
    while showing := store.views_showing(uid):
        if clock() > deadline:
            return False
        refresh(store, showing, clock(), clock=clock, sleep=sleep)
        sleep(FORGET_POLL_S)
    return True


def rebuild_all(
    store: FeedSnapshotStore,
    *,
    clock: Callable[[], datetime] = _real_clock,
    sleep: Callable[[float], None] = _real_sleep,
) -> RefreshReport:
    """Rebuild every view after now: what a missed trigger or a builder that died
    left stale is put right (a view already equal to its query is not rewritten)."""
    return refresh(store, ALL_VIEWS, clock(), clock=clock, sleep=sleep)
