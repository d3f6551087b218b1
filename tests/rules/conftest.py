"""Prints the security rules matrix after the run."""

from __future__ import annotations

import pytest
from test_rules_matrix import matrix_report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = matrix_report()
    if lines:
        terminalreporter.section("security rules matrix")
        for line in lines:
            terminalreporter.write_line(line)
