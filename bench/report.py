"""Our design against the naive baseline platform teams start from, measured in
one run on the local emulators; regenerates docs/benchmarks.md.

    .venv/bin/python -m bench [--quick]

The baseline is built in the bench, faithfully: the client writes its own
generation document, and the dashboard polls the 50 newest generations every 5
seconds and recomputes its analytics by reading every generation of the last 7
days. Each measurement has its module (bench.dashboard_cost, bench.start_latency,
bench.throughput, bench.cold_start, bench.rollup_cost) and prints ours, baseline
and ours / baseline as soon as it is measured; this one runs them all, records
the machine, and fills bench/benchmarks.md.template, which says how each figure
was measured, then runs the measurements that have commands of their own
(``OWN_RUNS``: claims, the credit burst, the load run, the abusive user, analytics
at volume, the preview pipeline, webhook deliveries, the feed's cost across a
traffic axis) and carries their output. A full run takes about 30 minutes on 2
cores; ``--quick`` scales the sizes and durations down (about 9 minutes: the
measured dashboard minute stays a minute, and 50 function workers still have to
start).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import platform
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from string import Template

from bench import cold_start, dashboard_cost, rollup_cost, start_latency, throughput
from bench.cold_start import FUNCTIONS_PYTHON, measure_cold_start
from bench.dashboard_cost import FEED_HISTORY, measure_dashboard_cost, open_history
from bench.measurement import FULL, QUICK, BenchError, Measurement, Plan, say
from bench.rollup_cost import measure_rollup_cost
from bench.start_latency import StartProbe, measure_start_latency
from bench.throughput import measure_throughput
from harness.emulators import (
    ROOT,
    emulator_suite,
    firebase_tools_version,
    firestore_emulator,
    firestore_emulator_version,
    java_home_for_firebase_tools,
    system_java,
)

DOCS = ROOT / "docs" / "benchmarks.md"
TEMPLATE = Path(__file__).with_name("benchmarks.md.template")
# What the run fills in besides the measurements' method values: the header,
# the tables, and what each numbered measurement saw (``this_run_<number>``).
RUN_VALUES = (
    "command",
    "started_at",
    "duration",
    "quick_note",
    "machine",
    "results",
    "own_runs",
)
MEASUREMENT_NUMBERS = range(1, 6)


@dataclass(frozen=True)
class OwnRun:
    """A measurement that is not a comparison with the baseline: its own command,
    whose output docs/benchmarks.md carries as printed (after the comparison)."""

    module: str
    quick_args: tuple[str, ...] = ()

    def command(self, quick: bool) -> list[str]:
        return [".venv/bin/python", "-m", self.module, *(self.quick_args if quick else ())]


OWN_RUNS = (
    OwnRun("bench.claims", ("--rounds", "1")),
    OwnRun("bench.credit_burst"),
    OwnRun("bench.load_run", ("--users", "10", "--seconds", "15")),
    OwnRun("bench.abuse", ("--honest", "5", "--seconds", "10", "--rounds", "1")),
    OwnRun("bench.analytics", ("--small", "500", "--large", "5000", "--load-seconds", "10")),
    OwnRun("bench.previews", ("--runs", "5")),
    OwnRun("bench.webhooks", ("--latency-samples", "20", "--users", "4", "--seconds", "10")),
    OwnRun("bench.feed_snapshot", ("--seconds", "15")),
)
# An own run that takes longer than this is stopped and reported as failed.
OWN_RUN_TIMEOUT_S = 20 * 60


@dataclass(frozen=True)
class OwnRunResult:
    run: OwnRun
    command: str
    output: str
    exit_code: int
    seconds: float


def run_own(run: OwnRun, quick: bool) -> OwnRunResult:
    """Run one own measurement as its command would, in a process of its own."""
    command = run.command(quick)
    say(f"{' '.join(command[1:])}")
    began = time.monotonic()
    try:
        done = subprocess.run(
            [str(ROOT / command[0]), *command[1:]],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=OWN_RUN_TIMEOUT_S,
            check=False,
        )
        output, exit_code = done.stdout.strip(), done.returncode
    except subprocess.TimeoutExpired:
        output, exit_code = f"stopped after {OWN_RUN_TIMEOUT_S} s", -1
    return OwnRunResult(run, " ".join(command), output, exit_code, time.monotonic() - began)


def own_runs_markdown(results: Sequence[OwnRunResult]) -> str:
    """Each own run's purpose (its module's first paragraph), command and output."""
    sections = []
    for result in results:
        module = importlib.import_module(result.run.module)
        purpose = " ".join((module.__doc__ or "").split("\n\n")[0].split())
        status = "exit 0" if result.exit_code == 0 else f"**exit {result.exit_code}**"
        sections.append(
            f"### `python -m {result.run.module}`\n\n{purpose}\n\n"
            f"```sh\n{result.command}\n```\n\n"
            f"```\n{result.output}\n```\n\n"
            f"{status}, {result.seconds:.0f} s.\n"
        )
    return "\n".join(sections)


def machine_facts() -> dict[str, str]:
    """The machine, the interpreters, the SDKs and the emulators the run measures on."""
    meminfo = dict(
        line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line
    )
    memory_gib = int(meminfo["MemTotal"].split()[0]) / 2**20
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), "")
    functions_python = subprocess.run(
        [str(FUNCTIONS_PYTHON), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout.split()[-1]
    sdks = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("firebase-functions", "firebase-admin", "google-cloud-firestore")
    )
    node_bin = shutil.which("node")
    node = (
        "unknown"
        if node_bin is None
        else subprocess.run(
            [node_bin, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    )
    return {
        "CPU": f"{os.cpu_count()} cores, {model}",
        "memory": f"{memory_gib:.1f} GiB",
        "OS": platform.platform(),
        "Python": f"{platform.python_version()} (bench), {functions_python} (functions/venv)",
        "SDKs": sdks,
        "Cloud Firestore emulator": (
            f"{firestore_emulator_version()} on {java_version(system_java())}"
        ),
        "firebase-tools": (
            f"{firebase_tools_version()} on Node.js {node}, Java "
            f"{java_version(str(java_home_for_firebase_tools() / 'bin' / 'java'))}"
        ),
    }


def java_version(java: str) -> str:
    """The first line ``java -version`` prints."""
    done = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    first = (done.stderr or done.stdout).strip().splitlines()
    return first[0] if first else "unknown java"


@dataclass(frozen=True)
class CpuClock:
    """CPU seconds the machine has been busy, and those of the bench with the
    emulators and commands it started (once they have exited)."""

    machine: float
    own: float

    @classmethod
    def read(cls) -> CpuClock:
        # /proc/stat's first line: user nice system idle iowait irq softirq steal ...
        ticks = [int(value) for value in Path("/proc/stat").read_text().split()[1:9]]
        busy = sum(ticks) - ticks[3] - ticks[4]
        own = sum(
            usage.ru_utime + usage.ru_stime
            for usage in (
                resource.getrusage(resource.RUSAGE_SELF),
                resource.getrusage(resource.RUSAGE_CHILDREN),
            )
        )
        return cls(machine=busy / os.sysconf("SC_CLK_TCK"), own=own)


@dataclass
class Run:
    """One run of the comparison, as docs/benchmarks.md reports it."""

    plan: Plan
    command: str
    started_at: datetime
    seconds: float
    machine: dict[str, str]
    cpu: tuple[CpuClock, CpuClock]  # at the start and the end
    measurements: list[Measurement]
    own_runs: list[OwnRunResult]

    def sharing(self) -> str:
        """How busy the machine was, and how much of it was someone else's work."""
        start, end = self.cpu
        busy, own = end.machine - start.machine, end.own - start.own
        cores = os.cpu_count() or 1
        return (
            f"{busy:,.0f} CPU-seconds busy in {self.seconds:,.0f} s "
            f"({busy / (self.seconds * cores):.0%} of {cores} cores): the bench and its "
            f"emulators {own:,.0f}, other processes about {max(0.0, busy - own):,.0f}"
        )


