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

from functions import get_conversation, presence_sweeper
from shared.routes import ROUTES
from tests.component.conftest import reset_wiring
from tests.conftest import DYNAMODB_GRANTS
from tests.support.calls import (
    ack,
    connect,
    conversations,
    delete,
    disconnect,
    history,
    http_mark_read,
    http_typing,
    ping,
    presence,
    presence_bulk,
    react,
    search,
    send,
    star,
    starred,
    start,
    sync,
    unreact,
    unread,
    unstar,
    ws_mark_read,
    ws_send,
    ws_sync_frame,
    ws_typing_frame,
)
from tests.support import media_files
from tests.support.events import http_event, parse, ws_event
from tests.support.media_calls import get as get_media_links
from tests.support.media_calls import grant, upload_and_process

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


def _sends(backend, streams, send_one: Callable[..., object]) -> None:
    alice, bob = _users()
    conversation_id = start(alice, bob)
    connect(alice, f"{alice}-phone")  # first: a connect tells the peers, which would forget the gone device
    _with_gone_device(backend, bob)
    photo = upload_and_process(alice, "image", media_files.jpeg(media_files.photo(64, 48)), "image/jpeg")
    _cold()
    first = send_one(alice, conversation_id, "first")
    send_one(alice, conversation_id, "first")  # a retry: answered with the stored message
    send_one(alice, conversation_id, "reply", reply_to=first["message"]["id"])  # reads and links the quoted one
    send_one(alice, conversation_id, "photo", type="image", media_id=photo)  # a media message binds its upload


def _media(kind: str, data: bytes, content_type: str, **extra) -> Callable:
    def scenario(backend, streams) -> None:
        alice, bob = _users()
        _with_gone_device(backend, alice)  # told through the live device; the gone one is forgotten
        _cold()
        upload_and_process(alice, kind, data, content_type, **extra)

    return scenario


def _download(backend, streams) -> None:
    alice, bob = _users()
    conversation_id = start(alice, bob)
    photo = upload_and_process(alice, "image", media_files.jpeg(media_files.photo(64, 48)), "image/jpeg")
    send(alice, conversation_id, "photo", "1", type="image", media_id=photo)
    _cold()
    assert get_media_links(bob, photo)[0] == 200


def _reads(backend, streams, read: Callable[[str, str], object]) -> None:
    alice, bob = _users()
    conversation_id = start(alice, bob)
    send(alice, conversation_id, "hi", "1")
    streams.drain()
    connect(bob, f"{bob}-phone")
    _with_gone_device(backend, alice)
    _cold()
    read(bob, conversation_id)
    send(bob, conversation_id, "hello", "2")
    streams.drain()
    read(bob, conversation_id)  # his own row is read up to his send: only Alice's devices are told


def _ack(backend, streams) -> None:
    alice, bob = _users()
    conversation_id = start(alice, bob)
    message = send(alice, conversation_id, "hi", "1")[1]["message"]
    connect(bob, f"{bob}-phone")
    _with_gone_device(backend, alice)
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


def _lapse(user: str) -> None:
    """Makes the user's heartbeat look older than any presence TTL (their devices vanished)."""
    import os

    import redis

    from shared.realtime.presence import HEARTBEATS_KEY

    redis.Redis.from_url(os.environ["REDIS_URL"]).zadd(HEARTBEATS_KEY, {user: 1})


def _presence_changes(backend, streams, change: Callable[[str, str], object]) -> None:
    """A user with one peer (their devices read by GetItem) and one with two (BatchGetItem), one peer
    device gone (forgotten by UpdateItem); `change(user, tag)` makes the user's presence change."""
    alice, bob = _users()
    carol, dave = _users()
    start(alice, bob)
    start(alice, carol)
    start(dave, bob)
    _with_gone_device(backend, bob)
    connect(carol, f"{carol}-phone")
    _cold()
    for user in (alice, dave):
        change(user, user)


def _connect_and_leave(user: str, tag: str) -> None:
    connect(user, f"{tag}-phone")  # creates the user's item: online
    connect(user, f"{tag}-laptop")  # adds to it
    disconnect(user, f"{tag}-phone")
    disconnect(user, f"{tag}-laptop")  # offline


def _lapse_and_ping(user: str, tag: str) -> None:
    _lapse(user)
    ping(user, f"{tag}-phone")


def _lapse_and_sweep(user: str, tag: str) -> None:
    connect(user, f"{tag}-phone")
    _lapse(user)
    presence_sweeper.handler({}, None)


def _typing(backend, streams, type_one: Callable[[str, str], object]) -> None:
    alice, bob = _users()
    conversation_id = start(alice, bob)
    _with_gone_device(backend, bob)
    _cold()
    type_one(alice, conversation_id)


def _presence_reads(backend, streams, read: Callable[[str, str], object]) -> None:
    alice, bob = _users()
    carol, _ = _users()
    start(alice, bob)
    start(alice, carol)
    connect(bob, f"{bob}-phone")
    _cold()
    read(alice, bob)  # one user: GetItem of their connections
    read(alice, f"{bob},{carol}")  # several: BatchGetItem


