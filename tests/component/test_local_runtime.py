"""The local runtime (`parley local`) behaves like API Gateway + Lambda: real HTTP, WebSocket and boto3
clients against an in-process LocalRuntime with throwaway routes and handlers, and the CLI as a
subprocess (ready line, clean stop, no orphan processes)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import socket
import struct
import time
from collections import defaultdict
from urllib.parse import quote

import aiohttp
import boto3
import botocore.exceptions
import pytest
import redis
import yarl

from shared.resources import WEBSOCKET_STAGE
from infra.local.runtime import IDLE_TIMEOUT_ENV, MAX_CONNECTION_ENV, LocalRuntime, websocket_limits_from_environment
from infra.local.websocket_api import WebSocketLimits
from shared.domain import limits
from shared.routes import Route
from shared.storage.tables import TABLE_MODELS

pytestmark = pytest.mark.component

HTTP_AUTHORIZER = Route("http_authorizer", "authorizer", "http", timeout_seconds=2)
WS_AUTHORIZER = Route("ws_authorizer", "authorizer", "websocket", timeout_seconds=2)
GET_THING = Route("get_thing", "http", "GET /api/v1/things/{id}", memory_mb=512, timeout_seconds=3)
LIST_THINGS = Route("list_things", "http", "GET /api/v1/things")
THINGS_SUMMARY = Route("things_summary", "http", "GET /api/v1/things/summary")
POST_THING = Route("post_thing", "http", "POST /api/v1/things")
SLOW = Route("slow", "http", "GET /api/v1/slow", timeout_seconds=1)
BOOM = Route("boom", "http", "GET /api/v1/boom")
WS_CONNECT = Route("ws_connect", "websocket", "$connect")
WS_DISCONNECT = Route("ws_disconnect", "websocket", "$disconnect")
WS_DEFAULT = Route("ws_default", "websocket", "$default", returns_response=True)
WS_ECHO = Route("ws_echo", "websocket", "echo", returns_response=True)
WS_SILENT = Route("ws_silent", "websocket", "silent")
WS_EXPLODE = Route("ws_explode", "websocket", "explode", returns_response=True)
WS_TOGETHER = Route("ws_together", "websocket", "together", returns_response=True)
ROUTES = (
    HTTP_AUTHORIZER, WS_AUTHORIZER, GET_THING, LIST_THINGS, THINGS_SUMMARY, POST_THING, SLOW, BOOM,
    WS_CONNECT, WS_DISCONNECT, WS_DEFAULT, WS_ECHO, WS_SILENT, WS_EXPLODE, WS_TOGETHER,
)  # fmt: skip


class Backend:
    """Throwaway handlers that record what they get; what they answer depends on what they get."""

    def __init__(self) -> None:
        self.events: dict[str, list[dict]] = defaultdict(list)
        self.contexts: dict[str, list[object]] = defaultdict(list)
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(2, timeout=5)

    def _record(self, name: str, event: dict, context: object) -> None:
        with self._lock:
            self.events[name].append(event)
            self.contexts[name].append(context)

    async def wait_for(self, name: str, count: int = 1, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events[name]) < count:
            assert time.monotonic() < deadline, f"{name} ran {len(self.events[name])} times, expected {count}"
            await asyncio.sleep(0.01)
        return self.events[name]

    @property
    def handlers(self) -> dict:
        return {route.name: getattr(self, route.name) for route in ROUTES}

    def http_authorizer(self, event, context):
        self._record("http_authorizer", event, context)
        verdict = event["headers"]["authorization"].removeprefix("Bearer ")
        if verdict == "crash":
            raise ValueError("authorizer bug")
        return {"isAuthorized": verdict != "deny", "context": {"user_id": "alice"}}

    def get_thing(self, event, context):
        self._record("get_thing", event, context)
        return {
            "statusCode": 201,
            "headers": {"x-thing": quote(event["pathParameters"]["id"], safe=" "), "content-type": "application/json"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": json.dumps({"remaining_ms": context.get_remaining_time_in_millis()}),
        }

    def list_things(self, event, context):
        self._record("list_things", event, context)
        return {"things": [], "user": event["requestContext"]["authorizer"]["lambda"]["user_id"]}

    def things_summary(self, event, context):
        self._record("things_summary", event, context)
        if "surrogate" in (event.get("queryStringParameters") or {}):
            return {"statusCode": 200, "body": "\udc80"}  # no UTF-8 for it: the response is malformed
        return {"statusCode": 200, "body": "summary"}

    def post_thing(self, event, context):
        self._record("post_thing", event, context)
        return {
            "statusCode": 200,
            "isBase64Encoded": True,
            "body": base64.b64encode(b"\x00\xffraw").decode(),
            "headers": {"content-type": "application/octet-stream"},
        }

    def slow(self, event, context):
        self._record("slow", event, context)
        time.sleep(1.5)
        return {"statusCode": 200}

    def boom(self, event, context):
        self._record("boom", event, context)
        raise RuntimeError("handler bug")

    def ws_authorizer(self, event, context):
        self._record("ws_authorizer", event, context)
        token = event["queryStringParameters"]["token"]
        if token == "unauthorized":
            raise Exception("Unauthorized")  # what API Gateway turns into 401
        if token == "crash":
            raise ValueError("authorizer bug")
        effect = "Deny" if token == "deny" else "Allow"
        return {
            "principalId": "alice",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
            },
            "context": {"user_id": "alice"},
        }

    def ws_connect(self, event, context):
        self._record("ws_connect", event, context)
        if (event.get("queryStringParameters") or {}).get("slow"):
            time.sleep(0.5)
        if (event.get("queryStringParameters") or {}).get("refuse"):
            return {"statusCode": 403}
        return {"statusCode": 200}

    def ws_disconnect(self, event, context):
        self._record("ws_disconnect", event, context)
        return {"statusCode": 200}

    def ws_default(self, event, context):
        self._record("ws_default", event, context)
        return {"statusCode": 200, "body": json.dumps({"route": "$default", "got": event["body"]})}

    def ws_echo(self, event, context):
        self._record("ws_echo", event, context)
        if "surrogate" in event["body"]:
            return {"statusCode": 200, "body": "\ud800"}
        return {"statusCode": 200, "body": json.dumps({"route": "echo", "got": json.loads(event["body"])})}

    def ws_silent(self, event, context):
        self._record("ws_silent", event, context)
        return {"statusCode": 200, "body": "never sent: no route response"}

    def ws_explode(self, event, context):
        self._record("ws_explode", event, context)
        raise RuntimeError("handler bug")

    def ws_together(self, event, context):
        self._record("ws_together", event, context)
        self._barrier.wait()  # returns only if another invocation is running at the same time
        return {"statusCode": 200, "body": "together"}


def run(scenario, **runtime_options):
    """Runs `scenario(runtime, backend, session)` against a fresh in-process runtime."""
    backend = Backend()

    async def main():
        runtime = LocalRuntime(routes=ROUTES, handlers=backend.handlers, start_services=False, **runtime_options)
        async with runtime as rt, aiohttp.ClientSession() as session:
            await scenario(rt, backend, session)

    asyncio.run(main())
    return backend


def management_client(rt: LocalRuntime):
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=rt.management_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


async def next_text(ws, timeout: float = 5.0) -> str:
    message = await ws.receive(timeout=timeout)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return message.data


async def handshake_status(session, url: str, **params) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(url, params=params)
    return refused.value.status


# ------------------------------------------------------------------------------------------- HTTP API


def test_http_request_reaches_its_handler_with_a_payload_2_0_event_and_a_lambda_context():
    async def scenario(rt, backend, session):
        response = await session.get(
            f"{rt.http_url}/things/abc%20d?x=1&x=2&y=",
            headers={"Authorization": "Bearer allow", "Cookie": "s=1; t=2", "X-Multi": "v1"},
        )
        assert response.status == 201
        assert response.headers["x-thing"] == "abc d"
        assert response.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2"]
        assert 0 < (await response.json())["remaining_ms"] <= 3000

        [event] = backend.events["get_thing"]
        assert event["version"] == "2.0"
        assert event["routeKey"] == "GET /api/v1/things/{id}"
        assert event["rawPath"] == "/api/v1/things/abc%20d"
        assert event["rawQueryString"] == "x=1&x=2&y="
        assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
        assert event["pathParameters"] == {"id": "abc d"}
        assert event["cookies"] == ["s=1", "t=2"]
        assert event["headers"]["x-multi"] == "v1"
        assert event["headers"]["authorization"] == "Bearer allow"
        assert "cookie" not in event["headers"] and all(name == name.lower() for name in event["headers"])
        assert event["isBase64Encoded"] is False and "body" not in event
        request_context = event["requestContext"]
        assert request_context["authorizer"] == {"lambda": {"user_id": "alice"}}
        assert request_context["http"]["method"] == "GET"
        assert request_context["http"]["path"] == "/api/v1/things/abc%20d"
        assert request_context["http"]["sourceIp"] == "127.0.0.1"
        assert request_context["http"]["protocol"] == "HTTP/1.1"
        assert request_context["stage"] == "$default"
        assert request_context["routeKey"] == event["routeKey"]
        assert isinstance(request_context["timeEpoch"], int) and request_context["requestId"]
        assert response.headers["Apigw-Requestid"] == request_context["requestId"]
        for name in ("accountId", "apiId", "domainName", "domainPrefix", "time"):
            assert request_context[name]

        [context] = backend.contexts["get_thing"]
        assert context.function_name == "parley-get_thing"
        assert context.memory_limit_in_mb == "512"  # a string, as the Python runtime gives it
        assert context.invoked_function_arn.endswith(":function:parley-get_thing")
        assert context.aws_request_id and context.log_group_name == "/aws/lambda/parley-get_thing"

        [authorizer_event] = backend.events["http_authorizer"]
        assert authorizer_event["type"] == "REQUEST"
        assert authorizer_event["identitySource"] == ["Bearer allow"]
        assert authorizer_event["routeArn"].endswith("/$default/GET/api/v1/things/abc%20d")

    run(scenario)


def test_every_api_gateway_event_parses_with_powertools_models():
    """The events a handler gets are the ones Powertools' parser models describe (the stream and schedule
    events: tests/component/test_local_streams.py). Powertools has no model of the WebSocket `$connect`
    authorizer's event (its REST one wants resource, path and httpMethod, which AWS doesn't send there)."""
    from aws_lambda_powertools.utilities.parser.models import (
        APIGatewayProxyEventV2Model,
        APIGatewayWebSocketConnectEventModel,
        APIGatewayWebSocketDisconnectEventModel,
        APIGatewayWebSocketMessageEventModel,
        ApiGatewayAuthorizerRequestV2,
    )

    async def scenario(rt, backend, session):
        auth = {"Authorization": "Bearer allow", "content-type": "application/json"}
        assert (await session.get(f"{rt.http_url}/things/abc?x=1", headers=auth)).status == 201
        assert (await session.post(f"{rt.http_url}/things", headers=auth, data=b"{}")).status == 200
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        await ws.send_str(json.dumps({"action": "echo"}))
        await next_text(ws)
        await ws.close()
        await backend.wait_for("ws_disconnect")

        models = {
            "http_authorizer": ApiGatewayAuthorizerRequestV2,
            "get_thing": APIGatewayProxyEventV2Model,
            "post_thing": APIGatewayProxyEventV2Model,
            "ws_connect": APIGatewayWebSocketConnectEventModel,
            "ws_echo": APIGatewayWebSocketMessageEventModel,
            "ws_disconnect": APIGatewayWebSocketDisconnectEventModel,
        }
        for name, model in models.items():
            assert backend.events[name], name
            for event in backend.events[name]:
                model.model_validate(event)

    run(scenario)


def test_http_routes_match_like_api_gateway_and_unknown_ones_are_404():
    async def scenario(rt, backend, session):
        auth = {"Authorization": "Bearer allow"}
        summary = await session.get(f"{rt.http_url}/things/summary", headers=auth)
        assert (summary.status, await summary.text()) == (200, "summary")  # a literal beats {id}
        listed = await session.get(f"{rt.http_url}/things", headers=auth)
        assert (listed.status, await listed.json()) == (200, {"things": [], "user": "alice"})  # no statusCode: 200 JSON
        for method, path in (
            ("GET", "/api/v1/nothing"),
            ("DELETE", "/api/v1/things/x"),
            ("GET", "/"),
            ("GET", "/api/v1/things/x/y"),
        ):
            response = await session.request(method, rt.base_url + path, headers=auth)
            assert response.status == 404, path
            assert await response.json() == {"message": "Not Found"}
        assert not backend.events["http_authorizer"][2:]  # the authorizer never runs for an unknown route

    run(scenario)


def test_http_bodies_are_text_for_json_and_base64_otherwise_both_ways():
    async def scenario(rt, backend, session):
        auth = {"Authorization": "Bearer allow"}
        await session.post(f"{rt.http_url}/things", json={"name": "é"}, headers=auth)
        response = await session.post(
            f"{rt.http_url}/things", data=b"\x00\x01", headers=auth | {"Content-Type": "application/octet-stream"}
        )
        assert await response.read() == b"\x00\xffraw"  # isBase64Encoded response: decoded
        as_json, as_bytes = backend.events["post_thing"]
        assert (as_json["body"], as_json["isBase64Encoded"]) == ('{"name": "\\u00e9"}', False)
        assert (as_bytes["body"], as_bytes["isBase64Encoded"]) == ("AAE=", True)

    run(scenario)


def test_http_authorizer_missing_header_is_401_deny_is_403_crash_is_500():
    async def scenario(rt, backend, session):
        url = f"{rt.http_url}/things/1"
        missing = await session.get(url)
        assert (missing.status, await missing.json()) == (401, {"message": "Unauthorized"})
        assert not backend.events["http_authorizer"]  # never called without the identity source
        denied = await session.get(url, headers={"Authorization": "Bearer deny"})
        assert (denied.status, await denied.json()) == (403, {"message": "Forbidden"})
        crashed = await session.get(url, headers={"Authorization": "Bearer crash"})
        assert (crashed.status, await crashed.json()) == (500, {"message": "Internal Server Error"})
        assert not backend.events["get_thing"]

    run(scenario)


def test_http_api_answers_cors_preflights_itself_and_adds_cors_headers_to_every_response():
    async def scenario(rt, backend, session):
        preflight = await session.options(
            f"{rt.http_url}/things/1",
            headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
        )
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"
        assert set(preflight.headers["Access-Control-Allow-Headers"].split(",")) == {"authorization", "content-type"}
        assert not backend.events["http_authorizer"]
        for headers in ({}, {"Authorization": "Bearer allow"}):
            response = await session.get(f"{rt.http_url}/things/1", headers={"Origin": "http://x.test"} | headers)
            assert response.headers["Access-Control-Allow-Origin"] == "*", response.status
            # A browser may read a 429's retry-after only if it is exposed.
            assert response.headers["Access-Control-Expose-Headers"] == "retry-after", response.status

    run(scenario)


def test_http_handler_that_raises_is_500_and_one_that_overruns_its_timeout_is_503():
    async def scenario(rt, backend, session):
        auth = {"Authorization": "Bearer allow"}
        boom = await session.get(f"{rt.http_url}/boom", headers=auth)
        assert (boom.status, await boom.json()) == (500, {"message": "Internal Server Error"})
        started = time.monotonic()
        slow = await session.get(f"{rt.http_url}/slow", headers=auth)
        assert (slow.status, await slow.json()) == (503, {"message": "Service Unavailable"})
        assert time.monotonic() - started < 1.4  # answered at the route's 1 s timeout

    run(scenario)


def _raw_exchange(port: int, request: bytes) -> bytes:
    """Sends bytes no HTTP client would send and reads the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"NOT-HTTP <script>\r\n\r\n",
        b"GET /api/v1/things HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n",
        b"POST /api/v1/things HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    ],
    ids=["control character in the path", "not HTTP", "header too long", "conflicting lengths"],
)
def test_a_malformed_http_request_gets_api_gateways_json_and_no_server_header(request_bytes):
    async def scenario(rt, backend, session):
        answer = await asyncio.to_thread(_raw_exchange, rt.port, request_bytes)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] == b"400", answer
        assert json.loads(body) == {"message": "Bad Request"}
        assert b"server:" not in head.lower()
        assert not backend.events["http_authorizer"]

    run(scenario)


