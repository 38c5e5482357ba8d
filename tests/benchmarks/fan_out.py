"""Fan-out through `parley local`: a send's delivery to every device of its recipient.

One sender (one socket) and one recipient with 1, 3 or 10 connected devices (sockets); the sender sends
one message at a time (WebSocket `sendMessage`) and waits until every device has the `new_message`
frame. Latency = send → the frame on the first device and on the last one. Each device count gets a
fresh `parley local`. A frame missing on any device is a lost message (a correctness failure).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid

from tests.benchmarks.common import Result, markdown_table, ms, summarize
from tests.benchmarks.delivery import ANSWER_TIMEOUT
from tests.benchmarks.local import client_for, client_session, connect, local_runtime, run_id

DEVICE_COUNTS = (1, 3, 10)


def settings(quick: bool, tiny: bool = False) -> dict:
    return dict(sends=1 if tiny else 15 if quick else 40, devices=(1, 3) if tiny else DEVICE_COUNTS)


async def _measure(runtime, devices: int, sends: int) -> dict:
    run = run_id()
    async with client_session() as session:
        sender = client_for(session, runtime, f"fan-s-{run}")
        recipient_id = f"fan-r-{run}"
        conversation_id = await sender.start_conversation(recipient_id)
        recipient = client_for(session, runtime, recipient_id)
        sender_socket = await connect(sender)
        sockets = [await connect(recipient) for _ in range(devices)]
        first, last, lost, errors = [], [], 0, 0
        for index in range(sends + 2):  # the first two warm the functions up and are not counted
            client_message_id = uuid.uuid4().hex
            arrivals = [socket.expect("new_message", client_message_id) for socket in sockets]
            acked = sender_socket.expect("ack", client_message_id)
            started = time.perf_counter()
            await sender_socket.send_message(conversation_id, f"fan-out {index}", client_message_id)
            done, pending = await asyncio.wait([acked, *arrivals], timeout=ANSWER_TIMEOUT)
            for future in pending:
                future.cancel()
            if acked not in done or acked.result()[1].get("type") != "message_ack":
                errors += 1
                continue
            times = [future.result()[0] for future in arrivals if future in done]
            if index >= 2:
                lost += devices - len(times)
                if times:
                    first.append((min(times) - started) * 1000)
                    last.append((max(times) - started) * 1000)
            await asyncio.sleep(random.uniform(0.01, 0.03))
        for socket in [sender_socket, *sockets]:
            await socket.close()
    return dict(first=first, last=last, lost=lost, errors=errors)


def run(quick: bool = False, tiny: bool = False) -> Result:
    result = Result("fan_out", "delivery to 1, 3 and 10 devices of the recipient through `parley local`")
    cfg = settings(quick, tiny)
    sends = cfg["sends"]
    rows = []
    for devices in cfg["devices"]:
        with local_runtime() as runtime:
            measured = asyncio.run(_measure(runtime, devices, sends))
        first, last = summarize(measured["first"]), summarize(measured["last"])
        failed = measured["lost"] or measured["errors"]
        result.add(f"send → delivery on every one of {devices} device(s), p50 / p99",
                   f"{ms(last.get('p50'))} / {ms(last.get('p99'))}", "—",
                   "FAIL" if failed or not last["n"] else "ok",
                   f"n={last['n']}" + (f"; {measured['lost']} frames lost, {measured['errors']} errors" if failed else ""))
        rows.append([str(devices), str(last["n"]), ms(first.get("p50")), ms(first.get("p99")), ms(last.get("p50")),
                     ms(last.get("p99")), str(measured["lost"]), str(measured["errors"])])
        result.data[f"{devices}_devices"] = {"first": first, "last": last, "lost": measured["lost"],
                                             "errors": measured["errors"]}
    result.details.append(markdown_table(
        ["devices", "sends", "first device p50", "first p99", "last device p50", "last p99", "frames lost", "errors"],
        rows))
    return result


if __name__ == "__main__":
    from tests.benchmarks.run import main

    raise SystemExit(main(["--only", "fan_out"]))
