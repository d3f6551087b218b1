"""The abusive-user run's command, small: the abuser is stopped by the start
limits, the honest users are never refused, and nothing is lost."""

from __future__ import annotations

from bench.abuse import run_abuse
from harness.emulators import EmulatorSuite


def test_an_abusive_user_is_limited_and_honest_users_are_not_refused(
    suite: EmulatorSuite,
) -> None:
    # Long enough for one abusive thread to pass the burst of 20 on a loaded machine
    # (a second thread would only contend on the same account).
    report = run_abuse(suite, honest=2, seconds=8, abusive_threads=1, seed=5, rounds=1)
    print(report.text())
    assert report.alone.starts > 0
    assert report.beside.starts > 0
    assert report.alone.honest_refused == report.beside.honest_refused == 0
    limited = (
        report.abuser["resource-exhausted rate"] + report.abuser["resource-exhausted concurrency"]
    )
    assert limited > 0
    # The burst, the refill over the phase (10 a minute) and nothing more got through.
    assert 0 < report.abuser["started"] <= 20 + 10 * report.beside.seconds / 60 + 1
    assert report.ok, report.text()