def test_no_response_names_the_server_software():
    async def scenario(rt, backend, session):
        for response in (
            await session.get(f"{rt.http_url}/things/1", headers={"Authorization": "Bearer allow"}),
            await session.get(f"{rt.http_url}/nothing"),
            await session.get(rt.ws_url),  # 426: not an upgrade
        ):
            assert "Server" not in response.headers, response.status

    run(scenario)


def test_a_path_with_encoded_control_characters_reaches_its_route_as_on_api_gateway():
    async def scenario(rt, backend, session):
        for raw in ("a%0Ab", "%0D%0A", "%00", "tab%09"):
            url = yarl.URL(f"{rt.http_url}/things/{raw}", encoded=True)
            response = await session.get(url, headers={"Authorization": "Bearer allow"})
            assert response.status == 201, (raw, await response.text())
        assert [e["pathParameters"]["id"] for e in backend.events["get_thing"]] == ["a\nb", "\r\n", "\x00", "tab\t"]

    run(scenario)


def test_a_handler_body_that_cannot_be_utf8_is_api_gateways_500_not_a_dropped_request():
    async def scenario(rt, backend, session):
        response = await session.get(f"{rt.http_url}/things/summary?surrogate", headers={"Authorization": "Bearer allow"})
        assert (response.status, await response.json()) == (500, {"message": "Internal Server Error"})

    run(scenario)


