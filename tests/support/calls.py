"""The real handlers called in-process with API Gateway's events: what a client's requests amount to."""

from __future__ import annotations

import json

from functions import (
    get_presence,
    get_presence_bulk,
    add_reaction,
    delete_message,
    list_conversations,
    list_starred,
    remove_reaction,
    search_messages,
    star_message,
    unread_count,
    unstar_message,
    list_messages,
    mark_read,
    send_message,
    start_conversation,
    sync_events,
    typing_start,
    typing_stop,
    ws_ack,
    ws_connect,
    ws_disconnect,
    ws_ping,
    ws_read,
    ws_send_message,
    ws_sync,
    ws_typing,
)
from tests.support.events import http_event, parse, ws_event


def start(user: str, peer: str) -> str:
    event = http_event("start_conversation", user_id=user, path={"id": peer})
    return parse(start_conversation.handler(event, None))[1]["conversation"]["id"]


def send(
    user: str, conversation_id: str, content: str = "hello", client_message_id: str = "m1", **extra
) -> tuple[int, dict]:
    body = {"client_message_id": client_message_id, "type": "text", "content": content} | extra
    return parse(send_message.handler(http_event("send_message", user_id=user, path={"id": conversation_id}, body=body), None))


def ws_send(user: str, connection_id: str, conversation_id: str, content: str, client_message_id: str, **extra) -> dict:
    body = {"action": "sendMessage", "conversation_id": conversation_id, "client_message_id": client_message_id, "content": content} | extra
    return json.loads(ws_send_message.handler(ws_event("sendMessage", connection_id=connection_id, user_id=user, body=body), None)["body"])


def history(user: str, conversation_id: str, **query) -> tuple[int, dict]:
    event = http_event("list_messages", user_id=user, path={"id": conversation_id}, query=query or None)
    return parse(list_messages.handler(event, None))


def conversations(user: str, **query) -> tuple[int, dict]:
    return parse(list_conversations.handler(http_event("list_conversations", user_id=user, query=query or None), None))


def connect(user: str, connection_id: str) -> None:
    assert ws_connect.handler(ws_event("$connect", connection_id=connection_id, user_id=user), None)["statusCode"] == 200


def _ws(handler, action: str, user: str, connection_id: str, body: dict) -> dict | None:
    response = handler(ws_event(action, connection_id=connection_id, user_id=user, body={"action": action} | body), None)
    return json.loads(response["body"]) if response.get("body") else None


def ack(user: str, connection_id: str, conversation_id: str, message_id) -> dict | None:
    return _ws(ws_ack.handler, "ack", user, connection_id, {"conversation_id": conversation_id, "message_id": message_id})


def ws_mark_read(user: str, connection_id: str, conversation_id: str, message_id=None) -> dict | None:
    body = {"conversation_id": conversation_id} | ({"message_id": message_id} if message_id else {})
    return _ws(ws_read.handler, "read", user, connection_id, body)


def http_mark_read(user: str, conversation_id: str, message_id=None) -> tuple[int, dict]:
    body = {"message_id": message_id} if message_id else None
    return parse(mark_read.handler(http_event("mark_read", user_id=user, path={"id": conversation_id}, body=body), None))


def sync(user: str, since=None, limit=None) -> tuple[int, dict]:
    query = {k: str(v) for k, v in (("since", since), ("limit", limit)) if v is not None}
    return parse(sync_events.handler(http_event("sync_events", user_id=user, query=query or None), None))


def ws_sync_frame(user: str, connection_id: str, since=None, limit=None) -> dict:
    body = {"since": since} | ({"limit": limit} if limit is not None else {})
    return _ws(ws_sync.handler, "sync", user, connection_id, body)


def sync_all(user: str, since=None, limit=None) -> tuple[list[dict], str]:
    """Every event after `since`, page by page."""
    events = []
    while True:
        status, page = sync(user, since, limit)
        assert status == 200, page
        events += page["events"]
        since = page["next_cursor"]
        if not page["has_more"]:
            return events, since


def disconnect(user: str, connection_id: str) -> None:
    assert ws_disconnect.handler(ws_event("$disconnect", connection_id=connection_id, user_id=user), None)["statusCode"] == 200


def ping(user: str, connection_id: str) -> dict | None:
    return _ws(ws_ping.handler, "ping", user, connection_id, {})


def ws_typing_frame(user: str, connection_id: str, conversation_id, state) -> dict | None:
    return _ws(ws_typing.handler, "typing", user, connection_id, {"conversation_id": conversation_id, "state": state})


def http_typing(user: str, conversation_id: str, state: str) -> tuple[int, dict | None]:
    function = typing_start if state == "start" else typing_stop
    name = function.__name__.rsplit(".", 1)[-1]
    response = function.handler(http_event(name, user_id=user, path={"id": conversation_id}), None)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def presence(user: str, of: str) -> tuple[int, dict]:
    return parse(get_presence.handler(http_event("get_presence", user_id=user, path={"id": of}), None))


def presence_bulk(user: str, ids: str) -> tuple[int, dict]:
    return parse(get_presence_bulk.handler(http_event("get_presence_bulk", user_id=user, query={"ids": ids}), None))


def _on_message(handler, name: str, user: str, message_id: str, body=None, query=None) -> tuple[int, dict]:
    event = http_event(name, user_id=user, path={"id": message_id}, body=body, query=query)
    return parse(handler(event, None))


def react(user: str, message_id: str, emoji) -> tuple[int, dict]:
    return _on_message(add_reaction.handler, "add_reaction", user, message_id, body={"emoji": emoji})


def unreact(user: str, message_id: str) -> tuple[int, dict]:
    return _on_message(remove_reaction.handler, "remove_reaction", user, message_id)


def delete(user: str, message_id: str, for_me: bool = False) -> tuple[int, dict]:
    return _on_message(delete_message.handler, "delete_message", user, message_id, query={"for": "me"} if for_me else None)


def star(user: str, message_id: str) -> tuple[int, dict]:
    return _on_message(star_message.handler, "star_message", user, message_id)


def unstar(user: str, message_id: str) -> tuple[int, dict]:
    return _on_message(unstar_message.handler, "unstar_message", user, message_id)


def starred(user: str, **query) -> tuple[int, dict]:
    return parse(list_starred.handler(http_event("list_starred", user_id=user, query=query or None), None))


def search(user: str, q, **query) -> tuple[int, dict]:
    query = ({"q": q} if q is not None else {}) | query
    return parse(search_messages.handler(http_event("search_messages", user_id=user, query=query), None))


def unread(user: str) -> tuple[int, dict]:
    return parse(unread_count.handler(http_event("unread_count", user_id=user), None))
