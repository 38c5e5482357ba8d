"""Starting, reading and listing 1-on-1 conversations."""

from __future__ import annotations

from shared.domain import validation
from shared.domain.errors import BadRequestError, ConversationNotFoundError
from shared.domain.ids import direct_conversation_id, is_conversation_id
from shared.domain.models import Conversation, Page
from shared.storage.repositories.conversations import ConversationRepository
from shared.domain.timefmt import iso_from_ms, now_ms


def start_conversation(conversations: ConversationRepository, user_id: str, peer_id: str) -> tuple[Conversation, bool]:
    """The 1-on-1 between the two users, created on first call; the same id from either side."""
    peer_id = validation.user_id(peer_id, "the other user's id")
    if peer_id == user_id:
        raise BadRequestError("you cannot start a conversation with yourself")
    conversation_id = direct_conversation_id(user_id, peer_id)
    existing = conversations.get_for_user(user_id, conversation_id)
    if existing:
        return existing, False
    created = conversations.create_direct(conversation_id, user_id, peer_id, iso_from_ms(now_ms()))
    conversation = conversations.get_for_user(user_id, conversation_id, consistent=True)
    if conversation is None:  # written above or by a concurrent start; a strongly consistent read sees it
        raise RuntimeError(f"conversation {conversation_id} missing after create")
    return conversation, created


def get_conversation(conversations: ConversationRepository, user_id: str, conversation_id: str) -> Conversation:
    if not is_conversation_id(conversation_id):
        raise ConversationNotFoundError(conversation_id)
    conversation = conversations.get_for_user(user_id, conversation_id)
    if conversation is None:
        raise ConversationNotFoundError(conversation_id)
    return conversation


def list_conversations(conversations: ConversationRepository, user_id: str, limit: int, cursor: str | None) -> Page:
    return conversations.list_for_user(user_id, limit, cursor)


def require_participant(conversations: ConversationRepository, user_id: str, conversation_id: str) -> frozenset[str]:
    """The conversation's participants, or a 404 for anyone else (no hint that it exists)."""
    if not is_conversation_id(conversation_id):
        raise ConversationNotFoundError(conversation_id)
    participants = conversations.participants(conversation_id)
    if participants is None or user_id not in participants:
        raise ConversationNotFoundError(conversation_id)
    return participants