# -------------------------------------------------------------------------------------- WebSocket API


def test_websocket_handshake_is_refused_without_token_when_denied_or_when_connect_says_no():
    async def scenario(rt, backend, session):
        assert await handshake_status(session, rt.ws_url) == 401
        assert not backend.events["ws_authorizer"]
        assert await handshake_status(session, rt.ws_url, token="deny") == 403
        assert await handshake_status(session, rt.ws_url, token="unauthorized") == 401
        assert await handshake_status(session, rt.ws_url, token="crash") == 500
        assert not backend.events["ws_connect"]  # $connect only runs once the authorizer allows
        assert await handshake_status(session, rt.ws_url, token="allow", refuse="1") == 403
        assert len(backend.events["ws_connect"]) == 1
        assert not backend.events["ws_disconnect"]  # a refused handshake was never a connection

    run(scenario)


def test_websocket_connect_event_carries_the_authorizer_context():
    async def scenario(rt, backend, session):
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        [authorizer_event] = backend.events["ws_authorizer"]
        assert authorizer_event["type"] == "REQUEST"
        assert authorizer_event["methodArn"].endswith(f"/{WEBSOCKET_STAGE}/$connect")
        [event] = backend.events["ws_connect"]
        request_context = event["requestContext"]
        assert (request_context["routeKey"], request_context["eventType"]) == ("$connect", "CONNECT")
        assert request_context["authorizer"]["user_id"] == "alice"
        assert request_context["authorizer"]["principalId"] == "alice"
        assert request_context["connectionId"].endswith("=") and len(request_context["connectionId"]) == 16
        assert request_context["identity"]["sourceIp"] == "127.0.0.1"
        assert request_context["messageDirection"] == "IN"
        assert event["queryStringParameters"] == {"token": "allow"}
        assert event["multiValueHeaders"]["Host"] == [event["headers"]["Host"]]
        assert event["isBase64Encoded"] is False
        for name in ("connectedAt", "domainName", "stage", "apiId", "requestId", "requestTimeEpoch"):
            assert request_context[name]
        await ws.close()

    run(scenario)


