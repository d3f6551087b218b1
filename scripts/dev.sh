#!/usr/bin/env bash
# The one command for local work: install what is missing, then run the
# backend on the emulators. Arguments go to local_backend.py (e.g. --demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/local_backend.py "$@"
