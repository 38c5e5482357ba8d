"""The embedded moto server of `parley local`, in a process of its own.

    python -m infra.local.moto_process [--host 127.0.0.1] [--port 0] [--parent-pid PID] [--ttl-sweep-seconds S]

moto is pure Python and CPU-bound: inside the runtime's process it shared one GIL with every Lambda
handler and the API server. Here it has its own interpreter (and core). The process installs
infra.local.moto_dynamodb (DynamoDB's all-or-nothing transactions, one-partition queries) and
infra.local.moto_streams (DynamoDB's stream records, TTL expiry), binds its port (0: a free one),
warms its DynamoDB backend, and only then prints one line to stdout, ``READY_PREFIX + url``; nothing else
goes to stdout after it. Warnings and errors (a moto traceback) go to stderr; the request log doesn't.

It ignores SIGINT: a Ctrl-C in a terminal reaches the whole foreground process group, and the runtime
still needs DynamoDB while it shuts down (`$disconnect` handlers). The runtime stops it with SIGTERM.
Given --parent-pid, it also exits by itself once that process is gone: services.py adds a prctl death
signal on Linux, and this watchdog covers other systems and a parent that died before that was in place.
"""

from __future__ import annotations

import argparse
import functools
import gc
import logging
import os
import signal
import sys
import threading
import time

from infra.local.moto_streams import DEFAULT_TTL_SWEEP_SECONDS  # light: moto itself is imported later

READY_PREFIX = "moto listening on "
WATCHDOG_INTERVAL_SECONDS = 1.0


def _warm(app) -> None:
    """One ListTables through the WSGI app, in-process: moto builds its DynamoDB backend and Flask app
    now, so they are ready for the first real request and part of the startup heap that gets frozen."""
    from werkzeug.test import Client

    response = Client(app).post(
        "/",
        data="{}",
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    if response.status_code != 200:
        raise RuntimeError(f"moto's DynamoDB did not answer ListTables: {response.status_code} {response.text[:500]}")


def _skip_per_request_lookups() -> None:
    """moto's server recomputes two constant things on every request: the list of its service packages
    (a directory listing with an isdir per entry, to route the request) and the method names of the
    response class (inspect.getmembers, to find the action). Computed once, they cost ~15% less CPU per
    DynamoDB request (measured: 3.9 -> 3.2 ms, put_item/query from 16 threads)."""
    import moto.backends
    import moto.core.responses

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    moto.core.responses.method_names_from_class = functools.cache(moto.core.responses.method_names_from_class)


class _NothingToDrain:
    def register(self, *args) -> None:
        pass

    def select(self, timeout=None) -> list:
        return []

    def close(self) -> None:
        pass


def _keep_alive_handler(base):
    """werkzeug's development server answers every request with `Connection: close`, so every DynamoDB
    call opened a TCP connection and moto started a thread for it (both sides' CPU, per request). This
    handler keeps HTTP/1.1 connections open, as DynamoDB does: it reads whatever of a request's body the
    app left unread (the next request starts after it) and closes only after a chunked body."""
    import types

    import werkzeug.serving
    from werkzeug.wsgi import LimitedStream

    request_log = logging.getLogger("werkzeug")

    # After each response werkzeug reads whatever the client sent next and throws it away (it expects to
    # close the connection): on a kept-alive one that is the next request. Its only use of `selectors`.
    werkzeug.serving.selectors = types.SimpleNamespace(DefaultSelector=_NothingToDrain, EVENT_READ=None)

    class KeepAliveRequestHandler(base):
        # A response goes out in two writes (head, body): on a kept-alive connection Nagle's algorithm held
        # the body until the client's delayed ACK of the head, 40 ms later, on every request.
        disable_nagle_algorithm = True

        def make_environ(self):
            environ = super().make_environ()
            if environ.get("wsgi.input_terminated"):  # chunked: its end is not known here
                self.close_connection = True
                self._body = None
            else:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                self._body = environ["wsgi.input"] = LimitedStream(environ["wsgi.input"], length)
            return environ

        def run_wsgi(self):
            super().run_wsgi()
            if getattr(self, "_body", None) is not None:
                self._body.exhaust()

        def log_request(self, code="-", size="-"):
            # werkzeug formats each request's line (decoding its path) before its logger drops it: 1/20 of
            # a DynamoDB request's CPU. main() logs warnings only.
            if request_log.isEnabledFor(logging.INFO):
                super().log_request(code, size)

        def send_header(self, keyword, value):
            if keyword.lower() == "connection" and value.lower() == "close" and not self.close_connection:
                return
            super().send_header(keyword, value)

    return KeepAliveRequestHandler


def _direct_json_route(app):
    """A WSGI app in front of moto's: DynamoDB and DynamoDB Streams requests (JSON, named by their
    X-Amz-Target header) go straight to moto's handler class, as its Flask view would send them, without
    the domain dispatcher's service inference and Flask's request and response machinery (about a sixth
    of the process's CPU per request under `parley local`'s load). Anything else goes to `app`."""
    from http import HTTPStatus

    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.moto_server.werkzeug_app import BackendRequest

    handlers = {"DynamoDB_20120810": DynamoHandler, "DynamoDBStreams_20120810": DynamoDBStreamsHandler}

    def route(environ, start_response):
        handler = handlers.get(environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0])
        if handler is None or environ["REQUEST_METHOD"] != "POST":
            return app(environ, start_response)
        request = BackendRequest(environ)
        status, headers, body = handler.dispatch(request, request.raw_url, dict(request.headers))
        body = body.encode() if isinstance(body, str) else body
        headers = {name: str(value) for name, value in headers.items() if name.lower() != "content-length"}
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "text/html; charset=utf-8"  # as Flask's Response
        headers["Content-Length"] = str(len(body))
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        return [body]

    return route


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:  # an orphan's parent becomes init (or a subreaper)
        time.sleep(WATCHDOG_INTERVAL_SECONDS)
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.moto_process", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default) picks a free one")
    parser.add_argument("--parent-pid", type=int, help="exit when this process (the one that started it) is gone")
    parser.add_argument(
        "--ttl-sweep-seconds",
        type=float,
        default=DEFAULT_TTL_SWEEP_SECONDS,
        help=f"how often expired TTL items are deleted (default {DEFAULT_TTL_SWEEP_SECONDS:g}; 0: never)",
    )
    args = parser.parse_args(argv)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if args.parent_pid is not None:
        threading.Thread(target=_exit_when_orphaned, args=(args.parent_pid,), name="watchdog", daemon=True).start()
    # werkzeug logs every request at INFO: warnings and errors only.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from infra.local import moto_streams

    moto_streams.install(ttl_sweep_seconds=args.ttl_sweep_seconds)  # moto_dynamodb's patches too
    _skip_per_request_lookups()
    app = _direct_json_route(DomainDispatcherApplication(create_backend_app))
    # Bound and listening from here on; requests wait in the backlog until serve_forever.
    server = make_server(args.host, args.port, app, threaded=True, request_handler=_keep_alive_handler(MotoRequestHandler))
    _warm(app)

    # What exists now (moto, botocore's models, Flask: ~100k objects) lives as long as the process: keep it
    # out of every later collection. Full collections otherwise walk it all, stalling every request.
    gc.collect()
    gc.freeze()

    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    print(f"{READY_PREFIX}http://{host}:{port}", flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # the parent stops reading after the line; never block on it
    os.close(devnull)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