def test_websocket_frames_are_routed_by_action_with_default_as_the_fallback():
    async def scenario(rt, backend, session):
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        await ws.send_str(json.dumps({"action": "echo", "n": 1}))
        assert json.loads(await next_text(ws)) == {"route": "echo", "got": {"action": "echo", "n": 1}}
        for frame in (
            "not json",
            json.dumps({"no": "action"}),
            json.dumps({"action": "nope"}),
            json.dumps({"action": "$connect"}),
            json.dumps(["action"]),
        ):
            await ws.send_str(frame)
            assert json.loads(await next_text(ws)) == {"route": "$default", "got": frame}
        await ws.send_str(json.dumps({"action": "silent"}))  # no route response: nothing comes back
        await backend.wait_for("ws_silent")
        await ws.send_str(json.dumps({"action": "explode"}))
        error = json.loads(await next_text(ws))
        assert error["message"] == "Internal server error" and error["requestId"]

        connection_id = backend.events["ws_connect"][0]["requestContext"]["connectionId"]
        assert error["connectionId"] == connection_id
        [event] = backend.events["ws_echo"]
        request_context = event["requestContext"]
        assert (request_context["routeKey"], request_context["eventType"]) == ("echo", "MESSAGE")
        assert request_context["connectionId"] == connection_id and request_context["messageId"]
        assert request_context["authorizer"]["user_id"] == "alice"  # carried on every message
        assert event["body"] == json.dumps({"action": "echo", "n": 1}) and event["isBase64Encoded"] is False
        await ws.close()

    run(scenario)


