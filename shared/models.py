"""Domain objects and their public JSON shape (DESIGN.md §4)."""

from __future__ import annotations

from dataclasses import dataclass

MESSAGE_TYPES = ("text",)  # image/audio/file arrive with the media issue
PREVIEW_LENGTH = 100


@dataclass(frozen=True)
class Message:
    id: str
    conversation_id: str
    sender_id: str
    client_message_id: str
    type: str
    content: str
    created_at: str
    status: str = "sent"

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "sender_id": self.sender_id,
            "client_message_id": self.client_message_id,
            "type": self.type,
            "content": self.content,
            "created_at": self.created_at,
            "status": self.status,
        }

    def same_send_as(self, other: Message) -> bool:
        """True when `other` is a retry of this send (same target and payload)."""
        return (self.conversation_id, self.type, self.content) == (other.conversation_id, other.type, other.content)


@dataclass(frozen=True)
class LastMessagePreview:
    message_id: str
    sender_id: str
    type: str
    preview: str
    created_at: str

    @classmethod
    def of(cls, message: Message) -> LastMessagePreview:
        return cls(message.id, message.sender_id, message.type, message.content[:PREVIEW_LENGTH], message.created_at)

    def to_dict(self) -> dict:
        return {
            "id": self.message_id,
            "sender_id": self.sender_id,
            "type": self.type,
            "preview": self.preview,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Conversation:
    """A conversation as one participant sees it."""

    id: str
    user_id: str
    peer_id: str
    created_at: str
    last_message: LastMessagePreview | None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "type": "direct",
            "participant_ids": sorted((self.user_id, self.peer_id)),
            "peer_id": self.peer_id,
            "created_at": self.created_at,
            "last_message": self.last_message.to_dict() if self.last_message else None,
            "last_activity_at": self.last_message.created_at if self.last_message else self.created_at,
        }


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None
