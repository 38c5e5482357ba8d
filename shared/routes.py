"""The route table: every endpoint's route key, handler, grants and sizing, in one place.

The CDK stack builds one function and one route per entry; the local runtime dispatches from it;
a test checks the synthesized template against it. Handlers live in `functions/<name>.py` as `handler`.

DynamoDB grants are the exact actions the route's code calls, per logical table (shared/resources.py):

    tables={"messages": {"Query", "GetItem"}, "connections": {"Query", "DeleteItem"}}

- name the IAM action of each call: GetItem, Query, Scan, PutItem, UpdateItem, DeleteItem,
  BatchGetItem, BatchWriteItem, ConditionCheckItem. A transaction needs each item's own action on that
  item's table (a `tx.save` is PutItem, `tx.update` UpdateItem, `tx.delete` DeleteItem,
  `tx.condition_check` ConditionCheckItem; there is no TransactWriteItems permission). A Query on an
  index is Query on its table (the grant covers the table's indexes).
- nothing more: the CDK stack grants exactly these (infra/constructs/endpoint_function.py).
- how it stays exact: `parley local` and the tests refuse a call the running function is not granted,
  with AccessDeniedException as AWS would (infra/local/iam.py), so a missing action fails the tests that
  reach that code; and tests/component/test_grants.py runs scenarios for every route and fails if a
  granted action is never called. A new route with tables needs a scenario there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from shared.media.keys import MEDIA_PREFIX, upload_prefix

# http/websocket: API Gateway routes; authorizer: their Lambda authorizers; the trigger kinds run work
# after a request: stream (a DynamoDB table's stream; `key` is the table's logical name), s3 (objects
# created under the prefix in `key`), schedule (`key` is an EventBridge rate/cron expression).
Api = Literal["http", "websocket", "authorizer", "stream", "s3", "schedule"]
TRIGGER_APIS = ("stream", "s3", "schedule")
# What a route may name in `tables` (the data-plane actions; stream reads are granted by the trigger).
DYNAMODB_ACTIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "ConditionCheckItem",
    }
)

HTTP_PREFIX = "/api/v1"
WS_ROUTE_SELECTION = "$request.body.action"


@dataclass(frozen=True)
class Route:
    name: str  # function name; its code is functions/<name>.py
    api: Api
    key: str  # "GET /api/v1/…" for HTTP, "$connect" / "sendMessage" / … for WebSocket, "http"/"websocket" for authorizers
    tables: Mapping[str, frozenset[str]] = field(default_factory=dict)  # logical table -> DynamoDB actions (above)
    manages_connections: bool = False  # posts to / deletes WebSocket connections (management API)
    uses_redis: bool = False  # reaches the cache (placed in the VPC when Redis is deployed)
    reads_jwt_secret: bool = False
    # The per-user search indexes' bucket (shared/storage/repositories/search_indexes.py): "read" or "read_write".
    search_indexes: Literal["read", "read_write"] | None = None
    # S3 actions on the media bucket, by key prefix (the layout: shared/media/keys.py).
    media_bucket: dict[str, tuple[str, ...]] = field(default_factory=dict)
    returns_response: bool = False  # WebSocket: the handler's body is sent back to the caller
    public: bool = False  # HTTP: no authorizer, anyone may call it (only for what is public anyway)
    memory_mb: int = 256
    timeout_seconds: int = 10
    # Triggers only: records per invocation (stream), and how often a failed batch or event is retried
    # before it goes to the dead-letter destination (schedules: at most 2, Lambda's asynchronous limit).
    batch_size: int = 100
    retry_attempts: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", {table: _actions(self.name, table, a) for table, a in self.tables.items()})

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


def _actions(route: str, table: str, actions: Iterable[str]) -> frozenset[str]:
    if isinstance(actions, str):
        raise TypeError(
            f"route {route}: tables[{table!r}] must be the DynamoDB actions the code calls, e.g. "
            f'{{"GetItem", "Query"}}, not {actions!r} (see the top of shared/routes.py)'
        )
    actions = frozenset(actions)
    unknown = actions - DYNAMODB_ACTIONS
    if unknown or not actions:
        raise ValueError(
            f"route {route}: tables[{table!r}] names {sorted(unknown) or 'no action'}; "
            f"use some of {sorted(DYNAMODB_ACTIONS)}"
        )
    return actions


def _http(method: str, path: str, name: str, **kwargs) -> Route:
    return Route(name=name, api="http", key=f"{method} {HTTP_PREFIX}{path}", **kwargs)


# Granted to every function that stores a message and pushes it.
# Pushing to users' devices: one user's connections (GetItem), or several at once (BatchGetItem), and
# forgetting those that answered 410 or expired (UpdateItem).
_SEND_GRANTS = dict(
    tables={
        "conversations": {"GetItem"},  # participants, on a cold instance
        # the send's transaction; a retry's message or a quoted one; the newest seq; linking a reply
        "messages": {"PutItem", "GetItem", "Query", "UpdateItem"},
        "sent_messages": {"PutItem", "GetItem"},  # the idempotency claim (same transaction); a retry finds it
        "user_conversations": {"UpdateItem"},  # the sender's own row, in the send's transaction
        "connections": {"BatchGetItem", "UpdateItem"},  # both users' devices; forget the gone ones
        "media": {"GetItem", "UpdateItem"},  # a media message: its upload, then bound to it
    },
    manages_connections=True,
    uses_redis=True,
    media_bucket={MEDIA_PREFIX: ("s3:PutObjectTagging",)},  # attached media no longer expires
)

# A read moves both users' rows (reading the reader's first) and pushes to both users' devices.
_READ_GRANTS = dict(
    tables={
        "conversations": {"GetItem"},
        "user_conversations": {"GetItem", "UpdateItem"},
        # GetItem when only one user's devices are told (the local IAM check found it: parley local).
        "connections": {"BatchGetItem", "GetItem", "UpdateItem"},
    },
    manages_connections=True,
    uses_redis=True,  # the read caches' invalidation (shared/storage/repositories/read_cache.py)
)
_SYNC_TABLES = {"events": {"Query"}, "messages": {"BatchGetItem"}}
# Typing: participants (cold instance), then the peer's devices; rate limited in Redis.
_TYPING_GRANTS = dict(
    tables={"conversations": {"GetItem"}, "connections": {"GetItem", "UpdateItem"}},
    manages_connections=True,
    uses_redis=True,
)
# Presence reads: which asked users share a conversation with the caller (their rows), then their
# connections (one user's by GetItem, several by BatchGetItem); heartbeats in Redis.
_PRESENCE_READ_GRANTS = dict(
    tables={"user_conversations": {"BatchGetItem"}, "connections": {"GetItem", "BatchGetItem"}}, uses_redis=True
)
# Presence changes: the user's peers (a Query of their rows) get `presence` on their devices (one peer's
# connections by GetItem, several by BatchGetItem).
_PRESENCE_PUSH = dict(manages_connections=True, uses_redis=True)

# Changing a message after its send: find it (GetItem) and prove membership (the caller's row), update it,
# tell the participants' devices (BatchGetItem of their connections, forgetting the gone ones).
_REACTION_GRANTS = dict(
    tables={
        "conversations": {"GetItem"},
        "messages": {"GetItem", "UpdateItem"},
        "user_conversations": {"GetItem"},
        "connections": {"BatchGetItem", "UpdateItem"},
    },
    manages_connections=True,
    uses_redis=True,  # the read caches' invalidation
)
# A delete also empties reply previews and the rows' last-message previews; one "for me" tells the
# caller's devices only (GetItem of their connections). One for everyone deletes the message's media.
_DELETE_GRANTS = dict(
    tables={
        "conversations": {"GetItem"},
        "messages": {"GetItem", "UpdateItem"},
        "user_conversations": {"GetItem", "UpdateItem"},
        "connections": {"GetItem", "BatchGetItem", "UpdateItem"},
        "media": {"GetItem", "UpdateItem"},  # the media record read, then marked deleted
    },
    manages_connections=True,
    uses_redis=True,  # the read caches' invalidation
    media_bucket={MEDIA_PREFIX: ("s3:DeleteObject",)},
)
def _star_grants(star_action: str) -> dict:
    """(Un)starring writes the message's `starred_by` and the StarRecord in one transaction, and tells the
    caller's devices alone (GetItem of their connections)."""
    return dict(
        tables={
            "messages": {"GetItem", "UpdateItem"},
            "user_conversations": {"GetItem"},
            "stars": {star_action},
            "connections": {"GetItem", "UpdateItem"},
        },
        manages_connections=True,
        uses_redis=True,  # the read caches' invalidation
    )


