"""The emulator harness as a pytest plugin: every fixture the tiers share.

The official Firestore emulator is started once per session, on a free port,
with the project's real ``firestore.rules``. The end-to-end and browser tiers
share one firebase-tools suite (Auth, Firestore, Functions, and Hosting serving
the dashboard), also on free ports, with Auth-emulator users and a client of
the callable protocol. A missing emulator fails the run: these tiers never skip.

The browser tier drives Debian's headless Chromium with Playwright, against the
suite's Hosting emulator serving ``web/dist`` with a ``config.json`` that points
the page at the suite's free ports. Playwright never downloads a browser here:
it launches ``/usr/bin/chromium`` (scripts/setup.sh installs it), and a missing
one fails the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from playwright.sync_api import Browser, Page, sync_playwright

from harness import chromium
from harness.clients import AppUser, AuthEmulator, CallableClient, FirestoreAdminRest
from harness.emulators import (
    PROJECT_ID,
    ROOT,
    WITH_DASHBOARD,
    EmulatorSuite,
    FirestoreEmulator,
    emulator_suite,
    firestore_emulator,
)

RULES_PATH = ROOT / "firestore.rules"
# Reports a test module prints after the run (title: lines), e.g. the rules matrix.
_SUMMARIES: dict[str, Callable[[], list[str]]] = {}


def summary_after_the_run(title: str, lines: Callable[[], list[str]]) -> None:
    """Print ``lines()`` in a section of its own at the end of the run, unless empty."""
    _SUMMARIES[title] = lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for title, lines in _SUMMARIES.items():
        printed = lines()
        if printed:
            terminalreporter.section(title)
            for line in printed:
                terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def emulator_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emulator-logs")


@pytest.fixture(scope="session")
def firestore_server(emulator_logs: Path) -> Iterator[FirestoreEmulator]:
    with firestore_emulator(rules=RULES_PATH, log=emulator_logs / "firestore.log") as server:
        yield server


@pytest.fixture
def emulator(firestore_server: FirestoreEmulator) -> Iterator[FirestoreEmulator]:
    """The Firestore emulator, wiped before the test and with the real rules loaded."""
    firestore_server.wipe()
    firestore_server.load_rules(RULES_PATH.read_text())
    previous = {
        name: os.environ.get(name) for name in ("FIRESTORE_EMULATOR_HOST", "GCLOUD_PROJECT")
    }
    os.environ["FIRESTORE_EMULATOR_HOST"] = firestore_server.address
    os.environ["GCLOUD_PROJECT"] = PROJECT_ID
    yield firestore_server
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def db(emulator: FirestoreEmulator) -> firestore.Client:
    """An admin client of the emulator (the emulator lets it bypass rules)."""
    credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    return firestore.Client(project=emulator.project, credentials=credentials)


# --- the firebase-tools suite: tests/e2e and tests/browser --------------------------


@pytest.fixture(scope="session")
def suite(emulator_logs: Path) -> Iterator[EmulatorSuite]:
    """firebase-tools serving ``functions/main.py`` and the built dashboard."""
    log = emulator_logs / "firebase-tools.log"
    with emulator_suite(log=log, only=WITH_DASHBOARD) as running:
        yield running


@pytest.fixture(scope="session")
def auth(suite: EmulatorSuite) -> AuthEmulator:
    return AuthEmulator(suite.url("auth"), suite.project)


@pytest.fixture(scope="session")
def api(suite: EmulatorSuite) -> CallableClient:
    return CallableClient(suite.function_url(""))


@pytest.fixture(scope="session")
def firestore_admin(suite: EmulatorSuite) -> FirestoreAdminRest:
    return FirestoreAdminRest(suite.url("firestore"), suite.project)


@pytest.fixture(scope="session")
def worker(auth: AuthEmulator) -> AppUser:
    return auth.create_user(display_name="Render Worker", claims={"worker": True})


@pytest.fixture(scope="session")
def admin(auth: AuthEmulator) -> AppUser:
    return auth.create_user(display_name="Platform Admin", claims={"admin": True})


@pytest.fixture
def user(auth: AuthEmulator) -> AppUser:
    return auth.create_user(display_name="Grace Hopper")


@pytest.fixture
def stranger(auth: AuthEmulator) -> AppUser:
    return auth.create_user(display_name="Someone Else")


# --- Chromium: tests/browser ----------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        try:
            launched = chromium.launch(playwright)
        except chromium.ChromiumMissing as missing:
            pytest.fail(str(missing))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile (no signed-in user) at desktop size; fails on a script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], f"the page threw: {errors}"
