#!/usr/bin/env bash
# Sets up .venv if needed, then runs `parley local` (arguments pass through, e.g. --port 9000).
source "$(dirname "$0")/../bootstrap.sh"
exec .venv/bin/python -m infra.local.cli local "$@"
