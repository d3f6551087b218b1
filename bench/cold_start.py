"""How long ``import main`` takes in a fresh functions interpreter, against a
minimal callable module: what a new instance pays before it can answer.

    .venv/bin/python -m bench.cold_start [--runs 7] [--max-ratio 1.15]

Every run is a fresh ``functions/venv/bin/python`` that times its own import,
from ``functions/`` for ``main`` and from a temporary directory for the minimal
module (it imports ``firebase_admin`` and ``firebase_functions.https_fn``,
initialises the app and defines one ``on_call`` callable). The two alternate,
after one untimed run of each, so both read compiled bytecode (kept in a
temporary ``PYTHONPYCACHEPREFIX``) from a warm file cache, as a reused instance
image would. Prints both medians, their ranges and the ratio main / minimal;
exit 1 when the ratio exceeds ``--max-ratio``. The comparison
(``python -m bench``) reports the same timing next to the first calls after the
emulators start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.measurement import BenchError, Figure, Measurement, Plan
from bench.start_latency import StartProbe
from harness.emulators import ROOT

FUNCTIONS_DIR = ROOT / "functions"
FUNCTIONS_PYTHON = FUNCTIONS_DIR / "venv" / "bin" / "python"
OURS = "main"
MINIMAL = "minimal_callable"
MINIMAL_CALLABLE = '''"""The smallest callable a deploy can discover, to time imports against."""
import firebase_admin
from firebase_functions import https_fn

firebase_admin.initialize_app()


@https_fn.on_call()
def ping(request):
    return {"ok": True}
'''
IMPORT_TIMER = (
    "import time; started = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - started)"
)
DEFAULT_RUNS = 7
DEFAULT_MAX_RATIO = 1.15


@dataclass(frozen=True)
class ImportTimes:
    """Milliseconds of every timed import: ours (``main``) and the minimal callable's."""

    ours: list[float]
    minimal: list[float]

    @property
    def ratio(self) -> float:
        """Median of ours / median of the minimal callable's."""
        return statistics.median(self.ours) / statistics.median(self.minimal)


def import_ms(directory: Path, module: str, env: dict[str, str]) -> float:
    """Milliseconds ``import module`` takes in a fresh functions interpreter."""
    done = subprocess.run(
        [str(FUNCTIONS_PYTHON), "-c", IMPORT_TIMER.format(module=module)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"importing {module} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1]) * 1000


def time_imports(runs: int, workdir: Path) -> ImportTimes:
    """``runs`` fresh imports of ours and of the minimal callable, alternating, after one
    untimed import of each; ``workdir`` (empty) holds the minimal module and the bytecode."""
    minimal = workdir / "minimal"
    minimal.mkdir()
    (minimal / f"{MINIMAL}.py").write_text(MINIMAL_CALLABLE)
    # The untimed first imports write the bytecode the timed ones read.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    subjects = ((FUNCTIONS_DIR, OURS), (minimal, MINIMAL))
    for directory, module in subjects:
        import_ms(directory, module, env)
    timings: dict[str, list[float]] = {module: [] for _, module in subjects}
    for _ in range(runs):
        for directory, module in subjects:
            timings[module].append(import_ms(directory, module, env))
    return ImportTimes(ours=timings[OURS], minimal=timings[MINIMAL])


def measure_cold_start(probe: StartProbe, plan: Plan, workdir: Path) -> Measurement:
    """Measurement 4 of the comparison: the first calls after the emulators started,
    and the import of ``functions/main.py`` against the minimal callable's."""
    m = Measurement(4, "Cold start")
    first_track, first_write = probe.track_ms(), probe.bare_write_ms()
    second_track, second_write = probe.track_ms(), probe.bare_write_ms()
    m.add(Figure("first call after the emulators start", first_track, first_write, "ms", 1))
    m.add(Figure("second call", second_track, second_write, "ms", 1))
    m.note(
        f"the first `trackGeneration` took {first_track / second_track:.0f} times the second: "
        "the worker's start-up, paid once per new instance"
    )
    imports_dir = workdir / "imports"
    imports_dir.mkdir()
    times = time_imports(plan.import_runs, imports_dir)
    # The baseline has no function to import: its figure is the minimal callable's.
    m.add(
        Figure(
            f"import: functions/main.py, baseline a minimal callable (median of "
            f"{plan.import_runs})",
            statistics.median(times.ours),
            statistics.median(times.minimal),
            "ms",
        )
    )
    m.note(
        f"import ranges: ours {min(times.ours):.0f} to {max(times.ours):.0f} ms, minimal "
        f"{min(times.minimal):.0f} to {max(times.minimal):.0f} ms"
    )
    return m


def method_values(plan: Plan) -> dict[str, str]:
    """What the template's account of measurement 4 names."""
    return {"import_runs": f"{plan.import_runs}"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cold_start", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=DEFAULT_RUNS,
        help=f"timed imports of each module (default {DEFAULT_RUNS})",
    )
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=DEFAULT_MAX_RATIO,
        help=f"exit 1 above this median ratio main / minimal (default {DEFAULT_MAX_RATIO})",
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.max_ratio <= 0:
        parser.error("--runs must be at least 1 and --max-ratio positive")
    with tempfile.TemporaryDirectory(prefix="cold-start-") as workdir:
        times = time_imports(args.runs, Path(workdir))
    print(
        f"import in a fresh {FUNCTIONS_PYTHON.relative_to(ROOT)}, "
        f"{args.runs} timed run(s) of each, alternating"
    )
    for name, samples in (
        (f"{OURS} (functions/main.py)", times.ours),
        (f"{MINIMAL} (one callable)", times.minimal),
    ):
        print(
            f"  {name:32} median {statistics.median(samples):6.0f} ms"
            f"  ({min(samples):.0f} to {max(samples):.0f} ms)"
        )
    within = times.ratio <= args.max_ratio
    verdict = "within" if within else "above"
    print(f"ratio main / minimal: {times.ratio:.2f}, {verdict} the limit of {args.max_ratio:.2f}")
    return 0 if within else 1


if __name__ == "__main__":
    raise SystemExit(main())
