"""The benchmark runner's files: `--only X` replaces X's figures in results/latest.* and keeps the others'."""

from __future__ import annotations

import json
import os
import shutil

import pytest

pytestmark = pytest.mark.unit


def _import_runner():
    # The benchmarks fix their own environment when imported (tests/benchmarks/common.py): not this one's.
    saved = os.environ.copy()
    try:
        from tests.benchmarks import run
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return run


run = _import_runner()


@pytest.fixture
def runner(tmp_path, monkeypatch):
    """run.main with every benchmark answering at once with `figure` as its value."""
    from tests.benchmarks.common import Result

    monkeypatch.setattr(run, "RESULTS_DIR", tmp_path)
    figure = {"value": "first"}

    def run_one(name: str, quick: bool, tiny: bool = False) -> Result:
        result = Result(name, run.BENCHMARKS[name])
        result.add("latency", f"{name} {figure['value']}")
        result.details.append(f"{name}'s table, {figure['value']} run")
        result.data = {"value": figure["value"]}
        return result

    monkeypatch.setattr(run, "run_one", run_one)
    return figure


def test_only_replaces_its_own_figures_and_keeps_the_others(runner, tmp_path) -> None:
    assert run.main(["--quick"]) == 0
    runner["value"] = "second"
    assert run.main(["--only", "history", "--only", "delivery"]) == 0

    report = (tmp_path / "latest.md").read_text()
    for name in run.BENCHMARKS:
        value = "second" if name in ("history", "delivery") else "first"
        assert f"| {name} | latency | {name} {value} |" in report
        assert f"## {name}: {run.BENCHMARKS[name]}" in report and f"{name}'s table, {value} run" in report
    assert "first run" in report and report.count("## ") == len(run.BENCHMARKS)
    stored = json.loads((tmp_path / "latest.json").read_text())["benchmarks"]
    assert list(stored) == list(run.BENCHMARKS)
    assert {name: entry["data"]["value"] for name, entry in stored.items()} == {
        name: "second" if name in ("history", "delivery") else "first" for name in run.BENCHMARKS
    }
    assert stored["history"]["run"]["mode"] == "full" and stored["fan_out"]["run"]["mode"] == "quick"


def test_only_keeps_every_row_and_section_of_the_checked_in_results(runner, tmp_path) -> None:
    # Including what an older runner wrote, or a section added by hand.
    for name in ("latest.md", "latest.json"):
        shutil.copy(run.REPO / "tests" / "benchmarks" / "results" / name, tmp_path / name)
    earlier_rows, earlier_sections = run._report_parts((tmp_path / "latest.md").read_text())
    earlier_json = json.loads((tmp_path / "latest.json").read_text())["benchmarks"]

    assert run.main(["--only", "moto_query"]) == 0

    report = (tmp_path / "latest.md").read_text()
    for name, rows in earlier_rows.items():
        if name != "moto_query":
            assert all(row in report for row in rows), name
    for name, section in earlier_sections.items():
        if name != "moto_query":
            assert section in report, name
    stored = json.loads((tmp_path / "latest.json").read_text())["benchmarks"]
    assert set(stored) == set(earlier_json) | {"moto_query"}
    assert all(stored[name]["rows"] == earlier_json[name]["rows"] for name in earlier_json if name != "moto_query")