# Results are read back from the messages and the caller's rows, a page at a time.
_MESSAGE_PAGE_TABLES = {"messages": {"BatchGetItem"}, "user_conversations": {"BatchGetItem"}}


def _upload_grant(kind: str, path: str) -> Route:
    # A presigned POST is signed with the function's own credentials: it needs PutObject where it points.
    return _http(
        "POST", path, f"upload_{kind}", tables={"media": {"PutItem"}}, media_bucket={upload_prefix(kind): ("s3:PutObject",)}
    )


def _media_processor(kind: str, **sizing) -> Route:
    """An S3 trigger on the kind's uploads: judges each, keeps what passes under media/, tells the owner."""
    return Route(
        f"process_{kind}",
        "s3",
        upload_prefix(kind),
        # the record read and settled; the owner's devices found, gone ones forgotten
        tables={"media": {"GetItem", "UpdateItem"}, "connections": {"GetItem", "UpdateItem"}},
        manages_connections=True,
        media_bucket={
            upload_prefix(kind): ("s3:GetObject", "s3:DeleteObject"),
            MEDIA_PREFIX: ("s3:PutObject", "s3:PutObjectTagging"),
        },
        retry_attempts=2,  # Lambda's maximum for asynchronous invocations
        **sizing,
    )


ROUTES: tuple[Route, ...] = (
    # Authorizers: turn a JWT into the caller's user id before any other function runs.
    Route("http_authorizer", "authorizer", "http", reads_jwt_secret=True, memory_mb=256, timeout_seconds=5),
    Route("ws_authorizer", "authorizer", "websocket", reads_jwt_secret=True, memory_mb=256, timeout_seconds=5),
    # HTTP API
    # Cached routes and every writer of messages or conversation rows reach Redis (read caches, their
    # invalidation: shared/storage/repositories/read_cache.py); the Query/GetItem below run on a cache miss.
    # The OpenAPI document (shared/contracts/openapi.json, in the shared layer): public, like any API's docs.
    _http("GET", "/openapi.json", "openapi_document", public=True, memory_mb=128, timeout_seconds=3),
    _http("GET", "/conversations", "list_conversations", tables={"user_conversations": {"Query"}}, uses_redis=True),
    # {id} is the other user's id here: API Gateway wants one variable name per path position.
    _http(
        "POST",
        "/conversations/{id}",
        "start_conversation",
        # Read the caller's row; else one transaction writes the conversation and both rows.
        tables={"conversations": {"PutItem"}, "user_conversations": {"GetItem", "PutItem"}},
        uses_redis=True,
    ),
    _http("GET", "/conversations/{id}", "get_conversation", tables={"user_conversations": {"GetItem"}}),
    _http(
        "GET",
        "/conversations/{id}/messages",
        "list_messages",
        tables={"user_conversations": {"GetItem"}, "messages": {"Query"}},
        uses_redis=True,
    ),
    _http("POST", "/conversations/{id}/messages", "send_message", memory_mb=512, **_SEND_GRANTS),
    _http("PATCH", "/conversations/{id}/read", "mark_read", **_READ_GRANTS),
    _http("GET", "/sync", "sync_events", tables=_SYNC_TABLES),
    _http("POST", "/conversations/{id}/typing/start", "typing_start", **_TYPING_GRANTS),
    _http("POST", "/conversations/{id}/typing/stop", "typing_stop", **_TYPING_GRANTS),
    _http(
        "GET",
        "/users/{id}/presence",
        "get_presence",
        tables={"user_conversations": {"BatchGetItem"}, "connections": {"GetItem"}},
        uses_redis=True,
    ),
    _http("GET", "/users/presence/bulk", "get_presence_bulk", **_PRESENCE_READ_GRANTS),
    # unread:{user} (a Query of the rows on a miss)
    _http("GET", "/conversations/unread-count", "unread_count", tables={"user_conversations": {"Query"}}, uses_redis=True),
    _http("POST", "/messages/{id}/reactions", "add_reaction", **_REACTION_GRANTS),
    _http("DELETE", "/messages/{id}/reactions", "remove_reaction", **_REACTION_GRANTS),
    _http("DELETE", "/messages/{id}", "delete_message", **_DELETE_GRANTS),
    _http("POST", "/messages/{id}/star", "star_message", **_star_grants("PutItem")),
    _http("DELETE", "/messages/{id}/star", "unstar_message", **_star_grants("DeleteItem")),
    _http("GET", "/messages/starred", "list_starred", tables=_MESSAGE_PAGE_TABLES | {"stars": {"Query"}}),
    _http("GET", "/messages/search", "search_messages", tables=_MESSAGE_PAGE_TABLES, search_indexes="read", memory_mb=512),
    # Media: upload grants, download links
    _upload_grant("image", "/messages/upload-image"),
    _upload_grant("audio", "/messages/upload-audio"),
    _upload_grant("file", "/messages/upload-file"),
    _http(
        "GET",
        "/media/{id}",
        "get_media",
        tables={"media": {"GetItem"}, "conversations": {"GetItem"}},  # the media; its conversation's participants
        media_bucket={MEDIA_PREFIX: ("s3:GetObject",)},
    ),
    # WebSocket API
    # A user's first connection creates their item; later ones and $disconnect update it.
    # Connecting and disconnecting also tell the user's peers when the user comes online or goes offline.
    Route(
        "ws_connect",
        "websocket",
        "$connect",
        tables={"connections": {"PutItem", "UpdateItem", "GetItem", "BatchGetItem"}, "user_conversations": {"Query"}},
        **_PRESENCE_PUSH,
    ),
    Route(
        "ws_disconnect",
        "websocket",
        "$disconnect",
        tables={"connections": {"UpdateItem", "GetItem", "BatchGetItem"}, "user_conversations": {"Query"}},
        **_PRESENCE_PUSH,
    ),
    Route("ws_default", "websocket", "$default", returns_response=True),
    # A ping is one Redis round trip; storage only when it brings a lapsed user back online.
    Route(
        "ws_ping",
        "websocket",
        "ping",
        returns_response=True,
        tables={"connections": {"GetItem", "BatchGetItem", "UpdateItem"}, "user_conversations": {"Query"}},
        **_PRESENCE_PUSH,
    ),
    Route("ws_typing", "websocket", "typing", returns_response=True, **_TYPING_GRANTS),
    Route("ws_send_message", "websocket", "sendMessage", returns_response=True, memory_mb=512, **_SEND_GRANTS),
    # An ack moves the peer's delivered marker and tells the peer's devices only.
    Route(
        "ws_ack",
        "websocket",
        "ack",
        returns_response=True,
        tables={
            "conversations": {"GetItem"},
            "user_conversations": {"UpdateItem"},
            "connections": {"GetItem", "UpdateItem"},
        },
        manages_connections=True,
        uses_redis=True,
    ),
    Route("ws_read", "websocket", "read", returns_response=True, **_READ_GRANTS),
    Route("ws_sync", "websocket", "sync", returns_response=True, tables=_SYNC_TABLES),
    # Stream consumers: what a send derives, off the hot path (shared/services/event_log.py).
    Route(
        "on_message_stored",
        "stream",
        "messages",
        tables={"conversations": {"GetItem"}, "user_conversations": {"UpdateItem"}},
        uses_redis=True,
    ),
    # One batch at a time per user: the event log's single writer (a conditional append backs it up).
    Route("append_user_events", "stream", "user_conversations", tables={"events": {"PutItem", "Query"}}),
    # Users whose devices stopped their heartbeat (gone without a $disconnect) go offline for their peers.
    Route(
        "presence_sweeper",
        "schedule",
        "rate(1 minute)",
        tables={"connections": {"UpdateItem", "GetItem", "BatchGetItem"}, "user_conversations": {"Query"}},
        retry_attempts=0,  # the next minute's run retries anything left undone
        **_PRESENCE_PUSH,
    ),
    # Each user's search index: its only writer, fed by that user's event log in order (README, "Search").
    Route(
        "search_indexer",
        "stream",
        "events",
        tables={"messages": {"BatchGetItem"}},
        search_indexes="read_write",
        memory_mb=1024,
        timeout_seconds=60,
    ),
    # S3 triggers: one function per media kind. Memory from tests/benchmarks/media.py: a 48 MP PNG (no scaled
    # decode, the worst case) peaks at ~620 MB; JPEGs of any size at ~220 MB.
    _media_processor("image", memory_mb=1024, timeout_seconds=60),
    _media_processor("audio", memory_mb=256, timeout_seconds=30),
    _media_processor("file", memory_mb=512, timeout_seconds=120),
)

HTTP_ROUTES = tuple(r for r in ROUTES if r.api == "http")
WEBSOCKET_ROUTES = tuple(r for r in ROUTES if r.api == "websocket")
TRIGGER_ROUTES = tuple(r for r in ROUTES if r.is_trigger)


def authorizer_for(api: Literal["http", "websocket"]) -> Route:
    return next(r for r in ROUTES if r.api == "authorizer" and r.key == api)
