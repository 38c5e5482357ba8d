"""Message delivery through `parley local`: latency from send to the receiver's `new_message` frame, and
sustained throughput with a bounded number of sends in flight.

Latency: sender/receiver pairs, each receiver on a WebSocket. A sender sends (WebSocket `sendMessage`,
or HTTP POST) and waits for its receiver's `new_message` frame carrying the same client_message_id
before sending again; pairs run concurrently. Latency = send → that frame's arrival.

Throughput: many pairs, a fixed number of WebSocket sends in flight for a fixed time. A send is done
when its `message_ack` (stored, pushed) comes back; afterwards every acknowledged message must have
reached its receiver and be in the conversation's history exactly once; anything else is reported as
lost (a correctness failure, not a performance number).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import time
import uuid
from collections import Counter

from tests.benchmarks.common import Result, markdown_table, ms, summarize, under
from tests.benchmarks.local import (
    close_pairs,
    client_session,
    local_runtime,
    make_pairs,
    runtime_processes,
    stored_items,
)

TARGET_DELIVERY_MS = 200
TARGET_THROUGHPUT = 1000  # messages/s
ANSWER_TIMEOUT = 15.0  # seconds a send may wait for its ack / delivery before it counts as failed
DRAIN_TIMEOUT = 15.0
RETRY_SHARE = 0.1  # of sustained-load sends that repeat an earlier, acknowledged send (a client's retry)


def settings(quick: bool, tiny: bool = False) -> dict:
    if tiny:  # checks that every phase runs, nothing more
        return dict(latency_pairs=2, idle_sends=2, sends_per_pair=2, throughput_pairs=2, in_flight=2, duration=1.0)
    return dict(
        latency_pairs=20,
        idle_sends=10 if quick else 30,
        sends_per_pair=8 if quick else 25,
        throughput_pairs=20 if quick else 50,
        in_flight=32,
        duration=5.0 if quick else 20.0,
    )


def run(quick: bool = False, tiny: bool = False) -> Result:
    """Each run gets a fresh `parley local`: how much it already holds changes what moto costs."""
    result = Result("delivery", "message delivery latency and sustained throughput through `parley local`")
    cfg = settings(quick, tiny)
    pairs = cfg["latency_pairs"]
    latency_runs = [
        ("ws", 1, cfg["idle_sends"], (0.02, 0.02), "WebSocket send, 1 pair, otherwise idle"),
        ("ws", pairs, cfg["sends_per_pair"], (0, 0.05), f"WebSocket send, {pairs} pairs concurrently"),
        ("http", pairs, cfg["sends_per_pair"], (0, 0.05), f"HTTP send, {pairs} pairs concurrently"),
    ]
    runs = []
    with contextlib.ExitStack() as stack:
        # tiny checks the phases run, not what moto costs: one runtime for all of them saves its start-ups.
        shared = stack.enter_context(local_runtime()) if tiny else None

        def phase_runtime():
            return contextlib.nullcontext(shared) if shared else local_runtime()

        for transport, measured_pairs, sends, pause, label in latency_runs:
            with phase_runtime() as runtime:
                runs.append(asyncio.run(_latency_phase(runtime, cfg, transport, measured_pairs, sends, pause, label)))
        with phase_runtime() as runtime:
            phase = asyncio.run(_throughput_phase(runtime, cfg))
    _report(result, cfg, runs, phase)
    return result


class LatencyRun:
    def __init__(self, label: str):
        self.label = label
        self.delivery_ms: list[float] = []
        self.answer_ms: list[float] = []  # WebSocket: the sender's message_ack; HTTP: the response
        self.errors: Counter[str] = Counter()
        self.lost = 0  # acknowledged as stored, never delivered


async def _send_and_wait(pair, transport: str, content: str, run: LatencyRun) -> None:
    client_message_id = uuid.uuid4().hex
    delivered = pair.receiver_socket.expect("new_message", client_message_id)
    if transport == "ws":
        acked = pair.sender_socket.expect("ack", client_message_id)
        started = time.perf_counter()
        await pair.sender_socket.send_message(pair.conversation_id, content, client_message_id)
        try:
            answered, frame = await asyncio.wait_for(acked, ANSWER_TIMEOUT)
        except TimeoutError:
            run.errors["no message_ack"] += 1
            pair.receiver_socket.forget("new_message", client_message_id)
            return
        if frame.get("type") != "message_ack":
            run.errors[f"error frame: {(frame.get('data') or {}).get('error', {}).get('code')}"] += 1
            pair.receiver_socket.forget("new_message", client_message_id)
            return
    else:
        started = time.perf_counter()
        status, body = await pair.sender.send(pair.conversation_id, content, client_message_id)
        answered = time.perf_counter()
        if status != 201:
            run.errors[f"HTTP {status}"] += 1
            pair.receiver_socket.forget("new_message", client_message_id)
            return
    run.answer_ms.append((answered - started) * 1000)
    try:
        arrived, _ = await asyncio.wait_for(delivered, ANSWER_TIMEOUT)
    except TimeoutError:
        run.lost += 1
        return
    run.delivery_ms.append((arrived - started) * 1000)


async def _latency(pairs, transport: str, sends_per_pair: int, pause: tuple[float, float], label: str) -> LatencyRun:
    run = LatencyRun(label)

    async def one_pair(pair):
        for index in range(sends_per_pair):
            await _send_and_wait(pair, transport, f"latency {index}", run)
            await asyncio.sleep(random.uniform(*pause))  # keeps pairs from marching in step

    await asyncio.gather(*(one_pair(pair) for pair in pairs))
    return run


class ThroughputRun:
    def __init__(self):
        self.sent = 0
        self.retries = 0
        self.retrying: set[str] = set()
        self.sent_log: list[tuple] = []  # (pair, client_message_id, content, message id) of acknowledged sends
        self.acked: dict[str, set[str]] = {}  # conversation -> client_message_ids acknowledged
        self.unanswered: set[str] = set()
        self.errors: Counter[str] = Counter()
        self.deliveries: list[tuple[float, asyncio.Future]] = []
        self.answer_ms: list[float] = []
        self.started = 0.0
        self.last_ack = 0.0


async def _throughput(pairs, in_flight: int, duration: float) -> ThroughputRun:
    run = ThroughputRun()
    round_robin = itertools.cycle(pairs)
    run.started = time.perf_counter()
    deadline = run.started + duration

    async def worker(index: int):
        while time.perf_counter() < deadline:
            if run.sent_log and random.random() < RETRY_SHARE:
                sent = random.choice(run.sent_log)
                if sent[1] not in run.retrying:  # one retry of a send at a time: answers match by its id
                    run.retrying.add(sent[1])
                    await _retry(sent)
                    run.retrying.discard(sent[1])
                    continue
            pair = next(round_robin)
            client_message_id = uuid.uuid4().hex
            content = f"load {run.sent}"
            delivered = pair.receiver_socket.expect("new_message", client_message_id)
            acked = pair.sender_socket.expect("ack", client_message_id)
            started = time.perf_counter()
            await pair.sender_socket.send_message(pair.conversation_id, content, client_message_id)
            run.sent += 1
            try:
                answered, frame = await asyncio.wait_for(acked, ANSWER_TIMEOUT)
            except TimeoutError:
                run.errors["no message_ack within 15 s"] += 1
                run.unanswered.add(client_message_id)
                pair.receiver_socket.forget("new_message", client_message_id)
                continue
            if frame.get("type") != "message_ack":
                run.errors[f"error frame: {(frame.get('data') or {}).get('error', {}).get('code')}"] += 1
                pair.receiver_socket.forget("new_message", client_message_id)
                continue
            run.answer_ms.append((answered - started) * 1000)
            run.acked.setdefault(pair.conversation_id, set()).add(client_message_id)
            run.last_ack = max(run.last_ack, answered)
            run.deliveries.append((started, delivered))
            run.sent_log.append((pair, client_message_id, content, frame["data"]["message"]["id"]))

    async def _retry(sent):
        """A client's retry of an acknowledged send: must answer with the same message, store nothing."""
        pair, client_message_id, content, message_id = sent
        acked = pair.sender_socket.expect("ack", client_message_id)
        await pair.sender_socket.send_message(pair.conversation_id, content, client_message_id)
        run.retries += 1
        try:
            _, frame = await asyncio.wait_for(acked, ANSWER_TIMEOUT)
        except TimeoutError:
            run.errors["retry: no message_ack within 15 s"] += 1
            return
        data = frame.get("data") or {}
        if frame.get("type") != "message_ack":
            run.errors[f"retry: error frame: {data.get('error', {}).get('code')}"] += 1
        elif not data.get("duplicate") or data["message"]["id"] != message_id:
            run.errors["retry answered with a different message"] += 1

    await asyncio.gather(*(worker(i) for i in range(in_flight)))
    pending = [future for _, future in run.deliveries if not future.done()]
    if pending:
        await asyncio.wait(pending, timeout=DRAIN_TIMEOUT)
    return run


