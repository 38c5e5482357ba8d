"""The contracts (shared/contracts) are current, valid documents that cover the route table, and the code's
serializers produce what they describe."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi

from shared.domain import errors
from shared.contracts import generate
from shared.contracts.schemas import COMPONENTS, SERVER_EVENTS, WS_ACTIONS
from shared.adapters.envelope import envelope
from shared.domain.errors import RateLimitedError
from shared.realtime.events import (
    media_envelope,
    message_ack_envelope,
    message_updated_envelope,
    new_message_envelope,
    presence_envelope,
    receipt_envelope,
    sync_envelope,
    typing_envelope,
)
from shared.domain.errors import BadRequestError
from shared.domain.ids import direct_conversation_id
from shared.media.model import Media, StoredRendition
from shared.domain.models import Conversation, LastMessagePreview, Message, ReplyPreview
from shared.routes import HTTP_ROUTES, WEBSOCKET_ROUTES
from shared.services.messaging import SendMessageRequest
from shared.adapters.ws import error_frame
from tests.support.contracts import (
    ContractViolation,
    document,
    validate_client_frame,
    validate_http_request_body,
    validate_http_response,
    validate_server_frame,
)

pytestmark = pytest.mark.unit

CONVERSATION = direct_conversation_id("alice", "bob")
MEDIA = Media("01JZZZZZZZZZZZZZZZZZZZZZZZ", "alice", "audio", "pending", "audio/webm", 9, "2026-11-25T10:00:00.000Z")


def test_the_checked_in_documents_are_current():
    for path, text in generate.documents().items():
        assert path.read_text() == text, f"{path.name} is not current: run {generate.REGENERATE}"


def test_the_openapi_document_is_valid_openapi_3_1():
    validate_openapi(document("openapi.json"))
    assert document("openapi.json")["openapi"] == "3.1.0"


def test_every_http_route_is_an_operation_with_its_errors():
    paths = document("openapi.json")["paths"]
    for route in HTTP_ROUTES:
        operation = paths[route.path][route.method.lower()]
        assert operation["operationId"] == route.name
        assert {"400", "401", "429", "500", "503"} <= set(operation["responses"]) or route.public
        assert (operation.get("security") == []) == route.public
        if "{id}" in route.path:
            assert [p["name"] for p in operation["parameters"] if p["in"] == "path"] == ["id"]
    declared = {code for schema in (COMPONENTS[f"Error{s}"] for s in generate.error_statuses())
                for code in schema["properties"]["error"]["properties"]["code"]["enum"]}  # fmt: skip
    assert declared == {e.code for e in generate.all_error_classes()}


def _refs(value):
    if isinstance(value, dict):
        if isinstance(value.get("$ref"), str):
            yield value["$ref"]
        for child in value.values():
            yield from _refs(child)
    elif isinstance(value, list):
        for child in value:
            yield from _refs(child)


def _resolve(doc: dict, pointer: str):
    node = doc
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


@pytest.mark.parametrize("name", ["openapi.json", "asyncapi.json"])
def test_every_reference_resolves_and_every_schema_is_valid_json_schema(name):
    doc = document(name)
    for pointer in set(_refs(doc)):
        assert pointer.startswith("#/"), pointer
        _resolve(doc, pointer)
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_the_asyncapi_document_describes_every_action_and_event():
    doc = document("asyncapi.json")
    assert doc["asyncapi"].startswith("3.")
    actions = {r.key for r in WEBSOCKET_ROUTES if not r.key.startswith("$")}
    assert actions == set(WS_ACTIONS)
    operations = doc["operations"]
    for action in actions:
        assert operations[action]["action"] == "receive"
        Draft202012Validator.check_schema(doc["components"]["messages"][action]["payload"])
        for reply in operations[action]["reply"]["messages"]:
            _resolve(doc, reply["$ref"])
    for event in SERVER_EVENTS:
        assert operations[f"send_{event.type}"]["action"] == "send"


def test_a_route_without_a_contract_fails_generation(monkeypatch):
    from shared.contracts import schemas

    monkeypatch.delitem(schemas.HTTP_CONTRACTS, "unread_count")
    with pytest.raises(generate.MissingContract, match="unread_count.*shared/contracts/schemas.py"):
        generate.openapi()


# ------------------------------------------------------------------ the serializers keep to them


def _message(seq: int = 1, **changes) -> Message:
    fields = dict(
        conversation_id=CONVERSATION, seq=seq, sender_id="alice", client_message_id=f"c-{seq}", type="text",
        content="hello", created_at="2026-11-25T10:00:00.000Z",
    )  # fmt: skip
    return Message(**(fields | changes))


MESSAGES = [
    _message(),
    _message(2, reply_to=ReplyPreview.of(_message()), reactions=(("bob", "👍"),), status="read"),
    _message(3, content="", deleted=True),
    _message(4, reply_to=ReplyPreview.of(_message(content="", deleted=True))),
    _message(5, content="x" * 4096),
    _message(6, type="image", content="", attachments=({
        "media_id": "01JZZZZZZZZZZZZZZZZZZZZZZZ", "kind": "image", "content_type": "image/jpeg", "size": 1234,
        "width": 800, "height": 600, "placeholder": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        "renditions": {"thumbnail": {"content_type": "image/jpeg", "size": 99, "width": 320, "height": 240}},
    },)),
]
CONVERSATIONS = [
    Conversation(CONVERSATION, "alice", "bob", "2026-11-25T10:00:00.000Z", "2026-11-25T10:00:00.000Z"),
    Conversation(
        CONVERSATION, "alice", "bob", "2026-11-25T10:00:00.000Z", "2026-11-25T10:00:01.000Z", last_seq=3,
        last_message=LastMessagePreview.of(_message(3)), read_seq=1, peer_delivered_seq=2,
    ),  # fmt: skip
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"seq{m.seq}")
def test_every_message_shape_keeps_to_the_contract(message):
    for path in (f"/api/v1/messages/{message.id}/reactions", f"/api/v1/messages/{message.id}"):
        method = "POST" if path.endswith("reactions") else "DELETE"
        validate_http_response(method, path, 200, {"message": message.to_dict()})
    validate_server_frame(new_message_envelope(message))
    validate_server_frame(message_updated_envelope(message))
    validate_server_frame(message_ack_envelope(message, duplicate=True))


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=["empty", "with-last-message"])
def test_conversations_keep_to_the_contract(conversation):
    validate_http_response("GET", f"/api/v1/conversations/{conversation.id}", 200, {"conversation": conversation.to_dict()})
    validate_http_response("POST", "/api/v1/conversations/bob", 201, {"conversation": conversation.to_dict()})
    validate_http_response("GET", "/api/v1/conversations", 200, {"conversations": [conversation.to_dict()], "next_cursor": "abc"})


def test_every_frame_the_server_builds_keeps_to_the_contract():
    receipt = receipt_envelope(CONVERSATION, "bob", "read", 3)
    frames = [
        receipt,
        typing_envelope(CONVERSATION, "bob", "start"),
        presence_envelope("bob", "offline", 1_764_064_800_000),
        presence_envelope("bob", "online", None),
        sync_envelope([new_message_envelope(MESSAGES[0]), receipt], "cursor", False),
        envelope("pong", {}),
        error_frame(RateLimitedError("slow down", retry_after_seconds=3), {"action": "sendMessage", "client_message_id": "c1"}),
        error_frame(errors.ParleyError("internal error"), {}),
        media_envelope(MEDIA.with_changes(status="ready", duration_ms=3500, renditions={"original": StoredRendition("k", "audio/webm", 9)})),
        media_envelope(MEDIA.with_changes(status="rejected", reason="not_audio")),
    ]
    for frame in frames:
        validate_server_frame(frame)
    built = {frame["type"] for frame in frames} | {"new_message", "message_updated", "message_ack"}
    assert built == {event.type for event in SERVER_EVENTS}, "a server event without a serializer check"


def test_error_answers_keep_to_the_contract():
    for error_class in generate.all_error_classes():
        error = error_class.__new__(error_class)
        errors.ParleyError.__init__(error, "what went wrong", details={"retry_after_seconds": 2} if error.status == 429 else None)
        route = "/api/v1/conversations/unread-count" if error.status != 413 else f"/api/v1/conversations/{CONVERSATION}/messages"
        method = "GET" if error.status != 413 else "POST"
        if str(error.status) in document("openapi.json")["paths"][route.replace(CONVERSATION, "{id}")][method.lower()]["responses"]:
            validate_http_response(method, route, error.status, error.to_dict())
    validate_http_response("GET", "/api/v1/conversations", 401, {"message": "Unauthorized"})  # API Gateway's


UPLOAD = "01JZ8Q5V3M0000000000ABCDEF"  # a media id as an upload grant makes them
SEND_BODIES = [
    {"content": "hi"},  # text is the default type
    {"type": "text", "content": "hi"},
    {},  # a text message without content
    {"type": "text", "content": ""},
    {"type": "text", "content": " \n "},
    {"type": "image", "media_id": UPLOAD},
    {"type": "file", "media_id": UPLOAD, "content": "the minutes"},
    {"type": "image", "media_id": UPLOAD, "content": ""},
    {"type": "image", "media_id": UPLOAD, "content": "  "},  # a blank caption
    {"type": "audio", "content": "a voice note without its upload"},
    {"type": "image", "media_id": "01JZZZZZZZZZZZZZZZZZZZZZZU"},  # U is no Crockford digit
    {"type": "image", "media_id": UPLOAD.lower()},
]


def _send_accepts(body: dict) -> bool:
    try:
        SendMessageRequest.from_body(CONVERSATION, body)
    except BadRequestError:
        return False
    return True


def _contract_accepts(validate, *args) -> bool:
    try:
        validate(*args)
    except ContractViolation:
        return False
    return True


@pytest.mark.parametrize("body", SEND_BODIES, ids=lambda body: json.dumps(body)[:60])
def test_the_send_contracts_need_what_a_send_needs_for_its_type(body):
    body = {"client_message_id": "c1", **body}
    frame = {"action": "sendMessage", "conversation_id": CONVERSATION, **body}
    path = f"/api/v1/conversations/{CONVERSATION}/messages"
    accepted = _send_accepts(body)
    assert _contract_accepts(validate_http_request_body, "POST", path, body) == accepted
    assert _contract_accepts(validate_client_frame, frame) == accepted


def test_the_validators_name_the_frame_and_the_rule():
    frame = new_message_envelope(MESSAGES[0])
    frame["data"]["message"]["seq"] = 0
    with pytest.raises(ContractViolation, match=r"new_message.*\$\.data\.message\.seq.*minimum"):
        validate_server_frame(frame)
    with pytest.raises(ContractViolation, match="teleport"):
        validate_client_frame({"action": "teleport"})
    with pytest.raises(ContractViolation, match=r"sendMessage.*\$\.content"):
        validate_client_frame({"action": "sendMessage", "conversation_id": CONVERSATION, "client_message_id": "c", "content": "x" * 5000})
    with pytest.raises(ContractViolation, match="declares no 418"):
        validate_http_response("GET", "/api/v1/conversations", 418, {})
    validate_client_frame({"action": "sync", "since": None, "limit": 10, "request_id": "r1"})
    assert json.loads(json.dumps(document("asyncapi.json"))) == document("asyncapi.json")
