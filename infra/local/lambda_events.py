"""API Gateway's Lambda events, built the way AWS builds them.

HTTP API: payload format 2.0 (handler and REQUEST authorizer). WebSocket API: the CONNECT, MESSAGE and
DISCONNECT events and the REQUEST authorizer event of `$connect`. The builders take plain data (no aiohttp
types), so they can be checked on their own.
"""

from __future__ import annotations

import base64
import secrets
import string
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from infra.local.lambda_context import ACCOUNT_ID
from shared.resources import WEBSOCKET_STAGE

HTTP_API_ID = "localhttp"
WS_API_ID = "localws"
HTTP_STAGE = "$default"

# Verified against AWS by others: an HTTP API passes these bodies as text, every other (or a missing)
# content type base64-encoded, application/x-www-form-urlencoded included.
_TEXT_CONTENT_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})
_ID_ALPHABET = string.ascii_letters + string.digits
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

Pairs = Sequence[tuple[str, str]]


def new_id() -> str:
    """An id shaped like API Gateway's request and connection ids, e.g. ``L0SM9cOFvHcCIhw=``."""
    # One read of the OS's randomness per id, not one per character (ids are made several times per send).
    return "".join(_ID_ALPHABET[byte % len(_ID_ALPHABET)] for byte in secrets.token_bytes(15)) + "="


def now_ms() -> int:
    return int(time.time() * 1000)


def request_time(epoch_ms: int) -> str:
    """API Gateway's CLF-style time, e.g. ``12/Mar/2020:19:03:58 +0000``."""
    t = time.gmtime(epoch_ms / 1000)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


def is_text_content_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_CONTENT_TYPES


def _joined(pairs: Pairs, *, lower: bool) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower() if lower else name
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def _multi(pairs: Pairs) -> dict[str, list[str]]:
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return multi


def _last(pairs: Pairs) -> dict[str, str]:
    return {name: value for name, value in pairs}


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    return parse_qsl(raw_query, keep_blank_values=True)


# ---------------------------------------------------------------------------------------------- HTTP API


@dataclass(frozen=True)
class HttpRequest:
    """What the HTTP API sees of a request."""

    method: str
    raw_path: str  # as sent, percent-encoding kept, without the query string
    raw_query: str
    headers: Pairs  # as sent, repeats kept
    body: bytes
    source_ip: str
    server_port: int
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else None

    @property
    def domain_name(self) -> str:
        return self.header("host") or "localhost"


def _http_headers(request: HttpRequest) -> dict[str, str]:
    headers = _joined([(k, v) for k, v in request.headers if k.lower() != "cookie"], lower=True)
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-port", str(request.server_port))
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-amzn-trace-id", trace_id())
    return headers


def _cookies(request: HttpRequest) -> list[str]:
    return [
        cookie.strip()
        for name, value in request.headers
        if name.lower() == "cookie"
        for cookie in value.split(";")
        if cookie.strip()
    ]


def _http_request_context(
    request: HttpRequest, route_key: str, request_id: str, epoch_ms: int, authorizer: dict | None
) -> dict:
    domain = request.domain_name
    context = {
        "accountId": ACCOUNT_ID,
        "apiId": HTTP_API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0].split(":", 1)[0],
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": HTTP_STAGE,
        "time": request_time(epoch_ms),
        "timeEpoch": epoch_ms,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return context


def _http_common(request: HttpRequest, route_key: str, path_parameters: dict[str, str]) -> dict:
    """The fields the handler and the authorizer events share; empty ones are left out, as AWS does."""
    event: dict = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    cookies = _cookies(request)
    if cookies:
        event["cookies"] = cookies
    event["headers"] = _http_headers(request)
    query = query_pairs(request.raw_query)
    if query:
        event["queryStringParameters"] = _joined(query, lower=False)
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    return event


def http_route_arn(request: HttpRequest, region: str) -> str:
    return f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{HTTP_API_ID}/{HTTP_STAGE}/{request.method}{request.raw_path}"


def http_authorizer_event(
    request: HttpRequest,
    *,
    route_key: str,
    path_parameters: dict[str, str],
    identity_source: list[str],
    region: str,
    request_id: str,
    epoch_ms: int,
) -> dict:
    """A REQUEST authorizer event, payload format 2.0."""
    event = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": http_route_arn(request, region),
        "identitySource": identity_source,
        **_http_common(request, route_key, path_parameters),
    }
    event["requestContext"] = _http_request_context(request, route_key, request_id, epoch_ms, None)
    return event


