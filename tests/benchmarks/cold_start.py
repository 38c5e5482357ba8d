"""Function init time: for every route of shared.routes.ROUTES, a fresh Python process (this venv) that
imports `functions.<name>` and then handles a realistic first event, then a second one.

- import: `import functions.<name>` (what Lambda reports as most of Init Duration, less the runtime's own
  start), with Lambda's init type set, so it includes making the route's clients (shared/wiring.py);
- first invoke: the first call of the handler: its first connections and requests;
- warm invoke: a second call in the same process, for contrast.

The backend is a moto server with Parley's tables, a real redis-server and a recording management API,
all on 127.0.0.1, seeded so each event does its real work (a send stores and pushes to live connections).
Each route is measured in `runs` fresh processes, in rounds; the table shows the median.
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.benchmarks.common import BENCH_JWT_SECRET, Result, clean_env, in_process_backend, markdown_table, ms, under

REPO = Path(__file__).resolve().parents[2]

# Runs in the fresh process. json, sys and time are loaded before the clock starts, as the Lambda
# runtime's bootstrap has them loaded before it imports a handler.
CHILD = r"""
import importlib, json, sys, time
payload = json.loads(sys.stdin.read())

class Context:
    function_name = payload["function_name"]
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    def get_remaining_time_in_millis(self):
        return 10_000

t0, c0 = time.perf_counter(), time.process_time()
module = importlib.import_module(payload["module"])
t1, c1 = time.perf_counter(), time.process_time()
loaded = {"modules": len(sys.modules), "boto3": "boto3" in sys.modules, "botocore": "botocore.client" in sys.modules,
          "pynamodb": "pynamodb.models" in sys.modules, "redis": "redis.client" in sys.modules,
          "jwt": "jwt" in sys.modules}
first = module.handler(payload["events"][0], Context())
t2, c2 = time.perf_counter(), time.process_time()
second = module.handler(payload["events"][1], Context())
t3 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t2 - t1) * 1000, "warm_ms": (t3 - t2) * 1000,
                  "import_cpu_ms": (c1 - c0) * 1000, "first_cpu_ms": (c2 - c1) * 1000, "cpu_ms": (c2 - c0) * 1000,
                  "loaded": loaded, "results": [first, second]}))
