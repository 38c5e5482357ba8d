"""A stalled DynamoDB write ends as the contract's 503 inside the function's timeout, not as a timeout.

The send handler runs against moto through a proxy that passes every DynamoDB call on, except, once told
to stall, TransactWriteItems (the send's write), which it receives and never answers.
"""

import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared import wiring

from shared.domain import limits
from shared.storage.repositories.storage import transaction_connection
from shared.routes import ROUTES
from shared.storage.tables import TABLE_MODELS, MessageRecord
from tests.component.test_messaging import send, start

pytestmark = pytest.mark.component

STALLED_TARGET = "DynamoDB_20120810.TransactWriteItems"


class StallingProxy:
    def __init__(self, upstream: str) -> None:
        self.stalling = False
        self.stalled_requests = 0
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if proxy.stalling and self.headers.get("x-amz-target") == STALLED_TARGET:
                    proxy.stalled_requests += 1
                    proxy.release.wait(30)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(upstream + self.path, data=body, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, payload, reply_headers = response.status, response.read(), response.headers
                except urllib.error.HTTPError as error:
                    status, payload, reply_headers = error.code, error.read(), error.headers
                self.send_response(status)
                for name, value in reply_headers.items():
                    if name.lower() not in ("content-length", "connection", "server", "date", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def _forget_storage_clients() -> None:
    """Storage clients are made once per process; make them again, for the endpoint now configured."""
    for model in TABLE_MODELS.values():
        model._connection = None
    transaction_connection.cache_clear()
    wiring.reset()


@pytest.fixture
def stalled_writes(backend, moto_url, monkeypatch):
    proxy = StallingProxy(moto_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    _forget_storage_clients()
    yield proxy
    proxy.close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    _forget_storage_clients()


def test_a_stalled_write_answers_503_inside_the_functions_timeout(stalled_writes):
    conversation_id = start("alice", "bob")
    stalled_writes.stalling = True
    send_route = next(r for r in ROUTES if r.name == "send_message")

    started = time.monotonic()
    status, body = send("alice", conversation_id, "into the void")
    elapsed = time.monotonic() - started

    assert (status, body["error"]["code"]) == (503, "unavailable")
    assert stalled_writes.stalled_requests == 1 + limits.STORAGE_RETRY_ATTEMPTS
    assert elapsed < send_route.timeout_seconds  # an answer, where a Lambda would have been cut off
    assert MessageRecord.count(conversation_id) == 0