def test_websocket_handlers_run_concurrently():
    async def scenario(rt, backend, session):
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        await ws.send_str(json.dumps({"action": "together"}))
        await ws.send_str(json.dumps({"action": "together"}))
        assert [await next_text(ws, timeout=8), await next_text(ws, timeout=8)] == ["together", "together"]
        await ws.close()

    run(scenario)


def test_client_close_runs_disconnect_with_its_code():
    async def scenario(rt, backend, session):
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        await ws.close(code=4001, message=b"bye")
        [event] = await backend.wait_for("ws_disconnect")
        request_context = event["requestContext"]
        assert (request_context["routeKey"], request_context["eventType"]) == ("$disconnect", "DISCONNECT")
        assert (request_context["disconnectStatusCode"], request_context["disconnectReason"]) == (4001, "bye")
        assert request_context["authorizer"]["user_id"] == "alice"
        assert request_context["connectionId"] == backend.events["ws_connect"][0]["requestContext"]["connectionId"]

    run(scenario)


def _raw_websocket(port: int, query: str) -> socket.socket:
    """A WebSocket handshake by hand, for what client libraries won't do (close without a status,
    vanish before the 101 answer). Returns the socket with the request sent, answer unread."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        f"GET /ws?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    return sock


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload)
    )


def test_a_close_frame_without_a_status_reports_1005_with_awss_reason():
    def close_without_status(port):
        with _raw_websocket(port, "token=allow") as sock:
            assert sock.recv(4096).startswith(b"HTTP/1.1 101")
            sock.sendall(_masked_frame(0x8, b""))
            sock.recv(4096)  # the server's close frame

    async def scenario(rt, backend, session):
        await asyncio.to_thread(close_without_status, rt.port)
        [event] = await backend.wait_for("ws_disconnect")
        assert (event["requestContext"]["disconnectStatusCode"], event["requestContext"]["disconnectReason"]) == (
            1005,
            "Client-side close frame status not set",
        )

    run(scenario)


def test_a_client_gone_before_the_101_answer_still_gets_its_disconnect():
    async def scenario(rt, backend, session):
        sock = await asyncio.to_thread(_raw_websocket, rt.port, "token=allow&slow=1")
        await backend.wait_for("ws_connect")
        sock.close()  # while $connect still runs
        [event] = await backend.wait_for("ws_disconnect")
        connection_id = backend.events["ws_connect"][0]["requestContext"]["connectionId"]
        assert event["requestContext"]["connectionId"] == connection_id
        assert event["requestContext"]["authorizer"]["user_id"] == "alice"

    run(scenario)


def test_a_binary_frame_closes_the_connection_with_1003_as_api_gateway_does():
    async def scenario(rt, backend, session):
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        await ws.send_bytes(b'{"action": "echo"}')
        message = await ws.receive(timeout=5)
        assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1003)
        [event] = await backend.wait_for("ws_disconnect")
        assert event["requestContext"]["disconnectStatusCode"] == 1003
        assert not backend.events["ws_echo"] and not backend.events["ws_default"]

    run(scenario)


def test_connect_events_carry_no_connection_or_upgrade_header():
    async def scenario(rt, backend, session):
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        for event in (backend.events["ws_authorizer"][0], backend.events["ws_connect"][0]):
            names = {name.lower() for name in event["headers"]} | {name.lower() for name in event["multiValueHeaders"]}
            assert not names & {"connection", "upgrade"}, names
            assert {"host", "sec-websocket-key", "sec-websocket-version", "x-forwarded-for"} <= names
        await ws.close()

    run(scenario)


def test_disconnect_carries_the_same_authorizer_context_as_connect_and_every_message():
    async def scenario(rt, backend, session):
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        await ws.send_str(json.dumps({"action": "echo"}))
        await next_text(ws)
        await ws.close()
        [disconnect] = await backend.wait_for("ws_disconnect")
        authorizer = disconnect["requestContext"]["authorizer"]
        assert authorizer["user_id"] == "alice" and authorizer["principalId"] == "alice"
        assert authorizer == backend.events["ws_connect"][0]["requestContext"]["authorizer"]
        assert authorizer == backend.events["ws_echo"][0]["requestContext"]["authorizer"]

    run(scenario)


def test_frames_no_parser_can_route_go_to_default_and_the_connection_stays_open():
    async def scenario(rt, backend, session):
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        deep = '{"action":"echo","a":' + "[" * 60000 + "]" * 60000 + "}"  # under 128 KB
        await ws.send_str(deep)
        assert json.loads(await next_text(ws))["route"] == "$default"
        await ws.send_str(json.dumps({"action": "echo", "surrogate": 1}))  # its answer can't be UTF-8
        assert json.loads(await next_text(ws))["message"] == "Internal server error"
        await ws.send_str(json.dumps({"action": "echo", "n": 2}))
        assert json.loads(await next_text(ws))["got"] == {"action": "echo", "n": 2}
        await ws.close()

    run(scenario)


def test_a_message_over_128_kb_closes_the_connection_with_1009():
    async def scenario(rt, backend, session):
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        largest = "x" * limits.WS_MAX_FRAME_BYTES
        await ws.send_str(largest)
        assert json.loads(await next_text(ws))["got"] == largest
        await ws.send_str(largest + "x")
        message = await ws.receive(timeout=5)
        assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1009)
        [event] = await backend.wait_for("ws_disconnect")
        assert event["requestContext"]["disconnectStatusCode"] == 1009

    run(scenario)


def test_an_idle_connection_is_closed_with_1001_after_the_idle_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv(IDLE_TIMEOUT_ENV, "0.6")

    async def scenario(rt, backend, session):
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        for _ in range(4):  # activity keeps it open past the idle timeout
            await asyncio.sleep(0.3)
            await ws.send_str("still here")
            await next_text(ws)
        started = time.monotonic()
        message = await ws.receive(timeout=5)
        assert (message.type, message.data, message.extra) == (aiohttp.WSMsgType.CLOSE, 1001, "Going away")
        assert 0.4 < time.monotonic() - started < 1.5
        [event] = await backend.wait_for("ws_disconnect")
        assert (event["requestContext"]["disconnectStatusCode"], event["requestContext"]["disconnectReason"]) == (
            1001,
            "Going away",
        )

    run(scenario)


def test_a_connection_is_closed_with_1001_at_its_maximum_age_even_when_busy():
    async def scenario(rt, backend, session):
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        started = time.monotonic()
        while True:
            await ws.send_str("busy")
            message = await ws.receive(timeout=5)
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            await asyncio.sleep(0.1)
        assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)
        assert 0.8 < time.monotonic() - started < 2.0

    run(scenario, ws_limits=WebSocketLimits(idle_timeout_seconds=30, max_connection_seconds=1.0))


def test_websocket_limits_come_from_the_environment_with_api_gateways_defaults():
    assert websocket_limits_from_environment({}) == WebSocketLimits(
        limits.WS_MAX_FRAME_BYTES, limits.WS_IDLE_TIMEOUT_SECONDS, limits.WS_MAX_CONNECTION_SECONDS
    )
    overridden = websocket_limits_from_environment({IDLE_TIMEOUT_ENV: "2.5", MAX_CONNECTION_ENV: "60"})
    assert (overridden.idle_timeout_seconds, overridden.max_connection_seconds) == (2.5, 60)
    with pytest.raises(ValueError):
        websocket_limits_from_environment({IDLE_TIMEOUT_ENV: "soon"})


# ------------------------------------------------------------------------------------ management API


def test_management_api_posts_describes_and_deletes_connections_like_aws():
    async def scenario(rt, backend, session):
        client = management_client(rt)
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"}, headers={"User-Agent": "parley-test"})
        connection_id = backend.events["ws_connect"][0]["requestContext"]["connectionId"]

        await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b'{"type":"hello"}')
        assert await next_text(ws) == '{"type":"hello"}'

        described = await asyncio.to_thread(client.get_connection, ConnectionId=connection_id)
        assert described["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "parley-test"}
        assert described["ConnectedAt"] <= described["LastActiveAt"]

        too_large = await session.post(
            f"{rt.management_url}/@connections/{connection_id}", data=b"x" * (limits.WS_MAX_FRAME_BYTES + 1)
        )
        assert (too_large.status, too_large.headers["x-amzn-ErrorType"]) == (413, "PayloadTooLargeException")

        await asyncio.to_thread(client.delete_connection, ConnectionId=connection_id)
        message = await ws.receive(timeout=5)
        assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1000)
        [event] = await backend.wait_for("ws_disconnect")
        assert event["requestContext"]["connectionId"] == connection_id
        assert event["requestContext"]["eventType"] == "DISCONNECT"

        for call in (
            lambda: client.post_to_connection(ConnectionId=connection_id, Data=b"late"),
            lambda: client.get_connection(ConnectionId="unknownConnId=="),
            lambda: client.delete_connection(ConnectionId="unknownConnId=="),
        ):
            with pytest.raises(client.exceptions.GoneException) as gone:
                await asyncio.to_thread(call)
            assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410

    run(scenario)


def test_management_api_is_gone_for_a_connection_the_client_closed():
    async def scenario(rt, backend, session):
        client = management_client(rt)
        ws = await session.ws_connect(rt.ws_url, params={"token": "allow"})
        connection_id = backend.events["ws_connect"][0]["requestContext"]["connectionId"]
        await ws.close()
        await backend.wait_for("ws_disconnect")
        with pytest.raises(botocore.exceptions.ClientError) as gone:
            await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b"x")
        assert gone.value.response["Error"]["Code"] == "GoneException"

    run(scenario)


# ---------------------------------------------------------------------------------- the CLI process


def _processes() -> dict[int, tuple[int, int, str, str]]:
    """pid -> (parent pid, process group, name, state), from /proc; the name of a Python process is what
    it runs (`-m module` or script), so the moto child is told from the runtime."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat_file:
                stat = stat_file.read()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline_file:
                argv = cmdline_file.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name.startswith("python") and "-m" in argv[:-1]:
            name = argv[argv.index("-m") + 1]
        state, parent, group = stat[stat.rindex(")") + 2 :].split()[:3]
        table[int(entry)] = (int(parent), int(group), name, state)
    return table


