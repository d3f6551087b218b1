"""The deployed functions as clients meet them: firebase-tools serves
``functions/main.py`` next to the Auth and Firestore emulators, and tests call
it over the callable protocol with real Auth-emulator ID tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators import EmulatorSuite, emulator_suite
from firebase_clients import AppUser, AuthEmulator, CallableClient, FirestoreAdminRest


@pytest.fixture(scope="session")
def suite(emulator_logs: Path) -> Iterator[EmulatorSuite]:
    with emulator_suite(log=emulator_logs / "firebase-tools.log") as running:
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