"""


# tiny: an authorizer and the send route, to check the harness runs.
TINY_ROUTES = ("http_authorizer", "send_message")
# Issue 6's targets for import + first invoke, measured locally.
SEND_FUNCTIONS = ("send_message", "ws_send_message")
SEND_TARGET_MS = 350
OTHER_TARGET_MS = 250


def run(quick: bool = False, tiny: bool = False) -> Result:
    result = Result("cold_start", "import and first-invocation time of every function (fresh process each)")
    runs = 1 if quick else 5
    _precompile()
    with in_process_backend() as backend:
        seed = _seed()
        env = clean_env(**backend.env(), POWERTOOLS_METRICS_DISABLED="false")
        baseline = statistics.median(_python_startup(env) for _ in range(3))
        rows = []
        from shared.routes import ROUTES

        routes = []
        for route in [r for r in ROUTES if r.name in TINY_ROUTES] if tiny else ROUTES:
            try:
                _event(route.name, seed)
            except ValueError as missing:  # a new route without an event: say so, measure the others
                result.add(f"{route.name}: not measured", "no event", note=str(missing))
                continue
            routes.append(route)
        # In rounds, every route once a round: a burst of other work on the machine (or its host) then
        # slows one sample of many routes, which their medians leave out, not every sample of one route.
        samples_of: dict[str, list[dict]] = {route.name: [] for route in routes}
        for _ in range(runs):
            for route in routes:
                events = [_event(route.name, seed) for _ in range(2)]
                sample = _measure(route.name, events, _function_env(route, env))
                problem = _check(route.name, sample["results"]) or _unprocessed(route.name, events)
                if problem:
                    result.add(f"{route.name}: handler outcome", "unexpected", "success", "FAIL", problem[:200])
                samples_of[route.name].append(sample)
        for route in routes:
            samples = samples_of[route.name]
            figures = {key: statistics.median(s[key] for s in samples)
                       for key in ("import_ms", "first_ms", "warm_ms", "import_cpu_ms", "first_cpu_ms", "cpu_ms")}
            total = statistics.median(s["import_ms"] + s["first_ms"] for s in samples)
            loaded = samples[0]["loaded"]
            heavy = [name for name in ("boto3", "botocore", "pynamodb", "redis", "jwt") if loaded[name]]
            rows.append([f"`{route.name}`", route.key, _pair(figures["import_ms"], figures["import_cpu_ms"]),
                         _pair(figures["first_ms"], figures["first_cpu_ms"]), f"**{_pair(total, figures['cpu_ms'])}**",
                         ms(figures["warm_ms"]), str(loaded["modules"]), ", ".join(heavy) or "–"])
            result.data[route.name] = {"import_ms": figures["import_ms"], "import_cpu_ms": figures["import_cpu_ms"],
                                       "first_invoke_ms": figures["first_ms"],
                                       "first_invoke_cpu_ms": figures["first_cpu_ms"], "total_ms": total,
                                       "cpu_ms": figures["cpu_ms"], "warm_invoke_ms": figures["warm_ms"],
                                       "modules_after_import": loaded["modules"], "imported_at_init": heavy,
                                       "runs": runs}
        load = " / ".join(f"{value:.1f}" for value in os.getloadavg())

    measured = {name: d for name, d in result.data.items() if isinstance(d, dict)}
    imports = [d["import_ms"] for d in measured.values()]
    result.add("import, median over functions (min–max)", ms(statistics.median(imports)),
               note=f"{ms(min(imports))} – {ms(max(imports))}; Python itself starts in {ms(baseline)}")
    for label, names, target in (("send functions", SEND_FUNCTIONS, SEND_TARGET_MS),
                                 ("every other function", None, OTHER_TARGET_MS)):
        group = {n: d for n, d in measured.items() if (n in SEND_FUNCTIONS) == (names is not None)}
        if not group:
            continue
        slowest = max(group, key=lambda n: group[n]["total_ms"])
        by_cpu = max(group, key=lambda n: group[n]["cpu_ms"])
        result.add(f"import + first invoke, {label}: slowest", ms(group[slowest]["total_ms"]), f"≤ {target} ms",
                   under(group[slowest]["total_ms"], target + 0.5),
                   f"{slowest}; of CPU at most {ms(group[by_cpu]['cpu_ms'])} ({by_cpu}); load {load}")
    result.details.append(markdown_table(
        ["function", "route", "import", "first invoke", "import + first", "warm invoke", "modules loaded",
         "heavy libraries loaded at import"],
        rows,
    ))
    result.details.append(
        f"Each cell: wall clock / the process's own CPU time. Median of {runs} fresh process"
        f"{'es' if runs > 1 else ''} per function; load average {load} (1/5/15 min) at the end: on a shared "
        f"machine the wall clock grows with the load, the CPU time much less. `python -c pass` in this venv "
        f"takes {ms(baseline)} (not included). Project and dependency code run from .pyc files, as in the "
        "deployed layers (layers/build.py precompiles them; `infra/bootstrap.sh` compiles the venv's). "
        "The CPU time leaves out the local servers' share (moto's handling of each request is wall clock "
        "only). First invoke includes creating clients on first use against "
        "local servers (moto, redis-server, the management stub) — on AWS, add real network round trips and "
        "TLS handshakes; this machine's CPU speed also differs from a Lambda arm64 vCPU."
    )
    result.data["python_startup_ms"] = baseline
    return result


def _function_env(route, env: dict) -> dict:
    """What the stack gives this route's function (infra/constructs/endpoint_function.py): Redis, the
    management API and the JWT secret only where the route uses them; and Lambda's init type, which has the
    function make its clients while it is imported (shared/wiring.py, prepare_at_init)."""
    unused = {"REDIS_URL": route.uses_redis, "WS_MANAGEMENT_URL": route.manages_connections,
              "JWT_SECRET": route.reads_jwt_secret}
    return {k: v for k, v in env.items() if unused.get(k, True)} | {"AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand"}


def _pair(wall_ms: float, cpu_ms: float) -> str:
    return f"{ms(wall_ms)} / {ms(cpu_ms)}"


def _precompile() -> None:
    """.pyc files for the project's code, as layers/build.py ships them (PYTHONDONTWRITEBYTECODE may be set)."""
    import compileall

    for package in ("shared", "functions"):
        compileall.compile_dir(REPO / package, quiet=2, workers=0)


