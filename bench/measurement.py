"""What every measurement of the comparison shares: the plan of a run, a figure
(ours against the baseline), a numbered measurement with what the run saw, and
the console line each step prints."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from bench.checks import Check

# Where the baseline client writes its own generation documents.
BASELINE_COLLECTION = "baseline_generations"


class BenchError(RuntimeError):
    """Something the bench needs did not happen (a listener, an import)."""


@dataclass(frozen=True)
class Plan:
    """Sizes and durations of one run."""

    name: str
    history_sizes: tuple[int, ...]
    dashboards: int
    latency_calls: int
    latency_warmup: int
    user_counts: tuple[int, ...]
    load_s: float
    import_runs: int
    rollup_changes: int
    # Whether the histories share one measured minute; the emulator slows down on
    # large collections (see bench.dashboard_cost), so the full run gives each its own.
    shared_minute: bool


FULL = Plan(
    name="full",
    history_sizes=(10_000, 100_000),
    dashboards=100,
    latency_calls=100,
    latency_warmup=5,
    user_counts=(10, 50),
    load_s=20.0,
    import_runs=7,
    rollup_changes=1_000,
    shared_minute=False,
)
QUICK = Plan(
    name="quick",
    history_sizes=(2_000, 20_000),
    dashboards=20,
    latency_calls=20,
    latency_warmup=3,
    user_counts=(10, 50),
    load_s=5.0,
    import_runs=3,
    rollup_changes=200,
    shared_minute=True,
)


@dataclass(frozen=True)
class Figure:
    """One result: ours against the baseline, measured in the same run."""

    name: str
    ours: float
    baseline: float
    unit: str
    decimals: int = 0

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else math.inf

    def cells(self) -> tuple[str, str, str]:
        """Ours, the baseline and their ratio, as the results table shows them."""
        return (self._value(self.ours), self._value(self.baseline), ratio_text(self.ratio))

    def _value(self, value: float) -> str:
        return f"{value:,.{self.decimals}f} {self.unit}"


def ratio_text(ratio: float) -> str:
    """``ours / baseline`` as the results table shows it."""
    if not math.isfinite(ratio) or ratio <= 0:
        return "n/a"
    text = f"{ratio:.3g}x"
    # "1/40" reads better than "0.025x" for the large savings.
    return f"{text} (1/{1 / ratio:,.0f})" if ratio <= 0.5 else text


@dataclass
class Measurement:
    """One numbered measurement: its figures and what this run saw.

    How it was measured is prose in bench/benchmarks.md.template, filled with the
    values of the run's plan.
    """

    number: int
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        ours, baseline, ratio = figure.cells()
        say(f"  {figure.name}: ours {ours}, baseline {baseline}, ours/baseline {ratio}")

    def note(self, text: str) -> None:
        self.notes.append(text)
        say(f"  - {text}")

    def fail(self, text: str) -> None:
        self.failures.append(text)
        say(f"  CHECK FAILED: {text}")

    def record(self, check: Check) -> None:
        """A check that passed is a note of this run; one that failed, a failure."""
        if check.passed:
            self.note(check.what)
        else:
            self.fail(check.what)


_STARTED = time.monotonic()


def say(message: str) -> None:
    """One progress line, stamped with the seconds since the bench started."""
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {message}", flush=True)