def _message_actions(backend, streams, act: Callable[[str, str, str], object], *, photo: bool = False) -> None:
    """alice's message (`photo`: a photo with a caption), a reply quoting it, both users' devices (one
    gone); then `act(alice, bob, id)`."""
    alice, bob = _users()
    conversation_id = start(alice, bob)
    media = {}
    if photo:
        media_id = upload_and_process(alice, "image", media_files.jpeg(media_files.photo(64, 48)), "image/jpeg")
        media = {"type": "image", "media_id": media_id}
    message_id = send(alice, conversation_id, "lunch?", "1", **media)[1]["message"]["id"]
    send(bob, conversation_id, "yes", "2", reply_to=message_id)
    streams.drain()
    connect(alice, f"{alice}-phone")  # first: its presence push would find bob's gone device
    _with_gone_device(backend, bob)
    _cold()
    act(alice, bob, message_id)


SCENARIOS: dict[str, Callable] = {
    "list_conversations": lambda backend, streams: conversations(_users()[0]),
    "start_conversation": lambda backend, streams: [start(a, b) for a, b in [_users()] * 2],  # new, then found
    "get_conversation": _get,
    "list_messages": lambda backend, streams: (lambda a, b: (start(a, b), _cold(), history(a, start(a, b))))(*_users()),
    "send_message": lambda backend, streams: _sends(backend, streams, lambda u, c, m, **x: send(u, c, "hi", m, **x)[1]),
    "ws_send_message": lambda backend, streams: _sends(
        backend, streams, lambda u, c, m, **x: ws_send(u, f"{u}-phone", c, "hi", m, **x)["data"]
    ),
    "upload_image": lambda backend, streams: grant(_users()[0], "image", b"x" * 10, "image/png"),
    "upload_audio": lambda backend, streams: grant(_users()[0], "audio", b"x" * 10, "audio/webm"),
    "upload_file": lambda backend, streams: grant(_users()[0], "file", b"x" * 10, "application/pdf", file_name="a.pdf"),
    "process_image": _media("image", media_files.png(media_files.photo(64, 48)), "image/png"),
    "process_audio": _media("audio", media_files.fixture("voice.webm"), "audio/webm"),
    "process_file": _media("file", media_files.minimal_pdf(), "application/pdf", file_name="a.pdf"),
    "get_media": _download,
    "mark_read": lambda backend, streams: _reads(backend, streams, lambda u, c: http_mark_read(u, c)),
    "ws_read": lambda backend, streams: _reads(backend, streams, lambda u, c: ws_mark_read(u, f"{u}-phone", c)),
    "ws_ack": _ack,
    "sync_events": lambda backend, streams: _syncs(backend, streams, lambda u: sync(u)),
    "ws_sync": lambda backend, streams: _syncs(backend, streams, lambda u: ws_sync_frame(u, f"{u}-phone")),
    "ws_connect": lambda backend, streams: _presence_changes(backend, streams, _connect_and_leave),
    "ws_disconnect": lambda backend, streams: _presence_changes(backend, streams, _connect_and_leave),
    "ws_ping": lambda backend, streams: _presence_changes(backend, streams, _lapse_and_ping),
    "presence_sweeper": lambda backend, streams: _presence_changes(backend, streams, _lapse_and_sweep),
    "ws_typing": lambda backend, streams: _typing(
        backend, streams, lambda u, c: ws_typing_frame(u, f"{u}-phone", c, "start")
    ),
    "typing_start": lambda backend, streams: _typing(backend, streams, lambda u, c: http_typing(u, c, "start")),
    "typing_stop": lambda backend, streams: _typing(backend, streams, lambda u, c: http_typing(u, c, "stop")),
    "get_presence": lambda backend, streams: _presence_reads(backend, streams, lambda u, of: presence(u, of.split(",")[0])),
    "get_presence_bulk": lambda backend, streams: _presence_reads(backend, streams, presence_bulk),
    "on_message_stored": _consumers,
    "append_user_events": _consumers,
    "search_indexer": _consumers,
    "unread_count": lambda backend, streams: unread(_users()[0]),
    "add_reaction": lambda backend, streams: _message_actions(backend, streams, lambda a, b, m: react(b, m, "👍")),
    "remove_reaction": lambda backend, streams: _message_actions(
        backend, streams, lambda a, b, m: (react(b, m, "👍"), _with_gone_device(backend, b), _cold(), unreact(b, m))
    ),
    "delete_message": lambda backend, streams: _message_actions(
        backend,
        streams,
        lambda a, b, m: (delete(b, m, for_me=True), _with_gone_device(backend, b), delete(a, m)),
        photo=True,  # deleting it for everyone deletes its media
    ),
    "star_message": lambda backend, streams: _message_actions(backend, streams, lambda a, b, m: star(b, m)),
    "unstar_message": lambda backend, streams: _message_actions(
        backend, streams, lambda a, b, m: (star(b, m), _with_gone_device(backend, b), _cold(), unstar(b, m))
    ),
    "list_starred": lambda backend, streams: _message_actions(
        backend, streams, lambda a, b, m: (star(b, m), _cold(), starred(b))
    ),
    "search_messages": lambda backend, streams: _message_actions(backend, streams, lambda a, b, m: search(b, "lunch")),
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