def _python_startup(env: dict) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], env=env, cwd=REPO, check=True)
    return (time.perf_counter() - started) * 1000


def _measure(name: str, events: list[dict], env: dict) -> dict:
    payload = json.dumps({"module": f"functions.{name}", "function_name": f"parley-{name}", "events": events})
    completed = subprocess.run([sys.executable, "-c", CHILD], input=payload, env=env, cwd=REPO,
                               capture_output=True, text=True, timeout=60)
    if completed.returncode != 0:
        raise RuntimeError(f"functions.{name}: exit {completed.returncode}\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _token(user_id: str) -> str:
    from shared.auth import mint_token

    return mint_token(user_id, BENCH_JWT_SECRET, ttl_seconds=3600)


SEEDED_MESSAGES = 40  # enough for every delete_message event of a full run (5 processes x 2 events)


def _seed() -> dict:
    """A conversation between alice and bob, both connected (bob twice), with a few messages."""
    from functions import send_message, start_conversation, ws_connect
    from tests.support.events import http_event, parse, ws_event

    status, body = parse(start_conversation.handler(http_event("start_conversation", user_id="alice",
                                                                 path={"id": "bob"}), None))
    assert status == 201, (status, body)
    conversation_id = body["conversation"]["id"]
    for user, connection_id in (("alice", "alice-phone"), ("bob", "bob-phone"), ("bob", "bob-laptop")):
        response = ws_connect.handler(ws_event("$connect", connection_id=connection_id, user_id=user), None)
        assert response["statusCode"] == 200, response
    for index in range(SEEDED_MESSAGES):
        event = http_event("send_message", user_id="alice", path={"id": conversation_id},
                           body={"client_message_id": f"seed-{index}", "type": "text", "content": f"seed {index}"})
        assert parse(send_message.handler(event, None))[0] == 201
    from tests.support.media_calls import upload_and_process

    # A ready photo of alice's, for download links.
    data, content_type, _ = _media_sample("image")
    media_id = upload_and_process("alice", "image", data, content_type)
    # Messages 1–2 stay (reactions, stars and the consumers' records name them); each delete takes a new one.
    return {"conversation_id": conversation_id, "deletable": itertools.count(3), "media_id": media_id}


# What each media function's first event carries: small, so the figure is the function's start and one
# object's work (`media` measures the processing of camera-sized photos).
def _media_sample(kind: str) -> tuple[bytes, str, dict]:
    from tests.support import media_files

    if kind == "image":
        return media_files.jpeg(media_files.photo(320, 240)), "image/jpeg", {}
    if kind == "audio":
        return media_files.fixture("voice.ogg"), "audio/ogg", {}
    return media_files.minimal_pdf(), "application/pdf", {"file_name": "cold.pdf"}


def _media_event(kind: str) -> dict:
    """A granted upload of alice's, stored in the bucket: S3's event for it (the grant and the store happen
    here, outside the measured process, as a client's upload would)."""
    from tests.support.media_calls import grant, uploaded

    data, content_type, extra = _media_sample(kind)
    media_id = grant("alice", kind, data, content_type, **extra)["media"]["id"]
    return uploaded(kind, media_id, data, content_type)


def _event(name: str, seed: dict) -> dict:
    from tests.support.events import http_event, ws_event

    conversation_id = seed["conversation_id"]
    fresh = uuid.uuid4().hex
    if name == "http_authorizer":
        token = _token("alice")
        return {"version": "2.0", "type": "REQUEST", "routeKey": "GET /api/v1/conversations",
                "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/$default/GET/api/v1/conversations",
                "identitySource": [f"Bearer {token}"], "headers": {"authorization": f"Bearer {token}"},
                "requestContext": {"http": {"method": "GET", "path": "/api/v1/conversations"}}}
    if name == "ws_authorizer":
        return {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/$connect",
                "queryStringParameters": {"token": _token("alice")}, "headers": {},
                "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": fresh}}
    if name in ("list_conversations", "openapi_document"):  # the document needs no caller; one costs nothing
        return http_event(name, user_id="alice")
    if name == "start_conversation":
        return http_event(name, user_id="alice", path={"id": f"peer-{fresh}"})
    if name in ("get_conversation", "list_messages"):
        return http_event(name, user_id="bob", path={"id": conversation_id})
    if name == "send_message":
        return http_event(name, user_id="alice", path={"id": conversation_id},
                          body={"client_message_id": fresh, "type": "text", "content": "cold hello"})
    if name == "ws_connect":
        return ws_event("$connect", connection_id=f"cold-{fresh}", user_id="carol")
    if name == "ws_disconnect":
        return ws_event("$disconnect", connection_id=f"cold-{fresh}", user_id="carol")
    if name == "ws_default":
        return ws_event("$default", connection_id="alice-phone", user_id="alice", body={"action": "nope"})
    if name == "ws_ping":
        return ws_event("ping", connection_id="alice-phone", user_id="alice", body={"action": "ping"})
    if name == "ws_send_message":
        return ws_event("sendMessage", connection_id="alice-phone", user_id="alice",
                        body={"action": "sendMessage", "conversation_id": conversation_id, "client_message_id": fresh,
                              "type": "text", "content": "cold hello"})
    if name == "mark_read":
        return http_event(name, user_id="bob", path={"id": conversation_id})
    if name == "sync_events":
        return http_event(name, user_id="bob")
    if name in ("ws_ack", "ws_read"):
        action = name.removeprefix("ws_")
        return ws_event(action, connection_id="bob-phone", user_id="bob",
                        body={"action": action, "conversation_id": conversation_id, "message_id": f"{conversation_id}.1"})
    if name == "ws_sync":
        return ws_event("sync", connection_id="bob-phone", user_id="bob", body={"action": "sync", "since": None})
    if name in ("on_message_stored", "append_user_events", "search_indexer"):
        return {"Records": [_stream_record(name, conversation_id)]}
    if name in ("typing_start", "typing_stop"):
        return http_event(name, user_id="alice", path={"id": conversation_id})
    if name == "ws_typing":
        return ws_event("typing", connection_id="alice-phone", user_id="alice",
                        body={"action": "typing", "conversation_id": conversation_id, "state": "start"})
    if name == "get_presence":
        return http_event(name, user_id="alice", path={"id": "bob"})
    if name == "get_presence_bulk":
        return http_event(name, user_id="alice", query={"ids": "bob"})
    if name in ("unread_count", "list_starred"):
        return http_event(name, user_id="bob")
    if name == "search_messages":
        return http_event(name, user_id="bob", query={"q": "seed"})
    if name == "add_reaction":
        return http_event(name, user_id="bob", path={"id": f"{conversation_id}.1"}, body={"emoji": "👍"})
    if name in ("remove_reaction", "star_message", "unstar_message"):
        return http_event(name, user_id="bob", path={"id": f"{conversation_id}.1"})
    if name == "delete_message":  # the sender deletes for everyone: the route's whole work
        return http_event(name, user_id="alice", path={"id": f"{conversation_id}.{next(seed['deletable'])}"})
    if name.startswith("upload_"):
        data, content_type, extra = _media_sample(name.removeprefix("upload_"))
        return http_event(name, user_id="alice", body={"content_type": content_type, "size": len(data), **extra})
    if name == "get_media":
        return http_event(name, user_id="alice", path={"id": seed["media_id"]})
    if name.startswith("process_"):
        return _media_event(name.removeprefix("process_"))
    if name == "presence_sweeper":  # EventBridge's scheduled event
        return {"version": "0", "id": fresh, "detail-type": "Scheduled Event", "source": "aws.events",
                "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
                "resources": ["arn:aws:events:us-east-1:123456789012:rule/parley-presence-sweeper"], "detail": {}}
    raise ValueError(f"no event for route {name}: add one to tests/benchmarks/cold_start.py")


