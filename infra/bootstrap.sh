# Sourced by tests/run.sh and infra/local/start.sh: makes .venv (Python 3.13) with everything Parley
# needs to run locally and to test, on a fresh machine. Quick when nothing changed.
set -euo pipefail
PARLEY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$PARLEY_ROOT"

find_python() {
    local candidate
    for candidate in "${PARLEY_PYTHON:-}" python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3.13 /root/.pyenv/versions/3.13*/bin/python3.13; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info[:2] >= (3, 12)' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "Parley needs Python 3.13 (3.12 works too): set PARLEY_PYTHON to one" >&2
    return 1
}

# Every package of the venv at the version infra/requirements-venv.lock pins (made from pyproject.toml with the
# deployed layer's pins as constraints, so the tests run what Lambda runs): a fresh machine gets what the last
# green run had, not whatever PyPI published since. Its header has the command that remakes it.
lock=infra/requirements-venv.lock
stamp=".venv/.parley-$(cat pyproject.toml "$lock" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    python="$(find_python)"
    echo "Setting up .venv with $python …" >&2
    # uv is much faster than pip; installed with pip when missing, used as `python -m uv` (no PATH needed).
    uv=()
    if command -v uv >/dev/null 2>&1; then
        uv=(uv)
    elif "$python" -m uv --version >/dev/null 2>&1 \
        || "$python" -m pip install --quiet --disable-pip-version-check uv >/dev/null 2>&1; then
        uv=("$python" -m uv)
    fi
    if [ ${#uv[@]} -gt 0 ] && "${uv[@]}" --version >/dev/null 2>&1; then
        "${uv[@]}" venv --quiet --allow-existing -p "$python" .venv
        # --compile-bytecode: .pyc files for every dependency, as the deployed layer has them (layers/build.py);
        # without them each fresh process recompiles botocore & co. and cold starts measure the compiler.
        "${uv[@]}" pip install --quiet --compile-bytecode -p .venv/bin/python -r "$lock"
        "${uv[@]}" pip install --quiet --compile-bytecode -p .venv/bin/python --no-deps -e .
    else
        "$python" -m venv .venv
        .venv/bin/pip install --quiet --disable-pip-version-check -r "$lock"  # pip compiles .pyc itself
        .venv/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
    fi
    rm -f .venv/.parley-*
    touch "$stamp"
fi
# botocore's data trimmed to the services Parley calls, next to the venv's botocore, where shared/storage/aws.py looks
# for it (~40 ms less CPU per cold start, as the deployed layer has it); remade when botocore's version changes.
.venv/bin/python layers/botocore_data.py || echo "botocore's data not trimmed: its full data is used (slower)" >&2
# .pyc files for every dependency, as the deployed layer has them: a venv without them (an install run with
# PYTHONDONTWRITEBYTECODE=1, a package added by hand) recompiles botocore & co. in every fresh process, and cold
# starts measure the compiler (~2.5x slower). Checked again whenever site-packages changed (~2 s when up to date).
site_packages=(.venv/lib/python3*/site-packages)
if [ ! -f .venv/.parley-compiled ] || [ -n "$(find "${site_packages[@]}" -maxdepth 0 -newer .venv/.parley-compiled)" ]; then
    .venv/bin/python -m compileall -q -j 0 "${site_packages[@]}" >/dev/null \
        || echo "some dependencies could not be precompiled (see above): they compile on each import" >&2
    touch .venv/.parley-compiled
fi
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
# The web client `parley local` serves at / (web/dist): built when npm is here and its sources changed.
if command -v npm >/dev/null 2>&1; then
    bash web/build.sh || echo "The web client could not be built (see above): / explains how" >&2
fi
