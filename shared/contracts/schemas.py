"""What every request, response and WebSocket frame looks like, as JSON Schema (2020-12, as OpenAPI 3.1 and
AsyncAPI 3 take it), keyed by the route table's names. Limits, patterns and enums are the code's own
(shared/domain/limits.py, shared/domain/validation.py, shared/domain/ids.py, shared/domain/models.py, shared/domain/errors.py), quoted, never
copied; shared/contracts/generate.py turns this and shared/routes.py into the two documents.

How it stays true: every response the e2e suite gets and every frame it sends or receives is validated
against the generated documents (tests/support/contracts.py), schemathesis checks parley local's answers
against the OpenAPI document (tests/fuzz/test_schemathesis.py), tests/unit/test_contracts.py checks the
models' serializers, and a route without a contract here fails generation.

Schemas refer to each other as "#/components/schemas/<Name>": both documents carry COMPONENTS there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shared.domain import errors, ids, limits, validation
from shared.domain.emoji import MAX_EMOJI_CODE_POINTS
from shared.media import policy
from shared.domain.models import MEDIA_MESSAGE_TYPES, MESSAGE_TYPES, PREVIEW_LENGTH, STATUSES
from shared.services.presence import OFFLINE, ONLINE
from shared.services.typing import TYPING_STATES


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


def obj(properties: Mapping[str, dict], *, optional: tuple[str, ...] = (), description: str | None = None) -> dict:
    """A JSON object with exactly these properties (all required unless named in `optional`)."""
    schema: dict = {"type": "object"}
    if description:
        schema["description"] = description
    schema["properties"] = dict(properties)
    required = [name for name in properties if name not in optional]
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def all_error_classes() -> list[type[errors.ParleyError]]:
    found, pending = [errors.ParleyError], [errors.ParleyError]
    while pending:
        for sub in pending.pop().__subclasses__():
            found.append(sub)
            pending.append(sub)
    return found


def error_codes(status: int | None = None) -> list[str]:
    """The stable codes of shared/domain/errors.py, all of them or those answered with `status`."""
    return sorted({e.code for e in all_error_classes() if status is None or e.status == status})


def error_statuses() -> list[int]:
    return sorted({e.status for e in all_error_classes()})


_TIMESTAMP = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$",
    "description": "ISO 8601 UTC with milliseconds (shared/domain/timefmt.py)",
}
_SEQ = {"type": "integer", "minimum": 1, "maximum": ids.MAX_SEQ, "description": "the message's position in its conversation"}
_MESSAGE_TYPE = {"enum": list(MESSAGE_TYPES)}
_SIZE = {"type": "integer", "minimum": 1, "description": "bytes"}
# What a client needs to render media before downloading it (shared/media/model.py): the fields that apply.
_MEDIA_RENDER_FIELDS = {
    "file_name": {"type": "string", "minLength": 1, "maxLength": policy.MAX_FILE_NAME_LENGTH},
    "width": {"type": "integer", "minimum": 1},
    "height": {"type": "integer", "minimum": 1},
    "placeholder": {"type": "string", "minLength": 1, "description": "images: a BlurHash"},
    "duration_ms": {"type": "integer", "minimum": 0, "description": "voice notes"},
    "renditions": {
        "type": "object",
        "additionalProperties": {"$ref": "#/components/schemas/Rendition"},
        "description": "images: thumbnail, standard (and hd for hd uploads); voice notes and files: original",
    },
}

COMPONENTS: dict[str, dict] = {
    "UserId": {
        "type": "string",
        "minLength": 1,
        "maxLength": limits.MAX_USER_ID_LENGTH,
        # No control, format or separator characters (a space inside is fine), no surrounding spaces.
        "pattern": r"^\S(.*\S)?$",
        "description": "a user id as the token's subject carries it",
    },
    "ConversationId": {
        "type": "string",
        "minLength": 35,
        "maxLength": 35,
        "pattern": f"^{ids.CONVERSATION_ID_PATTERN}$",
        "description": "the 1-on-1 conversation of two users: the same id from either side",
    },
    "MessageId": {
        "type": "string",
        "maxLength": 64,
        "pattern": f"^{ids.CONVERSATION_ID_PATTERN}\\.{ids.SEQ_PATTERN}$",
        "description": "<conversation id>.<seq>: stable, treat as opaque",
    },
    "ClientMessageId": {
        "type": "string",
        "minLength": 1,
        "maxLength": limits.MAX_CLIENT_MESSAGE_ID_LENGTH,
        "pattern": f"^{validation.CLIENT_MESSAGE_ID.pattern}$",
        "description": "chosen by the client, unique per sender: a retry with the same id is the same send",
    },
    "Cursor": {
        "type": "string",
        "minLength": 1,
        "maxLength": limits.MAX_CURSOR_LENGTH,
        "description": "opaque: pass it back as it was handed out",
    },
    "Timestamp": _TIMESTAMP,
    "MessageStatus": {"enum": list(STATUSES), "description": "as the viewer sees it: sent, delivered or read"},
    "Emoji": {"type": "string", "minLength": 1, "maxLength": MAX_EMOJI_CODE_POINTS, "description": "exactly one emoji"},
    "ReplyPreview": obj(
        {
            "id": ref("MessageId"),
            "seq": _SEQ,
            "sender_id": ref("UserId"),
            "type": _MESSAGE_TYPE,
            "preview": {"type": "string", "maxLength": PREVIEW_LENGTH},
            "deleted": {"type": "boolean", "description": "the quoted message was deleted: its preview is empty"},
        },
        description="what a reply shows of the message it quotes",
    ),
    "Reaction": obj({"user_id": ref("UserId"), "emoji": ref("Emoji")}),
    "MediaId": {"type": "string", "pattern": f"^{ids.SORTABLE_ID_PATTERN}$", "description": "an upload grant's media id"},
    "MediaKind": {"enum": list(policy.MEDIA_KINDS)},
    "Rendition": obj(
        {"content_type": {"type": "string"}, "size": _SIZE, "width": {"type": "integer", "minimum": 1},
         "height": {"type": "integer", "minimum": 1}},
        optional=("width", "height"),
    ),  # fmt: skip
    "Attachment": obj(
        {"media_id": ref("MediaId"), "kind": ref("MediaKind"), "content_type": {"type": "string"}, "size": _SIZE,
         **_MEDIA_RENDER_FIELDS},
        optional=tuple(_MEDIA_RENDER_FIELDS),
        description="a media message's media, as the message carries it",
    ),  # fmt: skip
    "Media": obj(
        {"id": ref("MediaId"), "kind": ref("MediaKind"), "status": {"enum": ["pending", "ready", "rejected"]},
         "content_type": {"type": "string"}, "size": _SIZE, "created_at": _TIMESTAMP,
         "reason": {"type": "string", "description": "rejected: why (a stable code)"}, **_MEDIA_RENDER_FIELDS},
        optional=("reason", *_MEDIA_RENDER_FIELDS),
        description="an uploaded image, voice note or file",
    ),  # fmt: skip
    "Message": obj(
        {
            "id": ref("MessageId"),
            "conversation_id": ref("ConversationId"),
            "seq": _SEQ,
            "sender_id": ref("UserId"),
            "client_message_id": ref("ClientMessageId"),
            "type": _MESSAGE_TYPE,
            "content": {"type": "string", "maxLength": limits.MAX_TEXT_LENGTH, "description": "empty once deleted"},
            "created_at": ref("Timestamp"),
            "status": ref("MessageStatus"),
            "reply_to": nullable(ref("ReplyPreview")),
            "reactions": {"type": "array", "items": ref("Reaction"), "description": "one per user, by user id"},
            "deleted": {"type": "boolean", "description": "a tombstone: deleted for everyone, or by the viewer for themselves"},
            "starred": {"type": "boolean", "description": "the viewer starred it (private: no one else sees it)"},
            "attachments": {
                "type": "array",
                "items": ref("Attachment"),
                "maxItems": 1,
                "description": "image, audio and file messages (never on a tombstone)",
            },
        },
        optional=("attachments",),
    ),
    "LastMessage": obj(
        {
            "id": ref("MessageId"),
            "seq": _SEQ,
            "sender_id": ref("UserId"),
            "type": _MESSAGE_TYPE,
            "preview": {"type": "string", "maxLength": PREVIEW_LENGTH},
            "created_at": ref("Timestamp"),
            "status": ref("MessageStatus"),
            "deleted": {"type": "boolean"},
        }
    ),
    "Conversation": obj(
        {
            "id": ref("ConversationId"),
            "type": {"const": "direct"},
            "participant_ids": {"type": "array", "items": ref("UserId"), "minItems": 2, "maxItems": 2},
            "peer_id": ref("UserId"),
            "created_at": ref("Timestamp"),
            "last_message": nullable(ref("LastMessage")),
            "last_activity_at": ref("Timestamp"),
            "unread_count": {"type": "integer", "minimum": 0},
        },
        description="a conversation as the caller sees it",
    ),
    "Presence": obj(
        {
            "user_id": ref("UserId"),
            "status": {"enum": [ONLINE, OFFLINE]},
            "last_seen": {**nullable(ref("Timestamp")), "description": "null while online"},
        }
    ),
    "StarredMessage": obj({"message": ref("Message"), "starred_at": ref("Timestamp")}),
    "SearchResult": obj({"message": ref("Message"), "conversation": ref("Conversation")}),
    "ErrorCode": {"enum": error_codes(), "description": "stable: match on it, never on the message"},
    "Error": obj(
        {
            "error": obj(
                {
                    "code": ref("ErrorCode"),
                    "message": {"type": "string", "minLength": 1, "description": "for people: may change"},
                    "details": {
                        "type": "object",
                        "description": "rate_limited: {retry_after_seconds}",
                        "properties": {"retry_after_seconds": {"type": "integer", "minimum": 1}},
                    },
                },
                optional=("details",),
            )
        },
        description="Parley's own error answer",
    ),
    "GatewayMessage": obj(
        {"message": {"type": "string"}},
        description="API Gateway's own answer (no route, no token, throttled, an integration failure)",
    ),
}

# Each status's error answer: Parley's with the codes of that status (shared/domain/errors.py).
for _status in error_statuses():
    COMPONENTS[f"Error{_status}"] = {
        "allOf": [ref("Error")],
        "properties": {"error": {"properties": {"code": {"enum": error_codes(_status)}}}},
    }


# ---------------------------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Query:
    schema: dict
    description: str
    required: bool = False


@dataclass(frozen=True)
class HttpContract:
    """One HTTP route's contract, beyond what the route table says (method, path, auth)."""

    summary: str
    responses: Mapping[int, dict | None]  # success status -> body schema (None: no body, e.g. 204)
    path_id: dict | None = None  # the schema of the route's {id}, if it has one
    query: Mapping[str, Query] = field(default_factory=dict)
    body: dict | None = None  # request body schema (JSON)
    body_required: bool = True
    errors: tuple[type[errors.ParleyError], ...] = ()  # beyond those every route may answer