def _descendants(pid: int) -> dict[int, str]:
    table = _processes()
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, (child_parent, _, name, _) in table.items():
            if child_parent == parent and child not in found:
                found[child] = name
                frontier.append(child)
    return found


def _alive(pid: int) -> bool:
    """Running, not a zombie (after a SIGKILL, orphans are reaped by init, whenever it gets to it)."""
    entry = _processes().get(pid)
    return entry is not None and entry[3] != "Z"


def _alive_in_group(group: int) -> list[str]:
    return [name for _, entry_group, name, state in _processes().values() if entry_group == group and state != "Z"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "how",
    ["SIGTERM", "SIGINT", "Ctrl-C", "SIGKILL"],
    ids=["SIGTERM", "SIGINT", "Ctrl-C to the process group", "SIGKILL"],
)
def test_parley_local_starts_serves_and_stops_without_leaving_processes(how):
    from infra.local.runtime import function_processes_from_environment
    from tests.support.local_runtime import run_local_runtime

    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "REDIS_URL", "JWT_SECRET")}
    with run_local_runtime(env=env) as rt:  # startup time is a benchmark figure, not asserted here
        assert rt.http_url.endswith("/api/v1") and rt.ws_url.endswith("/ws")
        children = _descendants(rt.pid)
        workers = function_processes_from_environment(env)  # one per core, at most 4
        assert workers >= 1
        assert sorted(children.values()) == (
            ["infra.local.function_workers"] * workers + ["infra.local.moto_process", "redis-server"]
        ), children

        token = subprocess.run(
            [sys.executable, "-m", "infra.local.cli", "token", "alice", "--ttl", "600"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip

        async def call_api():
            async with aiohttp.ClientSession() as session:
                anonymous = await session.get(f"{rt.http_url}/conversations")
                assert anonymous.status == 401
                listed = await session.get(f"{rt.http_url}/conversations", headers={"Authorization": f"Bearer {token}"})
                assert listed.status == 200, await listed.text()
                assert (await listed.json())["conversations"] == []

        asyncio.run(call_api())
        dynamodb = boto3.client(
            "dynamodb", endpoint_url=rt.dynamodb_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        assert set(dynamodb.list_tables()["TableNames"]) >= {m.Meta.table_name for m in TABLE_MODELS.values()}
        assert redis.Redis.from_url(rt.redis_url).ping()

        if how == "Ctrl-C":  # what a terminal does: every process of the foreground group gets SIGINT
            os.killpg(rt.pid, signal.SIGINT)
            assert rt.process.wait(timeout=15) == 0, rt.output()
        elif how == "SIGKILL":  # no clean-up at all: the children must go by themselves
            assert rt.stop(signal.SIGKILL) == -signal.SIGKILL
        else:
            assert rt.stop(getattr(signal, how)) == 0, rt.output()
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [name for pid, name in children.items() if _alive(pid)], rt.output()
        assert not _alive_in_group(rt.pid), rt.output()  # nothing left in its process group


def _gone_within(seconds: float, pids) -> list[str]:
    """The processes of `pids` still alive after waiting up to `seconds` for them to go."""
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    table = _processes()
    return [table[pid][2] for pid in pids if _alive(pid)]


def _local_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "REDIS_URL", "JWT_SECRET")}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_parley_local_whose_output_nobody_reads_any_more_stops_on_a_signal(signum):
    # What a killed test run leaves: its end of the runtime's output pipe closed. Writing "Stopping…" there
    # failed, before the signal was noted, so the runtime ignored every SIGTERM and SIGINT.
    from infra.local.cli import STOP_HINT

    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.cli", "local", "--port", "0"],
        env={**_local_env(), "PYTHONUNBUFFERED": "1"}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True,
    )  # fmt: skip
    try:
        output = []
        for line in process.stdout:
            output.append(line)
            if STOP_HINT in line:
                break
        assert STOP_HINT in output[-1], "".join(output)
        children = _descendants(process.pid)
        assert {"infra.local.moto_process", "redis-server"} <= set(children.values()), children
        process.stdout.close()

        os.kill(process.pid, signum)
        assert _gone_within(10, [process.pid, *children]) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


