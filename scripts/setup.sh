#!/usr/bin/env bash
# Installs everything the local backend and the tests need, pinned:
#   functions/venv  the functions' runtime (the Functions emulator runs it)
#   .venv           tests and tools (runtime + pytest, ruff, mypy, a Java 21 runtime)
#   node_modules    firebase-tools, the Firebase JS SDK and esbuild
#   web/dist        the dashboard, built by scripts/build_web.sh
#   /usr/bin/chromium  Debian's Chromium for the browser tests (apt, only when missing)
# Safe to run again: it only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || python=python3

require() {
  command -v "$1" >/dev/null || { echo "setup: '$1' is required ($2)" >&2; exit 1; }
}
require "$python" "Python 3.11"
require node "Node.js 20 or later, for firebase-tools"
require npm "npm, for firebase-tools"
require java "Java 17 or later, for the Firestore emulator"

install_venv() { # venv requirements-file
  local venv=$1 requirements=$2 stamp="$1/.installed"
  local pinned=(functions/requirements*.txt "$requirements")  # whatever it may include
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  if [ ! -f "$stamp" ] || ! cmp -s <(cat "${pinned[@]}") "$stamp"; then
    # Drop pip's per-package warnings about configured local indexes that this machine lacks.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" \
      2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    cat "${pinned[@]}" > "$stamp"
  fi
}

install_venv functions/venv functions/requirements.txt
install_venv .venv requirements-dev.txt
# Tools, tests and benchmarks import the functions package, the emulator
# harness (tests/harness) and the benchmarks (bench/) from the tree.
site_packages=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
printf '%s\n' "$PWD/functions" "$PWD/tests" "$PWD" > "$site_packages/generations-live-tree.pth"

if [ ! -x node_modules/.bin/firebase ] || [ ! -x node_modules/.bin/esbuild ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/build_web.sh

# The browser tests drive Debian's Chromium (a test tool's own browser download
# does not work offline). Installed once; apt needs root.
if [ ! -x /usr/bin/chromium ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "setup: installing chromium from Debian for the browser tests"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ ! -f /usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar ]; then
  echo "setup: the Cloud Firestore emulator is missing (Debian package google-cloud-cli-firestore-emulator)" >&2
  exit 1
fi
echo "setup: ready"