PAGE = {
    "limit": Query({"type": "integer", "minimum": 1, "maximum": limits.MAX_PAGE_SIZE, "default": limits.DEFAULT_PAGE_SIZE}, "page size (empty: the default)"),
    "cursor": Query(ref("Cursor"), "next_cursor of the previous page (empty: the first page)"),
}
_NEXT_CURSOR = {**nullable(ref("Cursor")), "description": "null on the last page"}
_MESSAGE = obj({"message": ref("Message")})
_CONVERSATION = obj({"conversation": ref("Conversation")})
_CONVERSATION_ID = {**ref("ConversationId"), "description": "the conversation's id"}
_MESSAGE_ID = {**ref("MessageId"), "description": "the message's id"}

SEND_BODY = {
    "client_message_id": ref("ClientMessageId"),
    "type": {**_MESSAGE_TYPE, "default": MESSAGE_TYPES[0]},
    "content": {"type": "string", "maxLength": limits.MAX_TEXT_LENGTH, "pattern": r"^$|\S",
                "description": "text: required, not blank; image/audio/file: an optional caption (empty or not blank)"},  # fmt: skip
    "reply_to": {**nullable(ref("MessageId")), "description": "the quoted message, of the same conversation"},
    "media_id": {**ref("MediaId"), "description": "image/audio/file: the sender's own ready upload"},
}
_SEND_OPTIONAL = ("type", "content", "reply_to", "media_id")
# What a send needs besides its client_message_id depends on its type (SendMessageRequest.from_body): a
# text message (the default type) its content, not blank; an image, voice note or file its upload.
SEND_NEEDS = {
    "if": {"properties": {"type": {"enum": list(MEDIA_MESSAGE_TYPES)}}, "required": ["type"]},
    "then": {"required": ["media_id"]},
    "else": {"required": ["content"], "properties": {"content": {"minLength": 1}}},
}


