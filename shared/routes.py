"""The route table: every endpoint's route key, handler, grants and sizing, in one place.

The CDK stack builds one function and one route per entry; the local runtime dispatches from it;
a test checks the synthesized template against it. Handlers live in `functions/<name>.py` as `handler`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# http/websocket: API Gateway routes; authorizer: their Lambda authorizers; the trigger kinds run work
# after a request: stream (a DynamoDB table's stream; `key` is the table's logical name), s3 (objects
# created under the prefix in `key`), schedule (`key` is an EventBridge rate/cron expression).
Api = Literal["http", "websocket", "authorizer", "stream", "s3", "schedule"]
TRIGGER_APIS = ("stream", "s3", "schedule")
Access = Literal["read", "write", "read_write"]

HTTP_PREFIX = "/api/v1"
WS_ROUTE_SELECTION = "$request.body.action"


@dataclass(frozen=True)
class Route:
    name: str  # function name; its code is functions/<name>.py
    api: Api
    key: str  # "GET /api/v1/…" for HTTP, "$connect" / "sendMessage" / … for WebSocket, "http"/"websocket" for authorizers
    tables: dict[str, Access] = field(default_factory=dict)  # logical table name -> access
    manages_connections: bool = False  # posts to / deletes WebSocket connections (management API)
    uses_redis: bool = False  # reaches the cache (placed in the VPC when Redis is deployed)
    reads_jwt_secret: bool = False
    returns_response: bool = False  # WebSocket: the handler's body is sent back to the caller
    memory_mb: int = 256
    timeout_seconds: int = 10
    # Triggers only: records per invocation (stream), and how often a failed batch or event is retried
    # before it goes to the dead-letter destination.
    batch_size: int = 100
    retry_attempts: int = 3

    @property
    def is_trigger(self) -> bool:
        return self.api in TRIGGER_APIS

    @property
    def handler(self) -> str:
        """Module path and function, as the Lambda runtime and the local runtime import it."""
        return f"functions.{self.name}.handler"

    @property
    def method(self) -> str:
        return self.key.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return self.key.split(" ", 1)[1]


def _http(method: str, path: str, name: str, **kwargs) -> Route:
    return Route(name=name, api="http", key=f"{method} {HTTP_PREFIX}{path}", **kwargs)


# Granted to every function that stores a message and pushes it.
_SEND_GRANTS = dict(
    tables={
        "conversations": "read",
        "messages": "read_write",
        "sent_messages": "read_write",
        "user_conversations": "write",  # the sender's own row, in the send's transaction
        "connections": "read_write",
    },
    manages_connections=True,
    uses_redis=True,
)

# Receipts move both users' rows and push to their devices.
_RECEIPT_GRANTS = dict(
    tables={"conversations": "read", "user_conversations": "read_write", "connections": "read_write"},
    manages_connections=True,
)
_SYNC_TABLES = {"events": "read", "messages": "read"}

ROUTES: tuple[Route, ...] = (
    # Authorizers: turn a JWT into the caller's user id before any other function runs.
    Route("http_authorizer", "authorizer", "http", reads_jwt_secret=True, memory_mb=256, timeout_seconds=5),
    Route("ws_authorizer", "authorizer", "websocket", reads_jwt_secret=True, memory_mb=256, timeout_seconds=5),
    # HTTP API
    _http("GET", "/conversations", "list_conversations", tables={"user_conversations": "read"}),
    # {id} is the other user's id here: API Gateway wants one variable name per path position.
    _http(
        "POST",
        "/conversations/{id}",
        "start_conversation",
        tables={"conversations": "read_write", "user_conversations": "read_write"},
    ),
    _http("GET", "/conversations/{id}", "get_conversation", tables={"user_conversations": "read"}),
    _http(
        "GET",
        "/conversations/{id}/messages",
        "list_messages",
        tables={"user_conversations": "read", "messages": "read"},
    ),
    _http("POST", "/conversations/{id}/messages", "send_message", memory_mb=512, **_SEND_GRANTS),
    _http("PATCH", "/conversations/{id}/read", "mark_read", **_RECEIPT_GRANTS),
    _http("GET", "/sync", "sync_events", tables=_SYNC_TABLES),
    # WebSocket API
    Route("ws_connect", "websocket", "$connect", tables={"connections": "write"}),
    Route("ws_disconnect", "websocket", "$disconnect", tables={"connections": "write"}),
    Route("ws_default", "websocket", "$default", returns_response=True),
    Route("ws_ping", "websocket", "ping", returns_response=True),
    Route("ws_send_message", "websocket", "sendMessage", returns_response=True, memory_mb=512, **_SEND_GRANTS),
    Route("ws_ack", "websocket", "ack", returns_response=True, **_RECEIPT_GRANTS),
    Route("ws_read", "websocket", "read", returns_response=True, **_RECEIPT_GRANTS),
    Route("ws_sync", "websocket", "sync", returns_response=True, tables=_SYNC_TABLES),
    # Stream consumers: what a send derives, off the hot path (shared/services/event_log.py).
    Route(
        "on_message_stored",
        "stream",
        "messages",
        tables={"conversations": "read", "user_conversations": "read_write"},
    ),
    # One batch at a time per user: the event log's single writer (a conditional append backs it up).
    Route("append_user_events", "stream", "user_conversations", tables={"events": "read_write"}),
)

HTTP_ROUTES = tuple(r for r in ROUTES if r.api == "http")
WEBSOCKET_ROUTES = tuple(r for r in ROUTES if r.api == "websocket")
TRIGGER_ROUTES = tuple(r for r in ROUTES if r.is_trigger)


def authorizer_for(api: Literal["http", "websocket"]) -> Route:
    return next(r for r in ROUTES if r.api == "authorizer" and r.key == api)