def http_event(
    request: HttpRequest,
    *,
    route_key: str,
    path_parameters: dict[str, str],
    authorizer: dict | None,
    request_id: str,
    epoch_ms: int,
) -> dict:
    """The handler's event, payload format 2.0; a Lambda authorizer's context is ``{"lambda": context}``."""
    event = _http_common(request, route_key, path_parameters)
    event["requestContext"] = _http_request_context(request, route_key, request_id, epoch_ms, authorizer)
    if request.body:
        if is_text_content_type(request.header("content-type")):
            event["body"] = request.body.decode("utf-8", errors="replace")
            event["isBase64Encoded"] = False
        else:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


# ----------------------------------------------------------------------------------------- WebSocket API


@dataclass(frozen=True)
class WebSocketClient:
    """What the WebSocket API keeps of a connection's upgrade request."""

    connection_id: str
    connected_at_ms: int
    source_ip: str
    user_agent: str
    domain_name: str
    server_port: int
    headers: Pairs
    query: Pairs


def ws_method_arn(region: str, route_key: str = "$connect") -> str:
    return f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{WS_API_ID}/{WEBSOCKET_STAGE}/{route_key}"


def _ws_request_context(
    client: WebSocketClient,
    *,
    route_key: str,
    event_type: str,
    request_id: str,
    epoch_ms: int,
    authorizer: dict | None,
) -> dict:
    context = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(epoch_ms),
        "messageDirection": "IN",
        "stage": WEBSOCKET_STAGE,
        "connectedAt": client.connected_at_ms,
        "requestTimeEpoch": epoch_ms,
        "identity": {"sourceIp": client.source_ip, "userAgent": client.user_agent},
        "requestId": request_id,
        "domainName": client.domain_name,
        "connectionId": client.connection_id,
        "apiId": WS_API_ID,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return context


# Hop-by-hop headers of the upgrade request that API Gateway does not pass on.
_WS_HOP_BY_HOP = frozenset({"connection", "upgrade"})


def _ws_upgrade_headers(client: WebSocketClient) -> list[tuple[str, str]]:
    headers = [(name, value) for name, value in client.headers if name.lower() not in _WS_HOP_BY_HOP]
    present = {name.lower() for name, _ in headers}
    for name, value in (
        ("X-Amzn-Trace-Id", trace_id()),
        ("X-Forwarded-For", client.source_ip),
        ("X-Forwarded-Port", str(client.server_port)),
        ("X-Forwarded-Proto", "http"),
    ):
        if name.lower() not in present:
            headers.append((name, value))
    return headers


def _ws_upgrade_fields(client: WebSocketClient) -> dict:
    headers = _ws_upgrade_headers(client)
    fields: dict = {"headers": _last(headers), "multiValueHeaders": _multi(headers)}
    if client.query:
        fields["queryStringParameters"] = _last(client.query)
        fields["multiValueQueryStringParameters"] = _multi(client.query)
    return fields


def ws_authorizer_event(client: WebSocketClient, *, region: str, request_id: str, epoch_ms: int) -> dict:
    """The REQUEST authorizer event of `$connect`."""
    return {
        "type": "REQUEST",
        "methodArn": ws_method_arn(region),
        **_ws_upgrade_fields(client),
        "stageVariables": {},
        "requestContext": _ws_request_context(
            client,
            route_key="$connect",
            event_type="CONNECT",
            request_id=request_id,
            epoch_ms=epoch_ms,
            authorizer=None,
        ),
    }


def ws_connect_event(client: WebSocketClient, *, authorizer: dict | None, request_id: str, epoch_ms: int) -> dict:
    return {
        **_ws_upgrade_fields(client),
        "requestContext": _ws_request_context(
            client,
            route_key="$connect",
            event_type="CONNECT",
            request_id=request_id,
            epoch_ms=epoch_ms,
            authorizer=authorizer,
        ),
        "isBase64Encoded": False,
    }


def ws_message_event(
    client: WebSocketClient,
    *,
    route_key: str,
    body: str,
    is_base64_encoded: bool,
    authorizer: dict | None,
    request_id: str,
    epoch_ms: int,
) -> dict:
    context = _ws_request_context(
        client,
        route_key=route_key,
        event_type="MESSAGE",
        request_id=request_id,
        epoch_ms=epoch_ms,
        authorizer=authorizer,
    )
    context["messageId"] = new_id()
    return {"requestContext": context, "body": body, "isBase64Encoded": is_base64_encoded}


def ws_disconnect_event(
    client: WebSocketClient,
    *,
    status_code: int,
    reason: str,
    authorizer: dict | None,
    request_id: str,
    epoch_ms: int,
) -> dict:
    headers = {
        "Host": client.domain_name,
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    context = _ws_request_context(
        client,
        route_key="$disconnect",
        event_type="DISCONNECT",
        request_id=request_id,
        epoch_ms=epoch_ms,
        authorizer=authorizer,
    )
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }
