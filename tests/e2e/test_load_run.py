"""The load run's command, small: it drives the suite's callables, stops by
itself, and its checks pass (and would name what was lost)."""

from __future__ import annotations

from bench.load_run import run_load
from harness.emulators import EmulatorSuite


def test_a_short_load_run_loses_nothing(suite: EmulatorSuite) -> None:
    # The checks count every document of the database: start from an empty one.
    suite.wipe_firestore()
    report = run_load(suite, users=3, seconds=5, seed=3)
    print(report.text())
    assert report.starts > 0
    assert report.reports > 0
    assert report.answers["trackGeneration"]["ok"] > report.starts  # the warm-up and resends
    assert len(report.checks) >= 9
    assert report.ok, report.text()
