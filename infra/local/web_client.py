"""The web client (web/dist, built by `npm run build` in web/) served by `parley local` at `/`, with the
config.json that tells it where the APIs are, and a LOCAL-ONLY sign-in that mints a token for a typed
user name. The deployed stack has no sign-in route: there the client is given a token from the identity
provider (infra/constructs/web_client.py writes its config.json without `sign_in_url`)."""

from __future__ import annotations

import json
import logging
import mimetypes
import os
from pathlib import Path

from aiohttp import web

from shared.domain.errors import BadRequestError

log = logging.getLogger("local.web")

WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
SIGN_IN_PATH = "/local/sign-in"
CONFIG_PATH = "/config.json"
SIGN_IN_TOKEN_TTL_SECONDS = 24 * 3600
_NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Parley</title>
<p>The web client is not built. Run <code>npm --prefix web ci && npm --prefix web run build</code>
(infra/local/start.sh does it when npm is installed), then reload.</p>"""


def _json(status: int, body: dict) -> web.Response:
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


class WebClient:
    def __init__(self, dist: Path, *, http_prefix: str, ws_path: str) -> None:
        self._dist = dist
        self._http_prefix = http_prefix
        self._ws_path = ws_path

    def add_routes(self, app: web.Application) -> None:
        """Before the HTTP API's catch-all route: these paths are the client's, every other is the API's."""
        app.router.add_get("/", self._index)
        app.router.add_get(CONFIG_PATH, self._config)
        app.router.add_post(SIGN_IN_PATH, self._sign_in)
        if not self._dist.is_dir():
            log.warning("web client not built (%s missing): / explains how to build it", self._dist)
            return
        for path in sorted(self._dist.rglob("*")):
            if path.is_file() and not path.name.startswith(".") and path.name != "config.json":
                app.router.add_get("/" + path.relative_to(self._dist).as_posix(), self._file(path))

    @staticmethod
    def _file(path: Path):
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"

        async def serve(_request: web.Request) -> web.StreamResponse:
            # Read at each request: a rebuild (npm run watch) shows on reload.
            return web.Response(body=path.read_bytes(), content_type=content_type, headers={"Cache-Control": "no-cache"})

        return serve

    async def _index(self, _request: web.Request) -> web.Response:
        index = self._dist / "index.html"
        if not index.is_file():
            return web.Response(text=_NOT_BUILT, content_type="text/html", status=503)
        return web.Response(body=index.read_bytes(), content_type="text/html", headers={"Cache-Control": "no-cache"})

    async def _config(self, request: web.Request) -> web.Response:
        # The host the browser used (127.0.0.1 or localhost), so the APIs are same-origin to it.
        config = {"api_url": f"http://{request.host}{self._http_prefix}", "ws_url": f"ws://{request.host}{self._ws_path}"}
        if os.environ.get("JWT_SECRET"):  # tokens this runtime can mint (not with JWKS_URL: RS256 from elsewhere)
            config["sign_in_url"] = SIGN_IN_PATH
        return _json(200, config)

    async def _sign_in(self, request: web.Request) -> web.Response:
        from shared.domain import validation
        from shared.auth import mint_token

        secret = os.environ.get("JWT_SECRET")
        if not secret:
            return _json(404, {"error": {"code": "not_found", "message": "this runtime verifies tokens it cannot mint"}})
        try:
            body = json.loads(await request.read() or b"{}")
            user_id = validation.user_id(body.get("user_id") if isinstance(body, dict) else None)
        except (ValueError, BadRequestError) as error:
            return _json(400, {"error": {"code": "bad_request", "message": str(error)}})
        token = mint_token(user_id, secret, ttl_seconds=SIGN_IN_TOKEN_TTL_SECONDS)
        return _json(200, {"user_id": user_id, "token": token})