def _stream_record(name: str, conversation_id: str) -> dict:
    """A record of the stream the consumer reads: the seed's first message, bob's row moving to it, or
    the entry of bob's event log that names it."""
    from tests.support.events import stream_record

    if name == "search_indexer":
        keys = {"user_id": {"S": "bob"}, "seq": {"N": "1"}}
        image = keys | {"event_id": {"S": "cold-start-1"}, "type": {"S": "new_message"},
                        "conversation_id": {"S": conversation_id}, "data": {"M": {"seq": {"N": "1"}}},
                        "created_at": {"N": "1767225600000"}}
        return stream_record("INSERT", keys=keys, new=image, table="events")
    if name == "on_message_stored":
        keys = {"conversation_id": {"S": conversation_id}, "seq": {"N": "1"}}
        image = keys | {"sender_id": {"S": "alice"}, "client_message_id": {"S": "seed-0"}, "type": {"S": "text"},
                        "content": {"S": "seed 0"}, "created_at": {"S": "2026-01-01T00:00:00.000Z"}}
        return stream_record("INSERT", keys=keys, new=image)
    keys = {"user_id": {"S": "bob"}, "conversation_id": {"S": conversation_id}}
    old = keys | {"peer_id": {"S": "alice"}, "created_at": {"S": "2026-01-01T00:00:00.000Z"},
                  "last_activity_at": {"S": "2026-01-01T00:00:00.000Z"}, "last_seq": {"N": "0"}}
    return stream_record("MODIFY", keys=keys, old=old, new=old | {"last_seq": {"N": "1"}}, table="user_conversations")


