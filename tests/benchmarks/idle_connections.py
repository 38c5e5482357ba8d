"""Delivery with many idle WebSocket connections open, through `parley local`.

Two `parley local`s, each with one pair: the one measured and a control that never gets other
connections. A pair's send → delivery latency is measured on both, one send at a time, alternating between
them (nothing else connected: the floor); then 10,000 (2,000 with `--quick`) other users each open one
WebSocket to the first and stay silent, and both pairs are measured again, alternating; last, every idle
socket must still be open. Target (issue 6): with the idle sockets open, the p50 stays within 1.5× of an
idle server's, the control's measured at the same time, and no send times out.

Why a control: opening the sockets takes minutes, and on a shared 2-core machine the load of other work
changes that much in minutes (runs went 0.86× and 1.90× with the same code). The control's sends take
turns with the measured ones, so both see the same machine; its ratio to its own floor shows how much
the machine's load alone moved latency and CPU meanwhile.

The idle sockets come from this one process (aiohttp, no reader task per socket: they receive nothing),
so the benchmark raises its open-file limit to the hard limit (`parley local`, a child, inherits it).
Idle means silent: a real client's heartbeat (`ping`, ~every 50 s) would be 200 requests/s for 10,000
clients. So that no idle user's presence lapses while the benchmark runs (the presence sweeper would then
record 10,000 users as offline: storage work, not idleness), this runtime's presence TTL is an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import resource
import time

from tests.benchmarks.common import Result, markdown_table, ms, summarize
from tests.benchmarks.delivery import LatencyRun, _latency, _latency_cells, _send_and_wait
from tests.benchmarks.local import (
    client_session,
    close_pairs,
    local_runtime,
    make_pairs,
    run_id,
    runtime_processes,
    token,
)

TARGET_RATIO = 1.5  # p50 with the idle sockets / an idle server's (the control's), measured taking turns
MEASURED, CONTROL = "measured", "control"  # the runtime that gets the idle sockets, the one that never does
CONNECT_CONCURRENCY = 64


def settings(quick: bool, tiny: bool = False) -> dict:
    if tiny:  # checks that every step runs, nothing more
        return dict(idle=20, sends=3)
    return dict(idle=2_000 if quick else 10_000, sends=30 if quick else 100)


def _raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise RuntimeError(f"open-file limit {soft} < {needed} needed: raise it (ulimit -n) and rerun")
    return soft


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def _open_idle(session, runtime, count: int) -> tuple[list, list[str], float]:
    """`count` users, one silent socket each: (sockets, failures, seconds taken)."""
    run = run_id()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    sockets, failures = [], []

    async def one(index: int) -> None:
        async with gate:
            try:
                ws = await session.ws_connect(runtime.ws_url, params={"token": token(f"idle{index}-{run}")},
                                              autoping=True, timeout=60)
            except Exception as error:  # counted and shown: a refused handshake is a finding
                failures.append(f"{type(error).__name__}: {error}"[:120])
                return
            sockets.append(ws)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return sockets, failures, time.perf_counter() - started


def _cpu(processes) -> dict:
    return {role: p.seconds() for role, p in processes.items()}


def _cpu_per_send(processes, before: dict, sends: int) -> dict:
    """CPU milliseconds each process spent per measured send: unlike latency, barely moved by other load
    on the machine."""
    after = _cpu(processes)
    return {role: (after[role] - before[role]) * 1000 / max(sends, 1) for role in processes
            if None not in (before[role], after[role])}


async def _alternating(pairs: dict, cfg: dict, label: str) -> dict[str, LatencyRun]:
    """`cfg["sends"]` sends per pair, one at a time, taking turns (the order flips every round): each
    runtime's LatencyRun, under the same load of the machine."""
    runs = {name: LatencyRun(f"{name}: {label}") for name in pairs}
    order = list(pairs)
    for index in range(cfg["sends"]):
        for name in order:
            await _send_and_wait(pairs[name], "ws", f"latency {index}", runs[name])
            await asyncio.sleep(random.uniform(0.01, 0.02))
        order.reverse()
    return runs


async def _phase(pairs: dict, processes: dict, cfg: dict, label: str) -> dict:
    before = {name: _cpu(procs) for name, procs in processes.items()}
    runs = await _alternating(pairs, cfg, label)
    return dict(runs=runs, load=os.getloadavg()[0], cpu={
        name: _cpu_per_send(processes[name], before[name], len(runs[name].delivery_ms)) for name in pairs})


async def _measure(runtimes: dict, cfg: dict) -> dict:
    async with client_session() as session:
        pairs = {}
        for name, runtime in runtimes.items():
            pairs[name] = (await make_pairs(session, runtime, 1, f"idle-pair-{name}"))[0]
            await _latency([pairs[name]], "ws", 3, (0, 0.02), "warm-up")
        processes = {name: runtime_processes(runtime) for name, runtime in runtimes.items()}
        floor = await _phase(pairs, processes, cfg, "no other connections")
        sockets, failures, connect_seconds = await _open_idle(session, runtimes[MEASURED], cfg["idle"])
        await asyncio.sleep(0.2 if cfg["idle"] < 100 else 2)  # the last $connects' work settles
        rss = _rss_mb(runtimes[MEASURED].pid)
        loaded = await _phase(pairs, processes, cfg, f"{len(sockets):,} idle connections open to {MEASURED}")
        still_open = sum(1 for ws in sockets if not ws.closed)
        closing = time.perf_counter()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        close_seconds = time.perf_counter() - closing
        await close_pairs(list(pairs.values()))
    return dict(floor=floor, loaded=loaded, opened=len(sockets), failures=failures, still_open=still_open,
                connect_seconds=connect_seconds, close_seconds=close_seconds, runtime_rss_mb=rss,
                own_rss_mb=_rss_mb(os.getpid()))


