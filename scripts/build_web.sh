#!/usr/bin/env bash
# Builds the dashboard (web/dashboard, plain ES modules) into web/dist, which
# Firebase Hosting serves: esbuild bundles it with the Firebase JS SDK from
# node_modules. Run by scripts/setup.sh; web/dist is git-ignored.
set -euo pipefail
cd "$(dirname "$0")/.."

out=web/dist
rm -rf "$out"
mkdir -p "$out"
node_modules/.bin/esbuild web/dashboard/main.js --bundle --format=esm --target=es2022 \
  --minify --sourcemap --legal-comments=linked --outfile="$out/app.js" --log-level=warning
cp web/dashboard/index.html web/dashboard/styles.css "$out/"
