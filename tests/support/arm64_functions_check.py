"""Run by tests/infra/test_arm64_functions.py in ONE aarch64 CPython 3.13 process (under qemu), with the deployed
artifacts on sys.path as Lambda composes them. Reads the host's inputs (tokens, images: a JSON file named by
argv[1]), does each piece of work through Parley's own code, and prints what happened as one JSON line
after REPORT_MARKER; the test judges it. Nothing here asserts: a failure is reported, so one run says
everything that is wrong.
"""

from __future__ import annotations

import http.server
import importlib
import io
import json
import os
import platform
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

REPORT_MARKER = "arm64-functions-report: "


def main() -> None:
    inputs = json.loads(Path(sys.argv[1]).read_text())
    report: dict = {"machine": platform.machine(), "python": f"{sys.implementation.name} {sys.version.split()[0]}"}
    for step in (import_every_function, hs256_authorizers, rs256_authorizer, images, search_index, cffi_call, census):
        started = time.process_time()
        try:
            report[step.__name__] = step(inputs)
        except Exception:
            report[step.__name__] = {"error": traceback.format_exc()}
        report.setdefault("cpu_seconds", {})[step.__name__] = round(time.process_time() - started, 2)
    print(REPORT_MARKER + json.dumps(report))


def import_every_function(inputs: dict) -> dict:
    """`import functions.<name>` for every route, as each function's init does; a connection attempt is refused."""
    attempts = []

    def refuse(sock, address):
        attempts.append(repr(address))
        raise OSError("no network during import")

    connect = socket.socket.connect
    socket.socket.connect = refuse
    try:
        from shared.routes import ROUTES

        failed = {}
        for route in ROUTES:
            try:
                importlib.import_module(f"functions.{route.name}")
            except Exception:
                failed[route.name] = traceback.format_exc(limit=-3)
    finally:
        socket.socket.connect = connect
    return {"imported": [r.name for r in ROUTES if r.name not in failed], "failed": failed, "connections": attempts,
            "from": {package: sys.modules[package].__path__[0] for package in ("functions", "shared")}}  # fmt: skip


def _authorize(function: str, token: str) -> dict:
    module = sys.modules[f"functions.{function}"]
    if function == "http_authorizer":
        event = {"version": "2.0", "type": "REQUEST", "routeKey": "GET /api/v1/conversations",
                 "headers": {"authorization": f"Bearer {token}"}, "identitySource": [f"Bearer {token}"],
                 "requestContext": {"http": {"method": "GET", "path": "/api/v1/conversations"}}}  # fmt: skip
        return module.handler(event, None)["context"]
    event = {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/$connect",
             "queryStringParameters": {"token": token}, "headers": {},
             "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "arm64"}}  # fmt: skip
    answer = module.handler(event, None)
    return {"effect": answer["policyDocument"]["Statement"][0]["Effect"], **(answer.get("context") or {})}


def hs256_authorizers(inputs: dict) -> dict:
    """Both authorizers with the JWT_SECRET the test set: PyJWT as an HS256-only function imports it."""
    return {
        "http": _authorize("http_authorizer", inputs["hs256_token"]),
        "websocket": _authorize("ws_authorizer", inputs["hs256_token"]),
        "forged": _authorize("http_authorizer", inputs["hs256_forged"]),
        "cryptography_loaded": "cryptography" in sys.modules,
    }


def rs256_authorizer(inputs: dict) -> dict:
    """The HTTP authorizer configured with a JWKS URL (a stack deployed with jwks_url): PyJWT fetches the key
    set from a server in this process and verifies RS256 signatures with cryptography."""
    jwks = json.dumps(inputs["jwks"]).encode()

    class KeySet(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), KeySet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ.pop("JWT_SECRET")
    os.environ.update(JWKS_URL=f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json",
                      JWT_ISSUER=inputs["issuer"], JWT_AUDIENCE=inputs["audience"])  # fmt: skip
    import shared.wiring

    shared.wiring.reset()  # the configuration is read again
    # A process configured for JWKS imports PyJWT with cryptography (shared.auth.pyjwt): as a fresh one would.
    for name in [m for m in sys.modules if m == "jwt" or m.startswith("jwt.")]:
        del sys.modules[name]
    try:
        return {"valid": _authorize("http_authorizer", inputs["rs256_token"]),
                "other_key": _authorize("http_authorizer", inputs["rs256_other_key"])}  # fmt: skip
    finally:
        server.shutdown()


def images(inputs: dict) -> dict:
    """shared.media.images.process_image (what process_image's function runs on an upload) on each image."""
    from PIL import Image

    from shared.media.images import process_image

    done = {}
    for name, (declared_type, path) in inputs["images"].items():
        processed = process_image(Path(path).read_bytes(), declared_type, hd=False)
        renditions = {}
        for rendition in processed.renditions:
            with Image.open(io.BytesIO(rendition.data)) as decoded:  # decoded again, as a client does
                rgb = decoded.convert("RGB")
                renditions[rendition.name] = {
                    "format": decoded.format, "size": list(decoded.size), "declared": [rendition.width, rendition.height],
                    "top": list(rgb.getpixel((rgb.width // 2, 1))), "bottom": list(rgb.getpixel((rgb.width // 2, rgb.height - 2))),
                }  # fmt: skip
        done[name] = {"format": processed.format, "size": [processed.width, processed.height],
                      "placeholder": processed.placeholder, "renditions": renditions}  # fmt: skip
    return done


def search_index(inputs: dict) -> dict:
    from shared.storage.search_index import IndexEntry, SearchIndex, sqlite3

    with SearchIndex(":memory:") as index:
        index.add([IndexEntry("dm_a", 1, 1_767_225_600_000, "Rendez-vous au Café Müller"),
                   IndexEntry("dm_a", 2, 1_767_225_601_000, "cafe, no mill")])  # fmt: skip
        hits = index.search("CAFE mull", limit=10)
    return {"driver": sqlite3.__name__, "library": sys.modules[sqlite3.__name__ + "._sqlite3"].__file__,
            "hits": [[hit.conversation_id, hit.seq] for hit in hits]}  # fmt: skip


def cffi_call(inputs: dict) -> dict:
    """cffi (cryptography's dependency) calls a C function of this process's libc."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("size_t strlen(const char *);")
    return {"strlen": ffi.dlopen(None).strlen(b"parley on arm64")}


def census(inputs: dict) -> dict:
    """Every extension module in the dependencies layer: already imported by the work above, importable,
    or not (with the reason); and the file each was loaded from."""
    layer = Path(inputs["dependencies_layer"])
    found = {}
    for library in sorted(layer.rglob("*.so")):
        relative = library.relative_to(layer)
        if relative.parts[0].endswith(".libs"):  # a wheel's bundled C libraries, loaded by its modules
            continue
        module = ".".join((*relative.parts[:-1], relative.name.split(".", 1)[0]))
        state = "imported" if module in sys.modules else "importable"
        try:
            loaded = importlib.import_module(module)
        except Exception as error:
            found[module] = {"state": "fails", "error": repr(error)}
            continue
        found[module] = {"state": state, "file": loaded.__file__}
    return found


if __name__ == "__main__":
    main()
