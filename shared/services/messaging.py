"""Sending and reading messages, and delivering them in real time."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared import metrics

from shared.domain import validation
from shared.adapters.envelope import encode
from shared.domain.errors import BadRequestError, ConflictError, ConversationNotFoundError, StorageUnavailableError
from shared.realtime.events import message_ack_envelope, new_message_envelope
from shared.domain.ids import MAX_SEQ, is_conversation_id, parse_message_id
from shared.log import logger
from shared.domain.models import MEDIA_MESSAGE_TYPES, MESSAGE_TYPES, Message, Page, ReplyPreview
from shared.realtime.push import Pusher, fan_out
from shared.realtime.ratelimit import SendLimiter
from shared.storage.repositories.connections import ConnectionRepository
from shared.storage.repositories.conversations import ConversationRepository
from shared.storage.repositories.messages import DuplicateSendError, MediaTakenError, MessageRepository, SeqTakenError
from shared.services.conversations import require_participant
from shared.domain.timefmt import iso_from_ms, now_ms

if TYPE_CHECKING:
    from shared.media.model import Media
    from shared.services.media import MediaDeps

# A stale seq guess costs one consistent read and another try (after a short random pause, so concurrent
# losers don't collide again); more than this in a row means a storm of concurrent senders in one
# conversation: answer 503 and let the client retry.
_SEQ_ATTEMPTS = 10


@dataclass(frozen=True)
class SendMessageRequest:
    conversation_id: str
    client_message_id: str
    type: str
    content: str  # a media message's caption (may be empty)
    reply_to_seq: int | None = None  # the quoted message, of the same conversation
    media_id: str | None = None  # image/audio/file: the sender's own ready upload

    @classmethod
    def from_body(cls, conversation_id: object, body: dict) -> SendMessageRequest:
        if not isinstance(conversation_id, str) or not conversation_id:
            raise BadRequestError("conversation_id is required")
        message_type = body.get("type", "text")
        if message_type not in MESSAGE_TYPES:
            raise BadRequestError(f"type must be one of: {', '.join(MESSAGE_TYPES)}")
        reply_to_seq = None
        if body.get("reply_to") is not None:
            quoted = parse_message_id(body["reply_to"])
            if quoted is None or quoted[0] != conversation_id:
                raise BadRequestError("reply_to must be the id of a message of this conversation")
            reply_to_seq = quoted[1]
        if message_type in MEDIA_MESSAGE_TYPES:
            caption = body.get("content") or ""
            return cls(
                conversation_id=conversation_id,
                client_message_id=validation.client_message_id(body.get("client_message_id")),
                type=message_type,
                content=validation.text_content(caption) if caption else "",
                reply_to_seq=reply_to_seq,
                media_id=validation.media_id(body.get("media_id")),
            )
        return cls(
            conversation_id=conversation_id,
            client_message_id=validation.client_message_id(body.get("client_message_id")),
            type=message_type,
            content=validation.text_content(body.get("content")),
            reply_to_seq=reply_to_seq,
        )


@dataclass(frozen=True)
class MessagingDeps:
    conversations: ConversationRepository
    messages: MessageRepository
    connections: ConnectionRepository
    pusher: Pusher | None  # None: no WebSocket API to push through (messages still stored)
    limiter: SendLimiter
    media: MediaDeps | None = None  # media messages: the uploads they attach


@dataclass(frozen=True)
class SendResult:
    message: Message
    created: bool  # False: a retry of an earlier send, answered with the stored message


def send_message(
    deps: MessagingDeps, sender_id: str, request: SendMessageRequest, origin_connection_id: str | None = None
) -> SendResult:
    """Stores the message at the conversation's next seq (once per client_message_id), then pushes it to
    every device of both users except the sending one.

    Hot path: one Redis round trip (the rate limit), one TransactWriteItems (message, claim, the sender's
    row) and one consistent BatchGetItem (both users' connections), then the pushes; participants and the
    newest seq come from per-instance caches. The read caches' invalidation goes alongside the pushes and
    is done before the answer (the sender reads its own write). The recipient's row and both users' event
    logs are derived by stream consumers (shared/services/event_log.py).
    """
    participants = require_participant(deps.conversations, sender_id, request.conversation_id)
    deps.limiter.check(sender_id)
    reply_to = _quoted(deps.messages, request) if request.reply_to_seq else None
    media = None
    if request.media_id is not None:
        from shared.services.media import attachable_media

        media = attachable_media(deps.media, sender_id, request)
    created_ms = now_ms()
    message, created, invalidate = _store(deps.messages, sender_id, request, iso_from_ms(created_ms), reply_to, media)
    try:
        metrics.count(metrics.MESSAGES_STORED if created else metrics.DUPLICATE_SENDS)
        if message.reply_to is not None:
            message = _link_reply(deps.messages, message)
        if media is not None:
            from shared.services.media import keep_attached_media

            # Before the push: a recipient may ask for the download link the moment the message arrives.
            keep_attached_media(deps.media, media)
        if deps.pusher is not None:
            frame = new_message_envelope(message)
            push_to_users(deps, participants, frame, skip=origin_connection_id, alongside=invalidate)
    finally:
        invalidate()  # a no-op once it went alongside the pushes
    return SendResult(message, created)


def _quoted(messages: MessageRepository, request: SendMessageRequest) -> ReplyPreview:
    quoted = messages.get(request.conversation_id, request.reply_to_seq)
    if quoted is None:
        raise BadRequestError("reply_to must be the id of a message of this conversation")
    return ReplyPreview.of(quoted)


def _link_reply(messages: MessageRepository, reply: Message) -> Message:
    """Notes the reply on the quoted message, so deleting that one reaches this preview. If the quoted
    message was deleted since the preview was taken, the preview becomes its tombstone here (a delete
    either sees this link or happened before it: nothing slips between). Idempotent, run on retries too."""
    quoted = messages.link_reply(reply.reply_to.seq, reply)
    if quoted is not None and quoted.deleted and not reply.reply_to.deleted:
        return messages.tombstone_reply_preview(reply.conversation_id, reply.seq) or reply
    return reply


def _nothing_changed() -> None:
    return None


def _store(
    messages: MessageRepository,
    sender_id: str,
    request: SendMessageRequest,
    created_at: str,
    reply_to: ReplyPreview | None = None,
    media: Media | None = None,
):
    refresh = False
    for attempt in range(_SEQ_ATTEMPTS):
        seq = messages.next_seq(request.conversation_id, refresh=refresh)
        if seq > MAX_SEQ:
            raise ConflictError("this conversation is full")
        message = Message(
            conversation_id=request.conversation_id,
            seq=seq,
            sender_id=sender_id,
            client_message_id=request.client_message_id,
            type=request.type,
            content=request.content,
            created_at=created_at,
            reply_to=reply_to,
            attachments=(media.attachment(),) if media is not None else (),
        )
        try:
            return message, True, messages.store(message)
        except SeqTakenError:
            refresh = True  # another send took that seq: read the newest and try the next one
            time.sleep(random.uniform(0, 0.02) * (attempt + 1))
        except DuplicateSendError as duplicate:
            if not duplicate.existing.same_send_as(message):
                raise ConflictError("client_message_id was already used for a different message") from None
            return duplicate.existing, False, _nothing_changed
        except MediaTakenError:
            # A message holds its media: deleting it deletes the media, which must not empty another message.
            raise ConflictError(f"media {media.id} was already sent in another message") from None
    raise StorageUnavailableError("too many concurrent sends in this conversation, retry shortly")


def push_to_users(
    deps: MessagingDeps, user_ids, frame: dict | Callable[[str], dict], *, skip: str | None = None, alongside=None
) -> None:
    """Pushes one frame to every live connection of the users (one consistent read finds them all), except
    `skip`; forgets connections that answer 410 or outlived their expiry. `frame` may be a function of the
    user, for a frame each user sees their own way (their star on a message). A failed push is logged,
    never fatal: the event is in the user's log, and sync recovers it. `alongside`: an I/O call made at the
    same time as the posts (fan_out)."""
    found = deps.connections.of_users(sorted(user_ids), now_ms() // 1000)
    owner = {c: user for user, conns in found.items() for c in conns.live}
    frames = {user: frame(user) if callable(frame) else frame for user in found}
    targets: dict[bytes, list[str]] = {}
    for connection_id, user in owner.items():
        if connection_id != skip:
            targets.setdefault(encode(frames[user]).encode(), []).append(connection_id)
    groups = list(targets.items()) or [(b"", [])]  # `alongside` runs once, with the first group's posts
    results = [
        fan_out(deps.pusher, connection_ids, body, alongside=alongside if index == 0 else None)
        for index, (body, connection_ids) in enumerate(groups)
    ]
    gone_by_user: dict[str, list[str]] = {user: list(conns.expired) for user, conns in found.items()}
    for connection_id in (c for result in results for c in result.gone):
        gone_by_user[owner[connection_id]].append(connection_id)
    for user, gone in gone_by_user.items():
        if gone:
            try:
                deps.connections.forget(user, gone)
            except StorageUnavailableError:
                logger.warning("could not forget gone connections", extra={"user_id": user})
    if failed := sum(result.failed for result in results):
        event_id = next(iter(frames.values()), {}).get("id")
        logger.warning("some pushes failed", extra={"failed": failed, "event_id": event_id})


def message_ack(result: SendResult) -> dict:
    """The frame that answers a WebSocket send: the stored message, status `sent`."""
    return message_ack_envelope(result.message, duplicate=not result.created)


def list_messages(
    conversations: ConversationRepository,
    messages: MessageRepository,
    user_id: str,
    conversation_id: str,
    limit: int,
    cursor: str | None,
) -> Page:
    """Newest first, each with its status as the caller sees it. The caller's row proves membership and
    carries the markers the statuses derive from: one GetItem, and one Query unless the first page is
    cached (messages as stored; the statuses are applied here, per caller)."""
    if not is_conversation_id(conversation_id):
        raise ConversationNotFoundError(conversation_id)
    row = conversations.get_for_user(user_id, conversation_id, consistent=True)
    if row is None:
        raise ConversationNotFoundError(conversation_id)
    page = messages.list_newest_first(
        conversation_id, limit, cursor, newest_known=row.last_seq, change_known=row.last_update
    )
    # A message the caller deleted for themselves is left out (the page may then be short; the cursor holds).
    shown = [row.shown(m) for m in page.items if user_id not in m.hidden_for]
    return Page(shown, page.next_cursor)
