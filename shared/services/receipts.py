"""Delivery and read receipts: per-conversation "up to seq" markers that only move forward.

Only the recipient moves them (a participant, for the peer's messages; acking or reading one's own
messages or beyond the latest changes nothing). A marker that moved is pushed to the devices concerned;
the event log gets the same event from the row's change (append_user_events).
"""

from __future__ import annotations

from shared.realtime.concurrency import run_concurrently
from shared.domain.errors import BadRequestError, ConversationNotFoundError
from shared.realtime.events import receipt_envelope
from shared.domain.ids import is_conversation_id, parse_message_id
from shared.domain.models import Conversation
from shared.services.conversations import require_participant
from shared.services.messaging import MessagingDeps, push_to_users


def _target(conversation_id: object, message_id: object) -> tuple[str, int]:
    if not isinstance(conversation_id, str) or not is_conversation_id(conversation_id):
        raise ConversationNotFoundError()
    parsed = parse_message_id(message_id)
    if parsed is None or parsed[0] != conversation_id:
        raise BadRequestError("message_id must be the id of a message of this conversation")
    return parsed


def acknowledge(deps: MessagingDeps, user_id: str, conversation_id: object, message_id: object) -> bool:
    """`ack`: the user's devices have received everything up to the message. True when the sender's
    marker moved (then the sender's devices get a `delivered` receipt)."""
    conversation_id, seq = _target(conversation_id, message_id)
    participants = require_participant(deps.conversations, user_id, conversation_id)
    peer = _peer(participants, user_id)
    moved = deps.conversations.mark_peer_delivered(peer, conversation_id, seq)
    if moved and deps.pusher is not None:
        push_to_users(deps, [peer], receipt_envelope(conversation_id, user_id, "delivered", seq))
    return moved


def mark_read(
    deps: MessagingDeps,
    user_id: str,
    conversation_id: object,
    message_id: object = None,
    *,
    origin_connection_id: str | None = None,
) -> None:
    """`read`: the user has read everything up to the message (the latest when omitted). Moves the peer's
    marker and the user's own at once; the peer's devices and the user's other devices get the receipt."""
    if message_id is None:
        if not isinstance(conversation_id, str) or not is_conversation_id(conversation_id):
            raise ConversationNotFoundError()
        seq = None
    else:
        conversation_id, seq = _target(conversation_id, message_id)
    participants = require_participant(deps.conversations, user_id, conversation_id)
    if seq is None:
        row = deps.conversations.get_for_user(user_id, conversation_id, consistent=True)
        seq = row.last_seq if row else 0
        if seq == 0:
            return
    peer = _peer(participants, user_id)
    peer_moved, own_moved = run_concurrently(
        [
            lambda: deps.conversations.mark_peer_read(peer, conversation_id, seq),
            lambda: deps.conversations.mark_read(user_id, conversation_id, seq),
        ]
    )
    if peer_moved and not own_moved:
        # The peer's row proved the message exists; the user's row may lag behind its consumer.
        own_moved = deps.conversations.mark_read(user_id, conversation_id, seq, known_to_exist=True)
    told = [user for user, moved in ((peer, peer_moved), (user_id, own_moved)) if moved]
    if told and deps.pusher is not None:
        frame = receipt_envelope(conversation_id, user_id, "read", seq)
        push_to_users(deps, told, frame, skip=origin_connection_id)


def read_conversation(deps: MessagingDeps, user_id: str, conversation_id: str, message_id: object) -> Conversation:
    """PATCH /conversations/{id}/read: marks it read and answers with the caller's row."""
    mark_read(deps, user_id, conversation_id, message_id)
    row = deps.conversations.get_for_user(user_id, conversation_id, consistent=True)
    if row is None:
        raise ConversationNotFoundError()
    return row


def _peer(participants: frozenset[str], user_id: str) -> str:
    return next(user for user in sorted(participants) if user != user_id)