def _unprocessed(name: str, events: list[dict]) -> str | None:
    """Why an upload a media function was given is not ready (None when all are, or for other routes)."""
    from shared import wiring
    from shared.media import keys

    if not name.startswith("process_"):
        return None
    uploads = [keys.media_id_of_upload(record["s3"]["object"]["key"]) for e in events for record in e["Records"]]
    statuses = {media_id: getattr(wiring.media().media.get(media_id), "status", None) for media_id in uploads}
    not_ready = {media_id: status for media_id, status in statuses.items() if status != "ready"}
    return f"media not ready after processing: {not_ready}" if not_ready else None


def _check(name: str, results: list) -> str | None:
    """Why a handler's answer is not the success it should be (None when it is)."""
    for response in results:
        if name.startswith("process_"):  # an S3 trigger answers nothing; what it made is checked after
            ok = response is None
        elif name == "http_authorizer":
            ok = response.get("isAuthorized") and response.get("context", {}).get("user_id") == "alice"
        elif name == "ws_authorizer":
            ok = response["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        else:
            status = response.get("statusCode")
            body = json.loads(response.get("body") or "null")
            if name == "presence_sweeper":
                ok = "offline" in response
            elif name == "ws_default":  # an unknown action answers an error frame, by design
                ok = status == 200 and body["type"] == "error"
            elif status is None:  # a stream consumer: every record done
                ok = response == {"batchItemFailures": []}
            elif name in ("ws_ping", "ws_send_message"):
                ok = status == 200 and body["type"] in ("pong", "message_ack")
            else:
                ok = status in (200, 201, 204)
        if not ok:
            return f"{name} answered {json.dumps(response)[:300]}"
    return None


if __name__ == "__main__":
    from tests.benchmarks.run import main

    raise SystemExit(main(["--only", "cold_start"]))