def _upload_contract(kind: str, summary: str, extra: Mapping[str, dict], optional: tuple[str, ...]) -> HttpContract:
    accepted = ", ".join(policy.ACCEPTED_TYPES[kind])
    body = {
        "content_type": {"type": "string", "minLength": 1, "description": f"one of: {accepted} (parameters are dropped)"},
        "size": {**_SIZE, "description": "the upload's exact size in bytes"},
        **extra,
    }
    upload = obj(
        {
            "url": {"type": "string", "description": "post the form here"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}, "description": "the form's fields, before the file"},
            "expires_at": ref("Timestamp"),
        }
    )
    return HttpContract(
        summary,
        {201: obj({"media": ref("Media"), "upload": upload})},
        body=obj(body, optional=optional),
        errors=(errors.PayloadTooLargeError,),
    )


_FILE_NAME = {"type": "string", "minLength": 1, "description": "shown, and offered on download"}

HTTP_CONTRACTS: dict[str, HttpContract] = {
    "openapi_document": HttpContract(
        "This document (public: no token needed)",
        {200: {"type": "object", "description": "the OpenAPI 3.1 document"}},
    ),
    "list_conversations": HttpContract(
        "The caller's conversations, most recent activity first",
        {200: obj({"conversations": {"type": "array", "items": ref("Conversation")}, "next_cursor": _NEXT_CURSOR})},
        query=PAGE,
    ),
    "start_conversation": HttpContract(
        "Start the 1-on-1 with a user (201), or get it if it exists (200)",
        {201: _CONVERSATION, 200: _CONVERSATION},
        path_id={**ref("UserId"), "description": "the other user's id"},
    ),
    "get_conversation": HttpContract(
        "One of the caller's conversations",
        {200: _CONVERSATION},
        path_id=_CONVERSATION_ID,
        errors=(errors.ConversationNotFoundError,),
    ),
    "list_messages": HttpContract(
        "A conversation's messages, newest first",
        {200: obj({"messages": {"type": "array", "items": ref("Message")}, "next_cursor": _NEXT_CURSOR})},
        path_id=_CONVERSATION_ID,
        query=PAGE,
        errors=(errors.ConversationNotFoundError,),
    ),
    "send_message": HttpContract(
        "Send a message: 201 with the stored message, 200 with it again for a retry (same client_message_id)",
        {201: _MESSAGE, 200: _MESSAGE},
        path_id=_CONVERSATION_ID,
        body={**obj(SEND_BODY, optional=_SEND_OPTIONAL), **SEND_NEEDS},
        errors=(errors.ConversationNotFoundError, errors.ConflictError, errors.RateLimitedError),
    ),
    "mark_read": HttpContract(
        "Read up to a message (the latest when omitted); answers with the caller's row",
        {200: _CONVERSATION},
        path_id=_CONVERSATION_ID,
        body=obj({"message_id": nullable(ref("MessageId"))}, optional=("message_id",)),
        body_required=False,
        errors=(errors.ConversationNotFoundError,),
    ),
    "sync_events": HttpContract(
        "The caller's missed events since a cursor (the same envelopes the WebSocket pushes)",
        {200: ref("SyncPage")},
        query={
            "since": Query(ref("Cursor"), "next_cursor of the previous sync; omit (or empty) for the start of the log"),
            "limit": Query(
                {"type": "integer", "minimum": 1, "maximum": limits.SYNC_MAX_LIMIT, "default": limits.SYNC_DEFAULT_LIMIT},
                "at most this many events",
            ),
        },
        errors=(errors.ResyncRequiredError,),
    ),
    "typing_start": HttpContract(
        "Tell the peer's devices the caller is typing",
        {204: None},
        path_id=_CONVERSATION_ID,
        errors=(errors.ConversationNotFoundError, errors.RateLimitedError),
    ),
    "typing_stop": HttpContract(
        "Tell the peer's devices the caller stopped typing",
        {204: None},
        path_id=_CONVERSATION_ID,
        errors=(errors.ConversationNotFoundError, errors.RateLimitedError),
    ),
    "get_presence": HttpContract(
        "A user's presence (the caller's own, or a user who shares a conversation with them)",
        {200: obj({"presence": ref("Presence")})},
        path_id={**ref("UserId"), "description": "the user's id"},
        errors=(errors.NotFoundError,),
    ),
    "get_presence_bulk": HttpContract(
        "Presence of several users, in the order asked; those the caller may not see are left out",
        {200: obj({"presence": {"type": "array", "items": ref("Presence")}})},
        query={
            "ids": Query(
                {"type": "string", "minLength": 1, "description": f"comma-separated user ids, at most {limits.MAX_PRESENCE_BULK_IDS}"},
                "the users",
                required=True,
            )
        },
    ),
    "unread_count": HttpContract(
        "Unread messages across the caller's conversations",
        {200: obj({"unread_count": {"type": "integer", "minimum": 0}})},
    ),
    "add_reaction": HttpContract(
        "Set the caller's reaction (one per user: a new one replaces theirs)",
        {200: _MESSAGE},
        path_id=_MESSAGE_ID,
        body=obj({"emoji": ref("Emoji")}),
        errors=(errors.MessageNotFoundError,),
    ),
    "remove_reaction": HttpContract(
        "Remove the caller's reaction, if any",
        {200: _MESSAGE},
        path_id=_MESSAGE_ID,
        errors=(errors.MessageNotFoundError,),
    ),
    "delete_message": HttpContract(
        "Delete a message: for everyone (its sender only; a tombstone stays) or, with for=me, for the caller",
        {200: _MESSAGE},
        path_id=_MESSAGE_ID,
        query={"for": Query({"enum": ["everyone", "me"], "default": "everyone"}, "whose view loses it")},
        errors=(errors.MessageNotFoundError, errors.ForbiddenError),
    ),
    "star_message": HttpContract(
        "Star a message for the caller alone",
        {200: obj({"message": ref("Message"), "starred": {"const": True}})},
        path_id=_MESSAGE_ID,
        errors=(errors.MessageNotFoundError,),
    ),
    "unstar_message": HttpContract(
        "Unstar a message (harmless if it was not starred)",
        {200: obj({"message": ref("Message"), "starred": {"const": False}})},
        path_id=_MESSAGE_ID,
        errors=(errors.MessageNotFoundError,),
    ),
    "list_starred": HttpContract(
        "The caller's starred messages, newest starred first",
        {200: obj({"starred": {"type": "array", "items": ref("StarredMessage")}, "next_cursor": _NEXT_CURSOR})},
        query=PAGE,
    ),
    "upload_image": _upload_contract(
        "image",
        "Ask to upload an image: a pending media record and a presigned POST for exactly it",
        {"quality": {"enum": list(policy.IMAGE_MAX_BYTES), "default": "standard"}, "file_name": _FILE_NAME},
        ("quality", "file_name"),
    ),
    "upload_audio": _upload_contract(
        "audio", "Ask to upload a voice note (as upload-image)", {"file_name": _FILE_NAME}, ("file_name",)
    ),
    "upload_file": _upload_contract("file", "Ask to upload a file (as upload-image)", {"file_name": _FILE_NAME}, ()),
    "get_media": HttpContract(
        "Short-lived download links to a media item's renditions (the uploader also sees pending and rejected uploads, without links)",
        {
            200: obj(
                {
                    "media": ref("Media"),
                    "urls": {"type": "object", "additionalProperties": {"type": "string"}, "description": "rendition -> presigned GET"},
                    "expires_at": {**nullable(ref("Timestamp")), "description": "when the links stop working; null without links"},
                }
            )
        },
        path_id={**ref("MediaId"), "description": "the media's id"},
        errors=(errors.MediaNotFoundError,),
    ),
    "search_messages": HttpContract(
        "The caller's messages holding every word of q (as a word or a word's start), newest first",
        {200: obj({"results": {"type": "array", "items": ref("SearchResult")}, "next_cursor": _NEXT_CURSOR})},
        query={
            "q": Query(
                {"type": "string", "minLength": 1, "maxLength": limits.MAX_SEARCH_QUERY_LENGTH, "pattern": r"\S"},
                "the words to search for",
                required=True,
            ),
            **PAGE,
        },
    ),
}