_TEST_RUN = """
import time
from tests.support.local_runtime import run_local_runtime
with run_local_runtime() as runtime:
    print(runtime.pid, flush=True)
    time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; prctl")
def test_parley_local_stops_with_the_test_run_that_started_it_when_that_is_killed():
    from tests.support.local_runtime import REPO_ROOT

    test_run = subprocess.Popen(
        [sys.executable, "-c", _TEST_RUN], cwd=REPO_ROOT, env=_local_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    runtime_pid = int(test_run.stdout.readline())
    try:
        children = _descendants(runtime_pid)
        assert {"infra.local.moto_process", "redis-server"} <= set(children.values()), children
        runtime = [runtime_pid, *children]
        test_run.kill()  # no clean-up: the runtime is in a session of its own, so no signal reaches it either
        test_run.wait()
        assert _gone_within(10, runtime) == []
    finally:
        test_run.kill()
        test_run.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(runtime_pid, signal.SIGKILL)  # what this test found left (its own session)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("import sys; sys.exit(3)", "it exited (exit code 3"),
        ("print('something else', flush=True)", "unexpected first line 'something else'"),
        ("import time; time.sleep(30)", "not ready within 0.5 s"),
    ],
    ids=["exits", "says something else", "never ready"],
)
def test_a_moto_process_that_does_not_start_is_a_clear_error_and_is_stopped(monkeypatch, command, expected):
    from infra.local import services

    monkeypatch.setattr(services, "MOTO_COMMAND", (sys.executable, "-c", command))
    moto = services.MotoServer()
    with pytest.raises(RuntimeError, match="embedded moto server") as failed:
        moto.wait_ready(timeout=0.5)
    assert expected in str(failed.value)
    assert moto.process.poll() is not None
