"""The emulated API Gateway HTTP API: route matching, the Lambda REQUEST authorizer, payload format 2.0."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from infra.local.front_door import gateway_message
from infra.local.lambda_events import HttpRequest, http_authorizer_event, http_event, new_id, now_ms
from infra.local.lambda_invoker import FunctionError, FunctionTimeout, LambdaInvoker
from shared.resources import CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_SECONDS
from shared.routes import Route

log = logging.getLogger("local.http")

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API's request payload limit
IDENTITY_SOURCE_HEADER = "authorization"  # $request.header.Authorization
# What the client gets when a handler overruns its timeout. 503 is API Gateway's answer when its 30 s
# integration timeout passes; a Lambda that times out sooner surfaces on AWS as a 500.
HANDLER_TIMEOUT_STATUS = 503

_VARIABLE = re.compile(r"^\{([^{}+]+)(\+?)\}$")


def message_response(status: int, message: str, request_id: str | None = None) -> web.Response:
    """API Gateway's own error answers: ``{"message": "..."}``."""
    return gateway_message(status, message, {"Apigw-Requestid": request_id} if request_id else None)


@dataclass(frozen=True)
class _Segment:
    literal: str | None  # None for a variable
    variable: str | None = None
    greedy: bool = False

    @property
    def rank(self) -> int:
        return 0 if self.literal is not None else (2 if self.greedy else 1)


class HttpRouteTable:
    """Picks a route as API Gateway does: a literal match beats a path variable beats a greedy
    variable (``{proxy+}``) beats ``$default``; a method beats ``ANY``."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._default: Route | None = None
        self._routes: list[tuple[tuple, Route, list[_Segment]]] = []
        for route in routes:
            if route.key == "$default":
                self._default = route
                continue
            segments = [self._segment(part) for part in route.path.split("/")[1:]]
            specificity = (tuple(s.rank for s in segments), route.method == "ANY")
            self._routes.append((specificity, route, segments))
        self._routes.sort(key=lambda entry: entry[0])

    @staticmethod
    def _segment(part: str) -> _Segment:
        variable = _VARIABLE.match(part)
        if variable:
            return _Segment(literal=None, variable=variable.group(1), greedy=bool(variable.group(2)))
        return _Segment(literal=part)

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        parts = [unquote(part) for part in raw_path.split("/")[1:]]
        for _, route, segments in self._routes:
            if route.method not in (method, "ANY"):
                continue
            parameters = self._match_segments(segments, parts)
            if parameters is not None:
                return route, parameters
        return (self._default, {}) if self._default else None

    @staticmethod
    def _match_segments(segments: list[_Segment], parts: list[str]) -> dict[str, str] | None:
        parameters: dict[str, str] = {}
        for index, segment in enumerate(segments):
            if segment.greedy:
                rest = parts[index:]
                if not rest or not any(rest):
                    return None
                parameters[segment.variable] = "/".join(rest)
                return parameters
            if index >= len(parts):
                return None
            if segment.literal is not None:
                if parts[index] != segment.literal:
                    return None
            elif parts[index] == "":
                return None
            else:
                parameters[segment.variable] = parts[index]
        return parameters if len(parts) == len(segments) else None


@dataclass(frozen=True)
class CorsPolicy:
    """The HTTP API's CORS configuration (the stack's defaults): API Gateway answers preflight requests
    itself, adds the CORS headers to every response and ignores any the integration returns."""

    allow_origins: tuple[str, ...] = ("*",)
    allow_headers: tuple[str, ...] = CORS_ALLOW_HEADERS
    allow_methods: tuple[str, ...] = ("*",)
    expose_headers: tuple[str, ...] = CORS_EXPOSE_HEADERS
    max_age_seconds: int = CORS_MAX_AGE_SECONDS

    def allowed_origin(self, origin: str | None) -> str | None:
        if not origin:
            return None
        if "*" in self.allow_origins:
            return "*"
        return origin if origin in self.allow_origins else None

    @staticmethod
    def is_preflight(request: web.Request) -> bool:
        return (
            request.method == "OPTIONS"
            and "Origin" in request.headers
            and "Access-Control-Request-Method" in request.headers
        )

    def preflight_response(self, request: web.Request) -> web.Response:
        headers = {}
        origin = self.allowed_origin(request.headers.get("Origin"))
        if origin:
            headers = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ",".join(self.allow_methods),
                "Access-Control-Allow-Headers": ",".join(self.allow_headers),
                "Access-Control-Max-Age": str(self.max_age_seconds),
            }
        return web.Response(status=204, headers=headers)

    def apply(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        for name in [n for n in response.headers if n.lower().startswith("access-control-")]:
            del response.headers[name]
        origin = self.allowed_origin(request.headers.get("Origin"))
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            if self.expose_headers:
                response.headers["Access-Control-Expose-Headers"] = ",".join(self.expose_headers)
        return response


class MalformedLambdaResponse(Exception):
    pass


def authorizer_decision(result: object) -> tuple[bool, dict | None]:
    """A simple-response authorizer's answer: (isAuthorized, context)."""
    if not isinstance(result, dict) or not isinstance(result.get("isAuthorized"), bool):
        raise MalformedLambdaResponse(f"authorizer returned {result!r}, not {{'isAuthorized': bool, ...}}")
    context = result.get("context")
    if context is not None and not isinstance(context, dict):
        raise MalformedLambdaResponse("authorizer context must be an object")
    return result["isAuthorized"], context


