"""aiohttp made to answer like API Gateway's front door: no `Server` header naming library versions, and
API Gateway's JSON `{"message": …}` for requests too malformed to parse, where aiohttp would answer in
plain text that echoes part of the request.

aiohttp has no public hook for the parser's errors, so the runner swaps in a request handler (the
protocol object) that overrides `handle_error`; tests/component/test_local_runtime.py checks it still works.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("local.http")


def gateway_message(
    status: int, message: str, headers: dict | None = None, response_class: type[web.Response] = web.Response
) -> web.Response:
    """API Gateway's own error answers: ``{"message": "..."}``."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return response_class(status=status, body=body, headers={"Content-Type": "application/json", **(headers or {})})


async def drop_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """An on_response_prepare signal handler (it runs after aiohttp has set `Server`)."""
    response.headers.popall("Server", None)


class _ServerlessResponse(web.Response):
    """The answer to an unparsable request: no app signal runs for it, so the header goes here."""

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        self.headers.popall("Server", None)


class _GatewayRequestHandler(RequestHandler):
    __slots__ = ()

    def handle_error(
        self, request, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # an answer is already on its way: nothing more can be said
            raise ConnectionError("response already started")
        if status >= 500:
            log.error("error handling a request from %s", request.remote, exc_info=exc)
        else:
            log.info("refused a malformed request from %s: %s %s", request.remote, status, exc or message or "")
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        response = gateway_message(status, phrase, response_class=_ServerlessResponse)
        response.force_close()
        return response


class _GatewayServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _GatewayRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayAppRunner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _GatewayServer
        return server
