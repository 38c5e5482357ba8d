"""Sending and reading messages, and delivering them in real time."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from shared import validation
from shared.envelope import encode, envelope
from shared.errors import BadRequestError, ConflictError
from shared.concurrency import run_concurrently
from shared.ids import new_sortable_id
from shared.log import logger
from shared.models import MESSAGE_TYPES, LastMessagePreview, Message, Page
from shared.push import Pusher, fan_out
from shared.ratelimit import SendLimiter
from shared.repositories.connections import ConnectionRepository
from shared.repositories.conversations import ConversationRepository
from shared.repositories.messages import DuplicateSendError, MessageRepository
from shared.services.conversations import require_participant
from shared.timefmt import iso_from_ms, now_ms


@dataclass(frozen=True)
class SendMessageRequest:
    conversation_id: str
    client_message_id: str
    type: str
    content: str

    @classmethod
    def from_body(cls, conversation_id: object, body: dict) -> SendMessageRequest:
        if not isinstance(conversation_id, str) or not conversation_id:
            raise BadRequestError("conversation_id is required")
        message_type = body.get("type", "text")
        if message_type not in MESSAGE_TYPES:
            raise BadRequestError(f"type must be one of: {', '.join(MESSAGE_TYPES)}")
        return cls(
            conversation_id=conversation_id,
            client_message_id=validation.client_message_id(body.get("client_message_id")),
            type=message_type,
            content=validation.text_content(body.get("content")),
        )


@dataclass(frozen=True)
class MessagingDeps:
    conversations: ConversationRepository
    messages: MessageRepository
    connections: ConnectionRepository
    pusher: Pusher | None  # None: no WebSocket API to push through (messages still stored)
    limiter: SendLimiter


@dataclass(frozen=True)
class SendResult:
    message: Message
    created: bool  # False: a retry of an earlier send, answered with the stored message


def send_message(
    deps: MessagingDeps, sender_id: str, request: SendMessageRequest, origin_connection_id: str | None = None
) -> SendResult:
    """Stores the message (once per client_message_id), then pushes it to both users' devices.

    The order matters for "no loss": the message is stored before anyone is told about it, and every
    step after the store is idempotent, so a retried send completes whatever a failed one left undone
    (a failed step fails the send, so the client does retry).
    """
    participants = require_participant(deps.conversations, sender_id, request.conversation_id)
    deps.limiter.check(sender_id)
    created_ms = now_ms()
    message = Message(
        id=new_sortable_id(created_ms),
        conversation_id=request.conversation_id,
        sender_id=sender_id,
        client_message_id=request.client_message_id,
        type=request.type,
        content=request.content,
        created_at=iso_from_ms(created_ms),
    )
    created = True
    try:
        deps.messages.store_new(message)
    except DuplicateSendError as duplicate:
        if not duplicate.existing.same_send_as(message):
            raise ConflictError("client_message_id was already used for a different message") from None
        message, created = duplicate.existing, False

    # Stored: now, at the same time, find every device to tell and move both conversation rows forward.
    users = sorted(participants)
    preview = LastMessagePreview.of(message)
    lookups = [functools.partial(deps.connections.for_user, user) for user in users] if deps.pusher else []
    updates = [
        functools.partial(deps.conversations.record_last_message, user, message.conversation_id, preview)
        for user in users
    ]
    results = run_concurrently(lookups + updates)
    if deps.pusher is not None:
        connection_ids = [c for found in results[: len(lookups)] for c in found if c != origin_connection_id]
        deliver(deps, message, connection_ids)
    return SendResult(message, created)


def deliver(deps: MessagingDeps, message: Message, connection_ids: list[str]) -> None:
    """Pushes `new_message` to the given connections; forgets those that are gone.

    At least once: a retried send pushes again; clients recognise a message by its id.
    """
    frame = envelope("new_message", {"message": message.to_dict()}, conversation_id=message.conversation_id)
    result = fan_out(deps.pusher, connection_ids, encode(frame).encode())
    for connection_id in result.gone:
        deps.connections.remove(connection_id)
    if result.failed:
        logger.warning("some pushes failed", extra={"failed": result.failed, "message_id": message.id})


def message_ack(result: SendResult) -> dict:
    """The frame that answers a WebSocket send: the stored message, status `sent`."""
    data = {
        "client_message_id": result.message.client_message_id,
        "message": result.message.to_dict(),
        "duplicate": not result.created,
    }
    return envelope("message_ack", data, conversation_id=result.message.conversation_id)


def list_messages(
    conversations: ConversationRepository,
    messages: MessageRepository,
    user_id: str,
    conversation_id: str,
    limit: int,
    cursor: str | None,
) -> Page:
    require_participant(conversations, user_id, conversation_id)
    return messages.list_newest_first(conversation_id, limit, cursor)