def scaled_down(plan: Plan) -> str:
    """What a smaller run changes, said in the output and in the document."""
    return (
        f"histories of {plan.history_sizes[0]:,} and {plan.history_sizes[1]:,} generations "
        f"instead of {FULL.history_sizes[0]:,} and {FULL.history_sizes[1]:,}"
        + (" sharing one measured minute" if plan.shared_minute else "")
        + f", {plan.dashboards} dashboards instead of {FULL.dashboards}, loads of "
        f"{plan.load_s:.0f} s instead of {FULL.load_s:.0f} s, {plan.rollup_changes:,} new "
        f"generations for the rollup instead of {FULL.rollup_changes:,}"
    )


def method_values(plan: Plan) -> dict[str, str]:
    """Every value the template's account of the measurements names, for this plan."""
    merged: dict[str, str] = {}
    for values in (
        dashboard_cost.method_values(plan),
        start_latency.method_values(plan),
        throughput.method_values(plan),
        cold_start.method_values(plan),
        rollup_cost.method_values(plan),
    ):
        for name, value in values.items():
            if merged.setdefault(name, value) != value:
                raise BenchError(f"the template's {name} is given as {merged[name]} and {value}")
    return merged


def load_template(plan: Plan) -> Template:
    """bench/benchmarks.md.template, checked against what a run of ``plan`` fills in,
    so a value it names and nobody gives fails at the start, not after the run."""
    template = Template(TEMPLATE.read_text())
    given = {*RUN_VALUES, *method_values(plan), *(f"this_run_{n}" for n in MEASUREMENT_NUMBERS)}
    named = set(template.get_identifiers())
    if not template.is_valid() or named != given:
        raise BenchError(
            f"{TEMPLATE.name} does not match the bench: it names {sorted(named - given)} "
            f"that no one gives, and not {sorted(given - named)}"
        )
    return template