def _p50(run: LatencyRun) -> float | None:
    return summarize(run.delivery_ms).get("p50")


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return top / bottom if top and bottom else None


def run(quick: bool = False, tiny: bool = False) -> Result:
    result = Result("idle_connections", "delivery with many idle WebSocket connections open")
    cfg = settings(quick, tiny)
    _raise_fd_limit(cfg["idle"] + 1_000)
    with contextlib.ExitStack() as stack:
        runtimes = {name: stack.enter_context(local_runtime(PRESENCE_TTL_SECONDS="3600")) for name in (MEASURED, CONTROL)}
        phase = asyncio.run(_measure(runtimes, cfg))
    floor, loaded = phase["floor"], phase["loaded"]
    measured, control = loaded["runs"][MEASURED], loaded["runs"][CONTROL]
    ratio = _ratio(_p50(measured), _p50(control))
    runs = [run for p in (floor, loaded) for run in p["runs"].values()]
    timeouts = sum(run.lost + sum(run.errors.values()) for run in runs)
    result.add(
        f"send → delivery p50: idle server / {phase['opened']:,} idle sockets open (taking turns)",
        f"{ms(_p50(control))} / {ms(_p50(measured))}" + (f" ({ratio:.2f}×)" if ratio else ""),
        f"≤ {TARGET_RATIO}×",
        "FAIL" if ratio is None else ("ok" if ratio <= TARGET_RATIO else "MISSED"),
        f"n={len(control.delivery_ms)} / {len(measured.delivery_ms)}; before the sockets "
        f"{ms(_p50(floor['runs'][CONTROL]))} / {ms(_p50(floor['runs'][MEASURED]))}",
    )
    dropped = phase["opened"] - phase["still_open"]
    result.add(
        "timed-out sends / refused or dropped idle sockets",
        f"{timeouts} / {len(phase['failures'])} refused, {dropped} dropped",
        "0 / 0",
        "ok" if not (timeouts or phase["failures"] or dropped) else "FAIL",
        f"{cfg['idle']:,} asked for, opened in {phase['connect_seconds']:.0f} s",
    )
    rows = [[run.label, "delivery"] + _latency_cells(run.delivery_ms) for run in runs]
    rows += [[run.label, "sender's message_ack"] + _latency_cells(run.answer_ms) for run in runs]
    result.details.append(markdown_table(["run (1 pair per runtime, one send at a time, taking turns)", "measured",
                                          "n", "p50", "p95", "p99", "max"], rows))
    own_change = {name: _ratio(_p50(loaded["runs"][name]), _p50(floor["runs"][name])) for name in (MEASURED, CONTROL)}
    opened = phase["opened"]
    result.details.append(markdown_table(["idle sockets", "value"], [
        ["opened / asked for", f"{opened:,} / {cfg['idle']:,}"],
        ["time to open them (authorizer + `$connect` each, 64 at a time)",
         f"{phase['connect_seconds']:.1f} s ({opened / max(phase['connect_seconds'], 1e-9):.0f}/s)"],
        ["still open after the measured sends", f"{phase['still_open']:,}"],
        ["refused", ", ".join(sorted(set(phase["failures"])))[:300] or "none"],
        ["`parley local`'s memory with them open (RSS)", f"{phase['runtime_rss_mb']:.0f} MB"
         if phase["runtime_rss_mb"] else "?"],
        ["this client's memory (RSS)", f"{phase['own_rss_mb']:.0f} MB" if phase["own_rss_mb"] else "?"],
        ["time to close them", f"{phase['close_seconds']:.1f} s"],
        ["load average (1 min) after each phase: before / with the sockets", f"{floor['load']:.1f} / {loaded['load']:.1f}"],
        *([f"p50 with the sockets / before them, {name}", f"{change:.2f}×" if change else "–"]
          for name, change in own_change.items()),
        *([f"CPU per send, {name}: {role}, before / with the sockets",
           f"{floor['cpu'][name].get(role, 0):.1f} ms / {loaded['cpu'][name].get(role, 0):.1f} ms"]
          for name in (MEASURED, CONTROL) for role in loaded["cpu"][name]),
    ]))
    result.data = {
        "idle_asked": cfg["idle"], "idle_opened": opened, "still_open": phase["still_open"],
        "refused": len(phase["failures"]), "connect_seconds": phase["connect_seconds"],
        **{f"{when}_{name}": {"delivery": summarize(p["runs"][name].delivery_ms),
                              "answer": summarize(p["runs"][name].answer_ms)}
           for when, p in (("floor", floor), ("loaded", loaded)) for name in (MEASURED, CONTROL)},
        "p50_ratio": ratio, "p50_change": own_change, "timeouts": timeouts, "runtime_rss_mb": phase["runtime_rss_mb"],
        "load_average": {"floor": floor["load"], "loaded": loaded["load"]},
        "cpu_ms_per_send": {"floor": floor["cpu"], "loaded": loaded["cpu"]},
    }
    return result


if __name__ == "__main__":
    from tests.benchmarks.run import main

    raise SystemExit(main(["--only", "idle_connections"]))
