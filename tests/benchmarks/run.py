"""Runs Parley's benchmarks and prints a Markdown report (also written to tests/benchmarks/results/).

    .venv/bin/python -m tests.benchmarks.run [--quick | --tiny] [--only NAME ...]

Benchmarks are not tests: nothing here passes or fails on speed. The exit status is 1 only when a
benchmark saw a correctness failure (a lost message, an error answer) or could not run.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import inspect
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from tests.benchmarks.common import Result, markdown_table

BENCHMARKS = {
    "delivery": "message delivery latency and sustained throughput through `parley local`",
    "idle_connections": "delivery with 10,000 idle WebSocket connections open through `parley local`",
    "fan_out": "delivery to 1, 3 and 10 devices of the recipient through `parley local`",
    "history": "loading a page of history through `parley local`",
    "cold_start": "import and first-invocation time of every function",
    "calls_per_send": "DynamoDB, Redis and management-API calls per operation",
    "search": "search latency and index cost over one user's messages",
    "redis_stopped": "send latency with Redis stopped (SIGSTOP), circuit breaker off and on",
    "read_cache": "history first page and conversation list: Redis cache vs DynamoDB",
    "moto_query": "the local DynamoDB's Query: one partition vs the whole table",
    "media": "image processing time, peak memory and cost per photo size",
}
RESULTS_DIR = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment() -> dict:
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        # The machine may be shared: latency and rates under other load are not comparable.
        "load_average": " / ".join(f"{load:.1f}" for load in os.getloadavg()) if hasattr(os, "getloadavg") else "?",
    }


def run_one(name: str, quick: bool, tiny: bool = False) -> Result:
    started = time.perf_counter()
    print(f"[bench] {name}: running ({BENCHMARKS[name]})…", file=sys.stderr, flush=True)
    try:
        run = importlib.import_module(f"tests.benchmarks.{name}").run
        # A benchmark without a tiny load runs its quick one (slower, but the harness still runs whole).
        tiny_load = {"tiny": tiny} if "tiny" in inspect.signature(run).parameters else {}
        result = run(quick=quick or tiny, **tiny_load)
    except Exception as error:  # one broken benchmark must not hide the others' numbers
        result = Result(name, BENCHMARKS[name])
        result.add("run", "did not complete", verdict="FAIL", note=f"{type(error).__name__}: {error}"[:300])
        result.details.append("```\n" + traceback.format_exc()[-3000:] + "```")
    result.seconds = time.perf_counter() - started
    print(f"[bench] {name}: done in {result.seconds:.1f} s", file=sys.stderr, flush=True)
    return result


_SUMMARY = ["benchmark", "metric", "value", "target", "vs target", "note"]


def run_note(env: dict, mode: str) -> str:
    """When and how a benchmark ran: under its section, so sections kept from earlier runs say theirs."""
    return f"{env['date']} · commit {env['commit'] or 'unknown'} · {mode} · load average {env['load_average']}"


def report(results: list[Result], env: dict, mode: str, total_seconds: float, earlier: str | None = None) -> str:
    """The Markdown report; given `earlier` (the report it replaces), the benchmarks not run now keep their
    summary rows and sections from it."""
    rows = {
        r.name: markdown_table(_SUMMARY, [[r.name, row.metric, row.value, row.target, row.verdict, row.note] for row in r.rows])
        .splitlines()[2:]  # the rows without the table's head
        for r in results
    }
    sections = {}
    for r in results:
        lines = [f"## {r.name}: {r.title}", f"_{r.seconds:.1f} s · {run_note(env, mode)}_"]
        for block in r.details:
            lines += ["", block]
        sections[r.name] = "\n".join(lines)
    kept_rows, kept_sections = _report_parts(earlier) if earlier else ({}, {})
    kept = [name for name in {**kept_rows, **kept_sections} if name not in rows]
    names = [name for name in BENCHMARKS if name in rows or name in kept] + [n for n in kept if n not in BENCHMARKS]
    lines = [
        f"# Parley benchmarks{f' ({mode})' if mode != 'full' else ''}",
        "",
        f"{env['date']} · commit {env['commit'] or 'unknown'} · Python {env['python']} · {env['machine']} · "
        f"total {total_seconds:.0f} s · load average at the end (1/5/15 min) {env['load_average']}",
        "",
        f"Through: {env['runtime']}.",
        "",
        "Local numbers: `parley local` serves the APIs in one Python process and runs the functions in worker "
        "processes (one per core), with moto as DynamoDB in another one and a local redis-server, all sharing "
        "this machine's CPUs with the load generator. They show "
        "relative cost and regressions, not what AWS would do (see tests/benchmarks/README.md).",
    ]
    if kept:
        lines += [
            "",
            f"This run: {', '.join(rows)}. Kept from earlier runs (`--only`): {', '.join(kept)}; the line under a "
            "section's title says when it ran (where the runner noted it).",
        ]
    lines += ["", markdown_table(_SUMMARY, [])]
    lines += [row for name in names for row in rows.get(name, kept_rows.get(name, []))]
    for name in names:
        section = sections.get(name, kept_sections.get(name))
        if section:
            lines += ["", section]
    return "\n".join(lines) + "\n"


def _report_parts(text: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """An earlier report's summary rows and sections, by benchmark name."""
    rows: dict[str, list[str]] = {}
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("| benchmark |")), len(lines))
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.setdefault(line.split("|")[1].strip(), []).append(line)
    sections = {}
    for chunk in ("\n" + text).split("\n## ")[1:]:
        sections[chunk.split(":", 1)[0].strip()] = ("## " + chunk).rstrip()
    return rows, sections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer samples (about a minute)")
    parser.add_argument("--tiny", action="store_true",
                        help="every step on a tiny load, to check that the harness runs whole (a test does); "
                        "the numbers mean nothing and nothing is written")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}; its figures "
                        "replace its own in latest.*, the others' stay")
    parser.add_argument("--aws-endpoint-url", metavar="URL",
                        help="back `parley local` with this DynamoDB endpoint (tables are created there)")
    parser.add_argument("--no-write", action="store_true", help=f"don't write {RESULTS_DIR}/latest.*")
    args = parser.parse_args(argv)

    from tests.benchmarks import local

    local.OPTIONS.aws_endpoint_url = args.aws_endpoint_url
    names = [name for name in BENCHMARKS if not args.only or name in args.only]
    started = time.perf_counter()
    results = [run_one(name, args.quick, args.tiny) for name in names]
    total = time.perf_counter() - started
    env = environment()
    env["runtime"] = local.OPTIONS.describe()
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    write = not (args.no_write or args.tiny)
    # --only: the other benchmarks' figures in latest.* stay as an earlier run left them.
    merge = bool(args.only) and write
    latest_md, latest_json = RESULTS_DIR / "latest.md", RESULTS_DIR / "latest.json"
    earlier = latest_md.read_text() if merge and latest_md.exists() else None
    text = report(results, env, mode, total, earlier)
    print(text)
    if write:
        RESULTS_DIR.mkdir(exist_ok=True)
        latest_md.write_text(text)
        benchmarks = _earlier_benchmarks(latest_json) if merge else {}
        benchmarks.update(
            {
                r.name: {"title": r.title, "seconds": round(r.seconds, 1), "failed": r.failed,
                         "rows": [asdict(row) for row in r.rows], "data": r.data, "details": r.details,
                         "run": {**env, "mode": mode}}
                for r in results
            }
        )  # fmt: skip
        payload = {"environment": env, "quick": args.quick, "total_seconds": round(total, 1), "benchmarks": benchmarks}
        latest_json.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
        print(f"[bench] wrote {latest_md} and latest.json" + (f" ({', '.join(names)}; the rest kept)" if merge else ""), file=sys.stderr)
    failed = [r.name for r in results if r.failed]
    if failed:
        print(f"[bench] CORRECTNESS FAILURES in: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _earlier_benchmarks(path: Path) -> dict:
    """latest.json's entries, each with the run it came from (older files kept that once, for all)."""
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    run = {**earlier.get("environment", {}), "mode": "quick" if earlier.get("quick") else "full"}
    return {name: {"run": run, **entry} for name, entry in earlier.get("benchmarks", {}).items()}


def _json_default(value):
    if isinstance(value, float):
        return round(value, 3)
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