def _header_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def lambda_result_response(result: object, request_id: str) -> web.Response:
    """Turns a handler's result into the HTTP response, by payload format 2.0's rules."""
    headers = CIMultiDict({"Apigw-Requestid": request_id})
    if not (isinstance(result, dict) and "statusCode" in result):
        # Valid JSON without a statusCode: API Gateway answers 200 with the JSON itself.
        headers["Content-Type"] = "application/json"
        return web.Response(status=200, body=json.dumps(result).encode(), headers=headers)
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedLambdaResponse(f"statusCode {status!r} is not an HTTP status")
    for name, value in (result.get("headers") or {}).items():
        headers[name] = _header_value(value)
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", str(cookie))
    headers.setdefault("Content-Type", "application/json")
    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise MalformedLambdaResponse(f"body must be a string, got {type(body).__name__}")
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise MalformedLambdaResponse(f"isBase64Encoded but body is not base64: {exc}") from None
    else:
        try:
            payload = body.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedLambdaResponse("body is not valid UTF-8 text (a lone surrogate)") from None
    return web.Response(status=status, body=payload, headers=headers)


class HttpApi:
    def __init__(
        self,
        routes: Iterable[Route],
        authorizer: Route | None,
        invoker: LambdaInvoker,
        region: str,
        cors: CorsPolicy | None = None,
    ) -> None:
        self._table = HttpRouteTable(routes)
        self._authorizer = authorizer
        self._invoker = invoker
        self._region = region
        self._cors = cors

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._cors is None:
            return await self._handle(request)
        if self._cors.is_preflight(request):
            return self._cors.preflight_response(request)
        return self._cors.apply(request, await self._handle(request))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        request_id = new_id()
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return message_response(413, "Request Entity Too Large", request_id)
        raw_path, _, raw_query = request.raw_path.partition("?")
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        http_request = HttpRequest(
            method=request.method,
            raw_path=raw_path,
            raw_query=raw_query.partition("#")[0],
            headers=list(request.headers.items()),
            body=body,
            source_ip=request.remote or "127.0.0.1",
            server_port=sockname[1] if sockname else 0,
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
        )
        matched = self._table.match(http_request.method, raw_path)
        if matched is None:
            return message_response(404, "Not Found", request_id)
        route, path_parameters = matched
        epoch_ms = now_ms()

        authorizer = None
        if self._authorizer is not None and not route.public:
            identity = http_request.header(IDENTITY_SOURCE_HEADER)
            if not identity:
                return message_response(401, "Unauthorized", request_id)
            event = http_authorizer_event(
                http_request,
                route_key=route.key,
                path_parameters=path_parameters,
                identity_source=[identity],
                region=self._region,
                request_id=request_id,
                epoch_ms=epoch_ms,
            )
            try:
                allowed, context = authorizer_decision(await self._invoker.invoke(self._authorizer, event))
            except (FunctionError, FunctionTimeout, MalformedLambdaResponse) as exc:
                log.error("authorizer failed on %s %s: %s", request.method, raw_path, exc)
                return message_response(500, "Internal Server Error", request_id)
            if not allowed:
                return message_response(403, "Forbidden", request_id)
            authorizer = {"lambda": context}

        event = http_event(
            http_request,
            route_key=route.key,
            path_parameters=path_parameters,
            authorizer=authorizer,
            request_id=request_id,
            epoch_ms=epoch_ms,
        )
        try:
            result = await self._invoker.invoke(route, event)
            return lambda_result_response(result, request_id)
        except FunctionTimeout:
            return message_response(HANDLER_TIMEOUT_STATUS, "Service Unavailable", request_id)
        except FunctionError:
            return message_response(500, "Internal Server Error", request_id)
        except MalformedLambdaResponse as exc:
            log.error("%s returned a malformed response: %s", route.name, exc)
            return message_response(500, "Internal Server Error", request_id)