# --------------------------------------------------------------------------------------- WebSocket


def envelope(event_type: str, data: dict, *, channel: str = "messaging", conversation: bool | None = None) -> dict:
    """The server-to-client envelope (shared/adapters/envelope.py) of one event type. `conversation`: True when
    the frame always names its conversation, None when it may."""
    properties = {
        "id": {"type": "string", "minLength": 1, "description": "stable for events sync also returns: deduplicate on it"},
        "type": {"const": event_type},
        "channel": {"const": channel},
        "conversation_id": ref("ConversationId"),
        "data": data,
        "timestamp": {"type": "integer", "minimum": 0, "description": "Unix seconds"},
    }
    optional = () if conversation else ("conversation_id",)
    if conversation is False:
        del properties["conversation_id"]
    return obj(properties, optional=optional)


@dataclass(frozen=True)
class ServerEvent:
    type: str
    summary: str
    schema: dict


_RECEIPT_DATA = obj(
    {
        "user_id": {**ref("UserId"), "description": "who received or read"},
        "status": {"enum": ["delivered", "read"]},
        "up_to_message_id": ref("MessageId"),
        "up_to_seq": _SEQ,
    }
)

# Every frame the server sends, by its `type` (shared/realtime/events.py, shared/adapters/ws.py, functions/ws_ping.py).
SERVER_EVENTS: tuple[ServerEvent, ...] = (
    ServerEvent(
        "new_message",
        "A message was sent in one of the user's conversations (also to the sender's other devices)",
        envelope("new_message", obj({"message": ref("Message")}), conversation=True),
    ),
    ServerEvent(
        "message_updated",
        "A message changed after its send (a reaction, a delete, the user's own star set on another device): the message as the user sees it now",
        envelope("message_updated", obj({"message": ref("Message")}), conversation=True),
    ),
    ServerEvent(
        "receipt",
        "The peer received (delivered) or read everything up to a message; also the user's other devices' reads",
        envelope("receipt", _RECEIPT_DATA, conversation=True),
    ),
    ServerEvent(
        "typing",
        "The peer started or stopped typing (clear it 3 s after the last start)",
        envelope("typing", obj({"user_id": ref("UserId"), "state": {"enum": list(TYPING_STATES)}}), conversation=True),
    ),
    ServerEvent(
        "presence",
        "A user who shares a conversation with this one came online or went offline",
        envelope("presence", ref("Presence"), channel="presence", conversation=False),
    ),
    ServerEvent(
        "message_ack",
        "Answers sendMessage: the stored message (duplicate: a retry of an earlier send)",
        envelope(
            "message_ack",
            obj({"client_message_id": ref("ClientMessageId"), "message": ref("Message"), "duplicate": {"type": "boolean"}}),
            conversation=True,
        ),
    ),
    ServerEvent(
        "sync",
        "Answers sync: a page of missed events",
        envelope("sync", ref("SyncPage"), conversation=False),
    ),
    ServerEvent(
        "media_ready",
        "The user's upload was processed and may be sent (to the uploader's devices only; not in sync)",
        envelope("media_ready", obj({"media": ref("Media")}), conversation=False),
    ),
    ServerEvent(
        "media_rejected",
        "The user's upload was refused (media.reason says why) and deleted",
        envelope("media_rejected", obj({"media": ref("Media")}), conversation=False),
    ),
    ServerEvent("pong", "Answers ping", envelope("pong", obj({}), conversation=False)),
    ServerEvent(
        "error",
        "Answers a frame that failed (the connection stays open); echoes its action, client_message_id and request_id",
        envelope(
            "error",
            obj(
                {
                    "error": COMPONENTS["Error"]["properties"]["error"],
                    "action": {"type": "string", "maxLength": 128},
                    "client_message_id": {"type": "string", "maxLength": 128},
                    "request_id": {"type": "string", "maxLength": 128},
                },
                optional=("action", "client_message_id", "request_id"),
            ),
            conversation=False,
        ),
    ),
)
# Events kept in the user's event log: what sync returns.
LOGGED_EVENTS = ("new_message", "message_updated", "receipt")
COMPONENTS["SyncPage"] = obj(
    {
        "events": {"type": "array", "items": {"oneOf": [ref(f"Event_{name}") for name in LOGGED_EVENTS]}},
        "next_cursor": {**ref("Cursor"), "description": "pass it as since next time"},
        "has_more": {"type": "boolean"},
    }
)
for _event in SERVER_EVENTS:
    COMPONENTS[f"Event_{_event.type}"] = _event.schema


