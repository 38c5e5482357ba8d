"""Domain objects and their public JSON shape (DESIGN.md §4)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared.domain.ids import message_id

MESSAGE_TYPES = ("text", "image", "audio", "file")
MEDIA_MESSAGE_TYPES = ("image", "audio", "file")  # each carries one uploaded media item (shared/media)
PREVIEW_LENGTH = 100
STATUSES = ("sent", "delivered", "read")


@dataclass(frozen=True)
class ReplyPreview:
    """What a reply shows of the message it quotes, embedded when the reply is sent; a tombstone once the
    quoted message is deleted."""

    seq: int
    sender_id: str
    type: str
    preview: str
    deleted: bool = False

    @classmethod
    def of(cls, message: Message) -> ReplyPreview:
        if message.deleted:
            return cls(message.seq, message.sender_id, message.type, "", True)
        return cls(message.seq, message.sender_id, message.type, message.content[:PREVIEW_LENGTH])

    def to_dict(self, conversation_id: str) -> dict:
        return {
            "id": message_id(conversation_id, self.seq),
            "seq": self.seq,
            "sender_id": self.sender_id,
            "type": self.type,
            "preview": self.preview,
            "deleted": self.deleted,
        }


@dataclass(frozen=True)
class Message:
    conversation_id: str
    seq: int
    sender_id: str
    client_message_id: str
    type: str
    content: str
    created_at: str
    status: str = "sent"  # derived from the conversation's markers (Conversation.status_of), never stored
    reply_to: ReplyPreview | None = None
    reactions: tuple[tuple[str, str], ...] = ()  # (user_id, emoji), by user id
    deleted: bool = False  # deleted for everyone: a tombstone, its content gone
    hidden_for: frozenset[str] = frozenset()  # deleted "for me" by these users (private to each)
    starred_by: frozenset[str] = frozenset()  # users who starred it (private to each)
    starred: bool = False  # whether the user it is shown to starred it (as_seen_by), never stored
    version: int = 0  # counts changes after the send (reactions, deletes): names each message_updated
    replied_by: frozenset[int] = frozenset()  # seqs of the replies quoting it (their previews follow a delete)
    # Media messages: what a client needs to render the media (Media.attachment()); text messages: none.
    attachments: tuple[dict, ...] = ()

    @property
    def id(self) -> str:
        return message_id(self.conversation_id, self.seq)

    def visible_to(self, user_id: str) -> bool:
        """Whether the user can still see its content (not deleted, not hidden by them)."""
        return not self.deleted and user_id not in self.hidden_for

    def as_seen_by(self, user_id: str) -> Message:
        """The message as this user sees it: whether they starred it; one they deleted for themselves is a
        tombstone to them."""
        seen = replace(self, starred=user_id in self.starred_by)
        if user_id in self.hidden_for and not self.deleted:
            return replace(seen, content="", reply_to=None, reactions=(), attachments=(), deleted=True)
        return seen

    def to_dict(self) -> dict:
        shape = {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "sender_id": self.sender_id,
            "client_message_id": self.client_message_id,
            "type": self.type,
            "content": self.content,
            "created_at": self.created_at,
            "status": self.status,
            "reply_to": self.reply_to.to_dict(self.conversation_id) if self.reply_to else None,
            "reactions": [{"user_id": user, "emoji": emoji} for user, emoji in self.reactions],
            "deleted": self.deleted,
            "starred": self.starred,
        }
        if self.attachments:
            shape["attachments"] = list(self.attachments)
        return shape

    @property
    def media_ids(self) -> tuple[str, ...]:
        return tuple(a["media_id"] for a in self.attachments)

    def same_send_as(self, other: Message) -> bool:
        """True when `other` is a retry of this send (same target and payload)."""
        quoted = (self.reply_to.seq if self.reply_to else None, other.reply_to.seq if other.reply_to else None)
        return (self.conversation_id, self.type, self.content, self.media_ids) == (
            other.conversation_id,
            other.type,
            other.content,
            other.media_ids,
        ) and quoted[0] == quoted[1]


@dataclass(frozen=True)
class LastMessagePreview:
    seq: int
    sender_id: str
    type: str
    preview: str
    created_at: str
    deleted: bool = False

    @classmethod
    def of(cls, message: Message) -> LastMessagePreview:
        return cls(message.seq, message.sender_id, message.type, message.content[:PREVIEW_LENGTH], message.created_at)


@dataclass(frozen=True)
class Conversation:
    """A conversation as one participant sees it: their row, with the receipt markers."""

    id: str
    user_id: str
    peer_id: str
    created_at: str
    last_activity_at: str
    last_seq: int = 0
    last_message: LastMessagePreview | None = None
    read_seq: int = 0
    peer_delivered_seq: int = 0
    peer_read_seq: int = 0
    # The latest change to one of its messages (seq, version): each change is a message_updated event.
    last_update: tuple[int, int] | None = None

    @property
    def unread_count(self) -> int:
        # Exact: sending moves the sender's read_seq, so one's own messages never count.
        return max(0, self.last_seq - self.read_seq)

    def status_of(self, seq: int, sender_id: str) -> str:
        """A message's status as this user sees it, derived from the markers."""
        if sender_id == self.user_id:
            if seq <= self.peer_read_seq:
                return "read"
            return "delivered" if seq <= max(self.peer_delivered_seq, self.peer_read_seq) else "sent"
        return "read" if seq <= self.read_seq else "delivered"

    def shown(self, message: Message) -> Message:
        """A message of this conversation as this row's user sees it: their tombstone if they deleted it
        for themselves, with its status derived from the markers."""
        return replace(message.as_seen_by(self.user_id), status=self.status_of(message.seq, message.sender_id))

    def to_dict(self) -> dict:
        last = self.last_message
        return {
            "id": self.id,
            "type": "direct",
            "participant_ids": sorted((self.user_id, self.peer_id)),
            "peer_id": self.peer_id,
            "created_at": self.created_at,
            "last_message": {
                "id": message_id(self.id, last.seq),
                "seq": last.seq,
                "sender_id": last.sender_id,
                "type": last.type,
                "preview": last.preview,
                "created_at": last.created_at,
                "status": self.status_of(last.seq, last.sender_id),
                "deleted": last.deleted,
            }
            if last
            else None,
            "last_activity_at": self.last_activity_at,
            "unread_count": self.unread_count,
        }


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None


@dataclass(frozen=True)
class LogEvent:
    """An entry of a user's event log (shared/realtime/events.py builds its envelope); seq 0 until appended."""

    event_id: str
    type: str
    conversation_id: str
    data: dict
    seq: int = 0
    created_at_ms: int = 0
