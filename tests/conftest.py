"""Fixtures shared by the emulator tiers.

The official Firestore emulator is started once per session, on a free port,
with the project's real ``firestore.rules``. A missing emulator fails the run:
these tiers never skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from emulators import PROJECT_ID, ROOT, FirestoreEmulator, firestore_emulator

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