async def _stored_check(pairs, run: ThroughputRun) -> tuple[int, int, int]:
    """(acknowledged but missing from history, stored more than once, stored though unanswered)."""
    missing = duplicated = stored_unanswered = 0
    gate = asyncio.Semaphore(8)

    async def check(pair):
        nonlocal missing, duplicated, stored_unanswered
        seen: Counter[str] = Counter()
        cursor = None
        async with gate:
            while True:
                params = {"limit": "100"} | ({"cursor": cursor} if cursor else {})
                status, body = await pair.receiver.request("GET", f"/conversations/{pair.conversation_id}/messages",
                                                           params=params)
                if status != 200:
                    raise RuntimeError(f"history check: HTTP {status} {body}")
                seen.update(message["client_message_id"] for message in body["messages"])
                cursor = body["next_cursor"]
                if not cursor:
                    break
        acked = run.acked.get(pair.conversation_id, set())
        missing += len(acked - seen.keys())
        duplicated += sum(1 for n in seen.values() if n > 1)
        stored_unanswered += len(run.unanswered & seen.keys())

    await asyncio.gather(*(check(pair) for pair in pairs))
    return missing, duplicated, stored_unanswered


def _latency_cells(values: list[float]) -> list[str]:
    s = summarize(values)
    return [str(s["n"])] + [ms(s.get(k)) for k in ("p50", "p95", "p99", "max")]


