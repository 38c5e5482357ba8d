"""The benchmark harness runs whole: every benchmark, one after another in one process, on a tiny load.

Its in-process steps each start their own moto server; a client cached from an earlier step used to outlive
its server and fail the later steps (503), though each passed alone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(os.environ.get("PARLEY_HTTP_URL")), reason="the harness drives its own parley local"),
]

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS = REPO_ROOT / "tests" / "benchmarks" / "results"


def test_the_whole_harness_runs_on_a_tiny_load() -> None:
    # (Not importing tests.benchmarks here: it clears this process's backend settings on import.)
    written_before = {path.name: path.read_bytes() for path in RESULTS.glob("latest.*")}
    result = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.run", "--tiny"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    ran = re.findall(r"^\[bench\] (\w+): running", result.stderr, flags=re.MULTILINE)
    assert "calls_per_send" in ran and ran.index("calls_per_send") > ran.index("cold_start"), ran
    summary = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert {line.split("|")[1].strip() for line in summary} >= set(ran)  # every step reported numbers
    assert not [line for line in summary if "| FAIL |" in line]
    # The step that used to fail after cold_start: it counted a send's calls.
    assert any(line.split("|")[1].strip() == "calls_per_send" and "DynamoDB" in line for line in summary)
    # A tiny run is a check, not a measurement: the published results stay as they were.
    assert {path.name: path.read_bytes() for path in RESULTS.glob("latest.*")} == written_before