def this_run(measurement: Measurement) -> str:
    """What the run saw of one measurement, as a list under its method (or nothing)."""
    if not measurement.notes and not measurement.failures:
        return ""
    lines = [
        "",
        "This run:",
        "",
        *(f"- {text}" for text in measurement.notes),
        *(f"- **check failed**: {text}" for text in measurement.failures),
    ]
    return "\n".join(lines) + "\n"


def render_markdown(run: Run, template: Template) -> str:
    """docs/benchmarks.md for this run."""
    minutes, seconds = divmod(round(run.seconds), 60)
    machine = [f"| {name} | {value} |" for name, value in run.machine.items()]
    machine.append(f"| during the run | {run.sharing()} |")
    results = []
    for measurement in run.measurements:
        results.append(f"| **{measurement.number}. {measurement.title}** | | | |")
        results += [f"| {f.name} | {' | '.join(f.cells())} |" for f in measurement.figures]
    markdown = template.substitute(
        method_values(run.plan),
        command=run.command,
        started_at=f"{run.started_at:%Y-%m-%d %H:%M}",
        duration=f"{minutes} min {seconds:02d} s",
        quick_note=f" (`--quick`: {scaled_down(run.plan)})" if run.plan is QUICK else "",
        machine="\n".join(machine),
        results="\n".join(results),
        own_runs=own_runs_markdown(run.own_runs),
        **{f"this_run_{m.number}": this_run(m) for m in run.measurements},
    )
    # The last measurement's list ends the document: one newline, not a blank line.
    return markdown.rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes and shorter loads (about 8 minutes)"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    template = load_template(plan)
    command = ".venv/bin/python -m bench" + (" --quick" if args.quick else "")
    started_at, started = datetime.now(UTC), time.monotonic()
    cpu_start = CpuClock.read()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    say(f"{command}: {plan.name} run, emulator logs in {workdir}")
    if plan is QUICK:
        say(f"--quick: {scaled_down(plan)}")
    machine = machine_facts()
    measurements: list[Measurement] = []

    say("starting firebase-tools (Auth, Firestore, Functions emulators)")
    with emulator_suite(log=workdir / "firebase-tools.log") as suite:
        probe = StartProbe(suite)
        say("4. cold start")
        measurements.append(measure_cold_start(probe, plan, workdir))
        say("2. start latency")
        measurements.append(measure_start_latency(probe, plan))
        measurements.append(measure_throughput(suite, plan))

    say("starting the standalone Cloud Firestore emulator")
    with firestore_emulator(rules=None, log=workdir / "firestore.log") as emulator:
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.address
        histories = [open_history(f"{n}", n, backfill=True) for n in plan.history_sizes]
        feed = open_history("feed", FEED_HISTORY, backfill=False)
        measurements.append(measure_dashboard_cost(histories, feed, plan))
        measurements.append(measure_rollup_cost(histories, plan))

    say("the measurements with their own commands")
    own_runs = [run_own(each, quick=plan is QUICK) for each in OWN_RUNS]

    run = Run(
        plan=plan,
        command=command,
        started_at=started_at,
        seconds=time.monotonic() - started,
        machine=machine,
        cpu=(cpu_start, CpuClock.read()),
        measurements=sorted(measurements, key=lambda each: each.number),
        own_runs=own_runs,
    )
    markdown = render_markdown(run, template)
    DOCS.write_text(markdown)
    results = markdown.split("## Results")[1].split("## How")[0].strip()
    print("\n" + results + "\n")
    failed = sum(len(each.failures) for each in measurements) + sum(
        1 for each in own_runs if each.exit_code != 0
    )
    say(f"wrote {DOCS.relative_to(ROOT)} in {run.seconds / 60:.1f} min; {failed} check(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