async def _latency_phase(runtime, cfg: dict, transport: str, measured_pairs: int, sends: int,
                         pause: tuple[float, float], label: str) -> LatencyRun:
    async with client_session() as session:
        pairs = await make_pairs(session, runtime, cfg["latency_pairs"], "lat")
        # Warm up: every function the run uses is imported and has its clients (unmeasured).
        await _latency(pairs, "ws", 2, (0, 0.02), "warm-up")
        await _latency(pairs, "http", 1, (0, 0.02), "warm-up")
        run = await _latency(pairs[:measured_pairs], transport, sends, pause, label)
        await close_pairs(pairs)
    return run


async def _throughput_phase(runtime, cfg: dict) -> dict:
    async with client_session() as session:
        pairs = await make_pairs(session, runtime, cfg["throughput_pairs"], "tput")
        await _latency(pairs, "ws", 1, (0, 0.02), "warm-up")
        stored_before = stored_items(runtime)
        processes = runtime_processes(runtime)
        cpu_before, own_before = {role: p.seconds() for role, p in processes.items()}, os.times()
        throughput = await _throughput(pairs, cfg["in_flight"], cfg["duration"])
        cpu_after, own_after = {role: p.seconds() for role, p in processes.items()}, os.times()
        stored_after = stored_items(runtime)
        missing, duplicated, stored_unanswered = await _stored_check(pairs, throughput)
        unexpected = Counter()
        for pair in pairs:
            unexpected.update(pair.receiver_socket.unexpected)
        await close_pairs(pairs)
    elapsed = max(throughput.last_ack - throughput.started, 1e-9)
    return dict(
        run=throughput, elapsed=elapsed, stored_before=stored_before, stored_after=stored_after,
        missing=missing, duplicated=duplicated, stored_unanswered=stored_unanswered, unexpected=unexpected,
        runtime_cpu_shares={role: (cpu_after[role] - cpu_before[role]) / elapsed for role in processes
                            if None not in (cpu_before[role], cpu_after[role])},
        load_average=os.getloadavg()[0],
        own_cpu_share=((own_after.user + own_after.system) - (own_before.user + own_before.system)) / elapsed,
    )


