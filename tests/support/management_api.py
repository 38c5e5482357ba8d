"""A stand-in for API Gateway's management API, over real HTTP, for in-process component tests:
records what is posted to each connection and answers 410 Gone for connections marked gone.
(The e2e suite uses the local runtime's real one.)"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RecordingManagementApi:
    def __init__(self):
        self.posts: dict[str, list[bytes]] = {}
        self.gone: set[str] = set()
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                connection_id = self.path.rsplit("/", 1)[-1]
                data = self.rfile.read(int(self.headers.get("content-length", 0)))
                if connection_id in api.gone:
                    body = b'{"message":null}'
                    self.send_response(410)
                    self.send_header("x-amzn-ErrorType", "GoneException")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                with api._lock:
                    api.posts.setdefault(connection_id, []).append(data)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def frames(self, connection_id: str) -> list[dict]:
        import json

        return [json.loads(data) for data in self.posts.get(connection_id, [])]

    def reset(self):
        self.posts.clear()
        self.gone.clear()

    def close(self):
        self._server.shutdown()
