#!/usr/bin/env bash
# Sets up what the tests need (Python venv, the pinned CDK CLI) and runs them all:
# unit, component (moto + a real Redis), e2e (real clients against `parley local`), fuzz (hypothesis against
# `parley local`), infra (the template).
# Extra arguments go to pytest, e.g. `bash tests/run.sh -m unit` or `bash tests/run.sh tests/e2e`.
source "$(dirname "$0")/../infra/bootstrap.sh"
if [ -f package-lock.json ] && command -v npm >/dev/null 2>&1 && [ ! -x node_modules/.bin/cdk ]; then
    npm ci --no-audit --no-fund --loglevel=error >&2
fi
exec .venv/bin/python -m pytest "$@"
