"""The `parley` command: `parley local` runs the whole system on this machine; `parley token USER`
prints a JWT that it accepts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import time

READY_LINE = "Parley local is ready"
STOP_HINT = "Press Ctrl-C to stop."
DEFAULT_PORT = 8000


def _ready_text(runtime, started: float) -> str:
    services = runtime.services
    if services.embedded_aws:
        aws = f"{services.aws_endpoint_url}  (embedded moto, its own process, in memory: gone when this stops)"
    else:
        aws = f"{services.aws_endpoint_url}  (AWS_ENDPOINT_URL)"
    redis = f"{services.redis_url}  ({'embedded redis-server, in memory' if services.embedded_redis else 'REDIS_URL'})"
    return "\n".join(
        [
            READY_LINE,
            f"  Web client  {runtime.base_url}/  (sign in with any name; open a second window to chat)",
            f"  HTTP API    {runtime.http_url}",
            f"  WebSocket   {runtime.ws_url}?token=<JWT>",
            f"  Management  {runtime.management_url}/@connections",
            f"  DynamoDB    {aws}",
            f"  S3          {runtime.s3_url}  (bucket {', '.join(services.buckets)}; presigned links point here)",
            f"  Redis       {redis}",
            f"  Functions   {_functions_text(runtime)}",
            *([f"  Triggers    {', '.join(runtime.triggers)}"] if runtime.triggers else []),
            "  Tokens      parley token USER",
            f"Started in {time.perf_counter() - started:.1f} s. {STOP_HINT}",
        ]
    )


def _functions_text(runtime) -> str:
    workers = len(runtime.function_worker_pids)
    if not workers:
        return "in this process (PARLEY_LOCAL_FUNCTION_PROCESSES=0)"
    return f"in {workers} worker process{'es' if workers > 1 else ''} (PARLEY_LOCAL_FUNCTION_PROCESSES)"


async def _serve(host: str, port: int) -> None:
    # Imported here: the environment must be settled before shared.storage.tables is (services.py does that).
    from infra.local.runtime import LocalRuntime, function_processes_from_environment
    from infra.local.web_client import WEB_DIST

    started = time.perf_counter()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():  # a second Ctrl-C: don't wait for the clean-up
            os._exit(130)
        stop.set()  # first: whoever read our output may be gone (a killed test run), and printing then fails
        with contextlib.suppress(OSError):
            print("Stopping…", file=sys.stderr, flush=True)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)

    runtime = LocalRuntime(
        host=host, port=port, web_dist=WEB_DIST, function_processes=function_processes_from_environment()
    )
    try:
        await runtime.start()
        _freeze_startup_heap()
        print(_ready_text(runtime, started), flush=True)
        await stop.wait()
    finally:
        await runtime.stop()


def _freeze_startup_heap() -> None:
    """Everything imported and built so far (aiohttp, botocore, PynamoDB, the app) lives as long as the
    process: move it out of the garbage collector's sight. Without this every full collection walks it all
    while nothing else runs, and such pauses were the isolated p99 spikes in the benchmarks."""
    gc.collect()
    gc.freeze()


def _exit_despite_stuck_handlers(code: int) -> int:
    """A handler still running past its timeout is a thread that can't be killed: don't wait for it."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        # Handler threads only: idle pool workers that handlers' own code started don't hold anything up.
        stuck = [t for t in threading.enumerate() if t.name.startswith("lambda_") and t.is_alive()]
        if not stuck:
            return code
        time.sleep(0.05)
    logging.getLogger("local").warning("exiting with threads still running: %s", [t.name for t in stuck])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def configure_logging() -> None:
    """The runtime's log format and level (PARLEY_LOCAL_LOG_LEVEL), for it and its function workers."""
    logging.basicConfig(
        level=os.environ.get("PARLEY_LOCAL_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)-5s %(name)s  %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "boto3", "pynamodb", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_local(host: str, port: int) -> int:
    configure_logging()
    try:
        asyncio.run(_serve(host, port))
    except OSError as error:
        print(f"parley local: {error}", file=sys.stderr)
        return _exit_despite_stuck_handlers(1)
    return _exit_despite_stuck_handlers(0)


def print_token(user_id: str, ttl_seconds: int) -> int:
    from shared.auth import LOCAL_DEV_SECRET, mint_token
    from shared.resources import JWT_SECRET_ENV

    secret = os.environ.get(JWT_SECRET_ENV) or LOCAL_DEV_SECRET
    print(mint_token(user_id, secret, ttl_seconds=ttl_seconds))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    local = commands.add_parser(
        "local",
        help="run Parley on this machine: HTTP + WebSocket + management APIs, moto, Redis",
        description="Runs the HTTP API (/api/v1), the WebSocket API (/ws) and the management API "
        "(/@connections) on one port, with DynamoDB from an embedded moto server (or AWS_ENDPOINT_URL) "
        "and a Redis it starts (or REDIS_URL). Data lives for the run only.",
    )
    local.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT}; 0 picks a free one)"
    )
    local.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")

    token = commands.add_parser("token", help="print a JWT for USER that `parley local` accepts")
    token.add_argument("user", metavar="USER", help="the user id (the token's sub)")
    token.add_argument("--ttl", type=int, default=24 * 3600, metavar="SECONDS", help="lifetime (default one day)")

    args = parser.parse_args(argv)
    if args.command == "local":
        return run_local(args.host, args.port)
    if args.ttl <= 0:
        parser.error("--ttl must be positive")
    return print_token(args.user, args.ttl)


if __name__ == "__main__":
    sys.exit(main())
