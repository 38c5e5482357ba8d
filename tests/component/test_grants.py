"""Each route is granted exactly the DynamoDB actions its code calls: none missing, none unused.

A missing grant fails wherever a test reaches the call: tests/conftest.py (like `parley local`) refuses,
as IAM would, any DynamoDB call the running function's route does not declare. This file checks the
other direction: for every route with tables, a scenario walks its storage paths — on a cold instance
(per-instance caches emptied, as in a fresh Lambda), then warm, with retries and gone connections — and
each granted action must have been called. A route that gains tables needs a scenario here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from functions import get_conversation, ws_disconnect
from shared.routes import ROUTES
from tests.component.conftest import reset_wiring
from tests.conftest import DYNAMODB_GRANTS
from tests.support.calls import (
    ack,
    connect,
    conversations,
    history,
    http_mark_read,
    send,
    start,
    sync,
    ws_mark_read,
    ws_send,
    ws_sync_frame,
)
from tests.support.events import http_event, parse, ws_event

pytestmark = pytest.mark.component


def _users() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"alice-{tag}", f"bob-{tag}"


def _cold() -> None:
    """What a fresh Lambda instance has: no cached participants, sequence heads or clients' state."""
    reset_wiring()
    DYNAMODB_GRANTS.calls.clear()


def _with_gone_device(backend, user: str) -> None:
    connect(user, f"{user}-live")
    connect(user, f"{user}-gone")
    backend.gone.add(f"{user}-gone")


def _sends(backend, streams, send_one: Callable[[str, str, str], object]) -> None:
    alice, bob = _users()
    conversation_id = start(alice, bob)
    _with_gone_device(backend, bob)
    connect(alice, f"{alice}-phone")
    _cold()
    send_one(alice, conversation_id, "first")
    send_one(alice, conversation_id, "first")  # a retry: answered with the stored message


def _reads(backend, streams, read: Callable[[str, str], object]) -> None:
    alice, bob = _users()
    conversation_id = start(alice, bob)
    send(alice, conversation_id, "hi", "1")
    streams.drain()
    _with_gone_device(backend, alice)
    connect(bob, f"{bob}-phone")
    _cold()
    read(bob, conversation_id)


def _ack(backend, streams) -> None:
    alice, bob = _users()
    conversation_id = start(alice, bob)
    message = send(alice, conversation_id, "hi", "1")[1]["message"]
    _with_gone_device(backend, alice)
    connect(bob, f"{bob}-phone")
    _cold()
    ack(bob, f"{bob}-phone", conversation_id, message["id"])


def _consumers(backend, streams) -> None:
    alice, bob = _users()
    conversation_id = start(alice, bob)
    send(alice, conversation_id, "hi", "1")
    _cold()
    streams.drain()


def _syncs(backend, streams, read_log: Callable[[str], object]) -> None:
    alice, bob = _users()
    conversation_id = start(alice, bob)
    send(alice, conversation_id, "hi", "1")
    streams.drain()
    connect(bob, f"{bob}-phone")
    _cold()
    read_log(bob)


def _get(backend, streams) -> None:
    alice, bob = _users()
    conversation_id = start(alice, bob)
    _cold()
    parse(get_conversation.handler(http_event("get_conversation", user_id=alice, path={"id": conversation_id}), None))


def _connect_twice_and_leave(backend, streams) -> None:
    alice, _ = _users()
    _cold()
    connect(alice, f"{alice}-phone")  # creates the user's item
    connect(alice, f"{alice}-laptop")  # adds to it
    ws_disconnect.handler(ws_event("$disconnect", connection_id=f"{alice}-phone", user_id=alice), None)


SCENARIOS: dict[str, Callable] = {
    "list_conversations": lambda backend, streams: conversations(_users()[0]),
    "start_conversation": lambda backend, streams: [start(a, b) for a, b in [_users()] * 2],  # new, then found
    "get_conversation": _get,
    "list_messages": lambda backend, streams: (lambda a, b: (start(a, b), _cold(), history(a, start(a, b))))(*_users()),
    "send_message": lambda backend, streams: _sends(backend, streams, lambda u, c, m: send(u, c, "hi", m)),
    "ws_send_message": lambda backend, streams: _sends(
        backend, streams, lambda u, c, m: ws_send(u, f"{u}-phone", c, "hi", m)
    ),
    "mark_read": lambda backend, streams: _reads(backend, streams, lambda u, c: http_mark_read(u, c)),
    "ws_read": lambda backend, streams: _reads(backend, streams, lambda u, c: ws_mark_read(u, f"{u}-phone", c)),
    "ws_ack": _ack,
    "sync_events": lambda backend, streams: _syncs(backend, streams, lambda u: sync(u)),
    "ws_sync": lambda backend, streams: _syncs(backend, streams, lambda u: ws_sync_frame(u, f"{u}-phone")),
    "ws_connect": _connect_twice_and_leave,
    "ws_disconnect": _connect_twice_and_leave,
    "on_message_stored": _consumers,
    "append_user_events": _consumers,
}


@pytest.mark.parametrize("route", [r for r in ROUTES if r.tables], ids=lambda r: r.name)
def test_every_granted_dynamodb_action_is_called(backend, streams, route):
    assert route.name in SCENARIOS, f"add a scenario for {route.name} to {__file__}"
    SCENARIOS[route.name](backend, streams)
    called: dict[str, set[str]] = {}
    for function, table, action in DYNAMODB_GRANTS.calls:
        if function == route.name:
            called.setdefault(table, set()).add(action)
    # Refused calls fail the test on their own (tests/conftest.py); here: nothing granted goes unused.
    assert called == {table: set(actions) for table, actions in route.tables.items()}
