"""Delivery with many idle WebSocket connections open, through `parley local`.

One `parley local`: a pair's send → delivery latency is measured with nothing else connected (the
floor), then 10,000 (2,000 with `--quick`) other users each open one WebSocket and stay silent, and the
same pair is measured again; last, every idle socket must still be open. Target (issue 6): the p50 with
the idle sockets stays within 1.5× of the floor's and no send times out.

The idle sockets come from this one process (aiohttp, no reader task per socket: they receive nothing),
so the benchmark raises its open-file limit to the hard limit (`parley local`, a child, inherits it).
Idle means silent: a real client's heartbeat (`ping`, ~every 50 s) would be 200 requests/s for 10,000
clients. So that no idle user's presence lapses while the benchmark runs (the presence sweeper would then
record 10,000 users as offline: storage work, not idleness), this runtime's presence TTL is an hour.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time

from tests.benchmarks.common import Result, markdown_table, ms, summarize
from tests.benchmarks.delivery import _latency, _latency_cells
from tests.benchmarks.local import (
    client_session,
    close_pairs,
    local_runtime,
    make_pairs,
    run_id,
    runtime_processes,
    token,
)

TARGET_RATIO = 1.5  # p50 with the idle sockets / p50 without
CONNECT_CONCURRENCY = 64


def settings(quick: bool, tiny: bool = False) -> dict:
    if tiny:  # checks that every step runs, nothing more
        return dict(idle=20, sends=3)
    return dict(idle=2_000 if quick else 10_000, sends=20 if quick else 60)


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


async def _measure(runtime, cfg: dict) -> dict:
    async with client_session() as session:
        pairs = await make_pairs(session, runtime, 1, "idle-pair")
        await _latency(pairs, "ws", 3, (0, 0.02), "warm-up")
        processes = runtime_processes(runtime)
        floor_cpu = _cpu(processes)
        floor = await _latency(pairs, "ws", cfg["sends"], (0.02, 0.02), "no other connections")
        floor_cpu = _cpu_per_send(processes, floor_cpu, len(floor.delivery_ms))
        sockets, failures, connect_seconds = await _open_idle(session, runtime, cfg["idle"])
        await asyncio.sleep(0.2 if cfg["idle"] < 100 else 2)  # the last $connects' work settles
        rss = _rss_mb(runtime.pid)
        loaded_cpu = _cpu(processes)
        loaded = await _latency(pairs, "ws", cfg["sends"], (0.02, 0.02), f"{len(sockets):,} idle connections open")
        loaded_cpu = _cpu_per_send(processes, loaded_cpu, len(loaded.delivery_ms))
        still_open = sum(1 for ws in sockets if not ws.closed)
        closing = time.perf_counter()
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        close_seconds = time.perf_counter() - closing
        await close_pairs(pairs)
    return dict(floor=floor, loaded=loaded, opened=len(sockets), failures=failures, still_open=still_open,
                connect_seconds=connect_seconds, close_seconds=close_seconds, runtime_rss_mb=rss,
                own_rss_mb=_rss_mb(os.getpid()), floor_cpu=floor_cpu, loaded_cpu=loaded_cpu)


def run(quick: bool = False, tiny: bool = False) -> Result:
    result = Result("idle_connections", "delivery with many idle WebSocket connections open")
    cfg = settings(quick, tiny)
    _raise_fd_limit(cfg["idle"] + 1_000)
    with local_runtime(PRESENCE_TTL_SECONDS="3600") as runtime:
        phase = asyncio.run(_measure(runtime, cfg))
    floor, loaded = phase["floor"], phase["loaded"]
    base, under_load = summarize(floor.delivery_ms), summarize(loaded.delivery_ms)
    ratio = (under_load["p50"] / base["p50"]) if base["n"] and under_load["n"] else None
    timeouts = floor.lost + loaded.lost + sum(floor.errors.values()) + sum(loaded.errors.values())
    result.add(
        f"send → delivery p50: idle server / {phase['opened']:,} idle sockets open",
        f"{ms(base.get('p50'))} / {ms(under_load.get('p50'))}" + (f" ({ratio:.2f}×)" if ratio else ""),
        f"≤ {TARGET_RATIO}×",
        "FAIL" if ratio is None else ("ok" if ratio <= TARGET_RATIO else "MISSED"),
        f"n={base['n']} / {under_load['n']}",
    )
    dropped = phase["opened"] - phase["still_open"]
    result.add(
        "timed-out sends / refused or dropped idle sockets",
        f"{timeouts} / {len(phase['failures'])} refused, {dropped} dropped",
        "0 / 0",
        "ok" if not (timeouts or phase["failures"] or dropped) else "FAIL",
        f"{cfg['idle']:,} asked for, opened in {phase['connect_seconds']:.0f} s",
    )
    rows = [[run.label, "delivery"] + _latency_cells(run.delivery_ms) for run in (floor, loaded)]
    rows += [[run.label, "sender's message_ack"] + _latency_cells(run.answer_ms) for run in (floor, loaded)]
    result.details.append(markdown_table(["run (1 pair, one send at a time)", "measured", "n", "p50", "p95", "p99",
                                          "max"], rows))
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
        *([f"CPU per send, {role}: no other connections / idle ones open",
           f"{phase['floor_cpu'].get(role, 0):.1f} ms / {phase['loaded_cpu'].get(role, 0):.1f} ms"]
          for role in phase["loaded_cpu"]),
    ]))
    result.data = {
        "idle_asked": cfg["idle"], "idle_opened": opened, "still_open": phase["still_open"],
        "refused": len(phase["failures"]), "connect_seconds": phase["connect_seconds"],
        "floor": {"delivery": base, "answer": summarize(floor.answer_ms)},
        "loaded": {"delivery": under_load, "answer": summarize(loaded.answer_ms)},
        "p50_ratio": ratio, "timeouts": timeouts, "runtime_rss_mb": phase["runtime_rss_mb"],
        "cpu_ms_per_send": {"floor": phase["floor_cpu"], "loaded": phase["loaded_cpu"]},
    }
    return result


if __name__ == "__main__":
    from tests.benchmarks.run import main

    raise SystemExit(main(["--only", "idle_connections"]))