def _report(result: Result, cfg: dict, runs: list[LatencyRun], phase: dict) -> None:
    throughput, elapsed = phase["run"], phase["elapsed"]
    missing, duplicated, stored_unanswered = phase["missing"], phase["duplicated"], phase["stored_unanswered"]
    stored_before, stored_after, unexpected = phase["stored_before"], phase["stored_after"], phase["unexpected"]
    runtime_cpu_shares, own_cpu_share = phase["runtime_cpu_shares"], phase["own_cpu_share"]

    # ---------------------------------------------------------------------------------- latency rows
    for run in runs:
        s = summarize(run.delivery_ms)
        value = f"{ms(s.get('p50'))} / {ms(s.get('p95'))} / {ms(s.get('p99'))}" if s["n"] else "no deliveries"
        result.add(f"send → delivery p50/p95/p99: {run.label}", value, f"p99 < {TARGET_DELIVERY_MS} ms",
                   under(s["p99"], TARGET_DELIVERY_MS) if s["n"] else "FAIL", f"n={s['n']}")
        if run.lost or run.errors:
            result.add(f"{run.label}: failures", f"{run.lost} lost, {sum(run.errors.values())} errors",
                       "0", "FAIL", ", ".join(f"{k}: {n}" for k, n in run.errors.items()))
        result.data[run.label] = {"delivery": summarize(run.delivery_ms), "answer": summarize(run.answer_ms),
                                  "lost": run.lost, "errors": dict(run.errors)}

    # ------------------------------------------------------------------------------- throughput rows
    acked = sum(len(ids) for ids in throughput.acked.values())
    delivered = [(future.result()[0] - started) * 1000 for started, future in throughput.deliveries if future.done()
                 and not future.cancelled()]
    not_delivered = acked - len(delivered)
    rate = len(delivered) / elapsed
    errors = sum(throughput.errors.values())
    label = (f"sustained throughput: WebSocket sends, {cfg['throughput_pairs']} pairs, "
             f"{cfg['in_flight']} in flight, {cfg['duration']:.0f} s")
    result.add(label, f"{rate:.0f} msg/s", f"{TARGET_THROUGHPUT:,} msg/s",
               "ok" if rate >= TARGET_THROUGHPUT else "MISSED",
               f"{len(delivered)} stored+delivered in {elapsed:.1f} s")
    load = summarize(delivered)
    result.add("send → delivery p50/p99 under that load", f"{ms(load.get('p50'))} / {ms(load.get('p99'))}",
               f"p99 < {TARGET_DELIVERY_MS} ms", under(load["p99"], TARGET_DELIVERY_MS) if load["n"] else "FAIL")
    lost = not_delivered + missing
    result.add(
        "lost messages / errors under load",
        f"{lost} lost · {errors} errors · {duplicated} stored twice",
        "0 · 0 · 0",
        "ok" if not (lost or errors or duplicated) else "FAIL",
        f"{not_delivered} acked but not delivered, {missing} acked but not in history"
        + (f"; errors: {dict(throughput.errors)}" if errors else ""),
    )

    # ----------------------------------------------------------------------------------- detail tables
    rows = [[run.label, "delivery (send → receiver's frame)"] + _latency_cells(run.delivery_ms) for run in runs]
    rows += [[run.label, "sender's answer (message_ack / HTTP 201)"] + _latency_cells(run.answer_ms) for run in runs]
    rows += [[f"under sustained load ({cfg['in_flight']} in flight)", "delivery"] + _latency_cells(delivered)]
    rows += [[f"under sustained load ({cfg['in_flight']} in flight)", "sender's message_ack"]
             + _latency_cells(throughput.answer_ms)]
    result.details.append(markdown_table(["run", "measured", "n", "p50", "p95", "p99", "max"], rows))
    result.details.append(
        markdown_table(
            ["sustained load", "value"],
            [
                ["new sends / acknowledged (stored) / delivered", f"{throughput.sent} / {acked} / {len(delivered)}"],
                ["retries of acknowledged sends (same client_message_id)", str(throughput.retries)],
                ["stored+delivered per second", f"{rate:.1f}"],
                ["errors", ", ".join(f"{k}: {n}" for k, n in throughput.errors.items()) or "none"],
                ["acknowledged but never delivered", str(not_delivered)],
                ["acknowledged but missing from history / stored twice", f"{missing} / {duplicated}"],
                ["unanswered sends found stored anyway", f"{stored_unanswered} of {len(throughput.unanswered)}"],
                ["frames no send was waiting for (repeat deliveries)", str(sum(unexpected.values()))],
                ["messages the runtime held before / after the run", f"{stored_before} / {stored_after}"],
                *([f"CPU: {role}", f"{share:.0%} of one core, {share * 1000 / max(rate, 1e-9):.1f} ms per delivered message"]
                  for role, share in runtime_cpu_shares.items()),
                ["load average (1 min) at the end of the run", f"{phase['load_average']:.1f}"],
                ["CPU: this load generator", f"{own_cpu_share:.0%} of one core"],
            ],
        )
    )
    result.data["throughput"] = {
        "pairs": cfg["throughput_pairs"], "in_flight": cfg["in_flight"], "duration_s": cfg["duration"],
        "elapsed_s": elapsed, "sent": throughput.sent, "retries": throughput.retries, "acked": acked,
        "delivered": len(delivered),
        "messages_per_second": rate, "errors": dict(throughput.errors), "not_delivered": not_delivered,
        "missing_from_history": missing, "stored_twice": duplicated, "unanswered": len(throughput.unanswered),
        "unanswered_but_stored": stored_unanswered, "delivery": load, "ack": summarize(throughput.answer_ms),
        "messages_held_before": stored_before, "messages_held_after": stored_after,
        "runtime_cpu_cores": runtime_cpu_shares, "generator_cpu_cores": own_cpu_share,
        "cpu_ms_per_message": {role: share * 1000 / max(rate, 1e-9) for role, share in runtime_cpu_shares.items()},
        "load_average": phase["load_average"],
    }


if __name__ == "__main__":
    from tests.benchmarks.run import main

    raise SystemExit(main(["--only", "delivery"]))