@dataclass(frozen=True)
class WsAction:
    summary: str
    fields: Mapping[str, dict]
    optional: tuple[str, ...] = ()
    replies: tuple[str, ...] = ("error",)  # the server event types that answer it on the same socket
    rules: Mapping[str, dict] = field(default_factory=dict)  # JSON Schema keywords beyond the fields (if/then)


_REQUEST_ID = {"type": "string", "maxLength": 128, "description": "echoed in an error frame"}

# Every client action, by its route key (the frame's `action`).
WS_ACTIONS: dict[str, WsAction] = {
    "sendMessage": WsAction(
        "Send a message; answered with message_ack (or error)",
        {"conversation_id": ref("ConversationId"), **SEND_BODY},
        optional=_SEND_OPTIONAL,
        rules=SEND_NEEDS,
        replies=("message_ack", "error"),
    ),
    "ack": WsAction(
        "The user's devices received everything up to a message (moves the sender's ticks to delivered)",
        {"conversation_id": ref("ConversationId"), "message_id": ref("MessageId")},
    ),
    "read": WsAction(
        "The user read everything up to a message (the latest when omitted)",
        {"conversation_id": ref("ConversationId"), "message_id": nullable(ref("MessageId"))},
        optional=("message_id",),
    ),
    "typing": WsAction(
        "The user started or stopped typing",
        {"conversation_id": ref("ConversationId"), "state": {"enum": list(TYPING_STATES)}},
    ),
    "sync": WsAction(
        "What the user missed since a cursor; answered with a sync frame",
        {
            "since": {**nullable(ref("Cursor")), "description": "next_cursor of the previous sync; null for the start"},
            "limit": {"type": "integer", "minimum": 1, "maximum": limits.SYNC_MAX_LIMIT, "default": limits.SYNC_DEFAULT_LIMIT},
        },
        optional=("since", "limit"),
        replies=("sync", "error"),
    ),
    "ping": WsAction(
        "Heartbeat: send one every ~50 s to stay online; answered with pong",
        {},
        replies=("pong", "error"),
    ),
}


def action_schema(action: str) -> dict:
    spec = WS_ACTIONS[action]
    fields = {"action": {"const": action}, **spec.fields, "request_id": _REQUEST_ID}
    return {**obj(fields, optional=(*spec.optional, "request_id"), description=spec.summary), **spec.rules}
