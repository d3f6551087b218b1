"""A deployed function served in-process by functions-framework, as Cloud Run serves it.

The Functions emulator does not run scheduled functions, and fuzzing thousands
of payloads through it would take hours: these tests call the very function
that ``functions/main.py`` exports through Flask's test client instead.
"""

from __future__ import annotations

from flask.testing import FlaskClient
from functions_framework import create_app

from harness.emulators import ROOT

MAIN = ROOT / "functions" / "main.py"


def function_client(target: str) -> FlaskClient:
    """A test client of the function ``functions/main.py`` exports as ``target``."""
    app = create_app(target=target, source=str(MAIN))  # type: ignore[no-untyped-call]
    client: FlaskClient = app.test_client()
    return client
