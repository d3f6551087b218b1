#!/usr/bin/env bash
# Installs what the tests need (scripts/setup.sh), then runs the static checks
# and every test tier: unit, rules and store on the Firestore emulator, end to
# end through the firebase-tools emulators, and the dashboard in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

py=.venv/bin/python
checked=(functions/generations_live functions/main.py scripts tests bench)

echo "== ruff check";        .venv/bin/ruff check .
echo "== ruff format";       .venv/bin/ruff format --check .
echo "== mypy --strict";     .venv/bin/mypy "${checked[@]}"
echo "== import contract"; .venv/bin/lint-imports
echo "== tests";             "$py" -m pytest tests/unit tests/rules tests/emulator tests/e2e tests/browser "$@"
