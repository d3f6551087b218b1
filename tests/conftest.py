"""Fixtures shared by the emulator tiers.

The official Firestore emulator is started once per session, on a free port,
with the project's real ``firestore.rules``. The end-to-end and browser tiers
share one firebase-tools suite (Auth, Firestore, Functions, and Hosting serving
the dashboard), also on free ports, with Auth-emulator users and a client of
the callable protocol. A missing emulator fails the run: these tiers never skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from emulators import (
    PROJECT_ID,
    ROOT,
    WITH_DASHBOARD,
    EmulatorSuite,
    FirestoreEmulator,
    emulator_suite,
    firestore_emulator,
)
from firebase_clients import AppUser, AuthEmulator, CallableClient, FirestoreAdminRest

RULES_PATH = ROOT / "firestore.rules"


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
