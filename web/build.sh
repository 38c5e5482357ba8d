#!/usr/bin/env bash
# Builds web/dist when its sources changed (npm ci first when the lock file did). Quick when nothing did.
# Run by infra/bootstrap.sh (so start.sh and tests/run.sh build it) and by the browser tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if ! command -v npm >/dev/null 2>&1; then
    echo "web/build.sh: npm is not installed (Node 20+): the web client is not built" >&2
    exit 1
fi
lock_hash="$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "node_modules/.parley-$lock_hash" ]; then
    npm ci --no-audit --no-fund --loglevel=error >&2
    touch "node_modules/.parley-$lock_hash"
fi
source_hash="$(cat package-lock.json build.mjs tsconfig.json $(find src static -type f | sort) | sha256sum | cut -c1-16)"
if [ ! -f "dist/.parley-$source_hash" ]; then
    node build.mjs
    touch "dist/.parley-$source_hash"
fi
