#!/usr/bin/env bash
# Sets up what the tests need (Python venv, the pinned CDK CLI) and runs them all:
# unit, component (moto + a real Redis), e2e (real clients against `parley local`), fuzz (hypothesis against
# `parley local`), infra (the template), browser (the web client in headless Chromium; web/build.sh builds it).
# Extra arguments go to pytest, e.g. `bash tests/run.sh -m unit` or `bash tests/run.sh tests/e2e`.
source "$(dirname "$0")/../infra/bootstrap.sh"
if [ -f package-lock.json ] && command -v npm >/dev/null 2>&1 && [ ! -x node_modules/.bin/cdk ]; then
    npm ci --no-audit --no-fund --loglevel=error >&2
fi
# The browser tests' Chromium and its driver: Debian's packages (nothing may download a browser).
if [ ! -x /usr/bin/chromedriver ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing chromium and chromium-driver for the browser tests …" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        chromium chromium-driver fonts-noto-color-emoji; } >&2 || echo "could not install chromium" >&2
fi
# Search's SQLite as deployed: tests/infra/test_search_sqlite.py runs the layer's aarch64 library under qemu,
# and an arm64 python3.13 that the test itself fetches from Debian (tests/support/arm64_python.sh).
if ! command -v qemu-aarch64-static >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing qemu-user-static and gcc-aarch64-linux-gnu for the arm64 SQLite test …" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        qemu-user-static gcc-aarch64-linux-gnu libc6-dev-arm64-cross; } >&2 || echo "could not install qemu" >&2
fi
exec .venv/bin/python -m pytest "$@"
