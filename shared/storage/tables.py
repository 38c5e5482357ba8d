"""The DynamoDB tables, as PynamoDB models: the one definition of keys, indexes and streams.

The CDK stack builds its tables from these models and the local runtime creates them from the same
classes; tests check that the synthesized template matches.

Access patterns (all Query or GetItem, never Scan):
- the 1-on-1 of two users: conversations, by a deterministic id (shared/domain/ids.py);
- a conversation's messages newest first, or one by id: messages (conversation_id, seq);
- a send's idempotency claim: sent_messages (sender_id, client_message_id);
- a user's conversations by last activity: user_conversations (user_id, conversation_id), all of the user's
  rows in one Query, sorted in memory (no index: moving an index key would cost two writes per message);
- a user's live connections by a consistent read: connections, one item per user;
- a user's events since a cursor (offline sync): events (user_id, seq);
- a user's starred messages, newest starred first: stars (user_id, message_id), index by_starred_at;
- an uploaded image, voice note or file: media, by its id.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    NumberSetAttribute,
    JSONAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from shared.domain import limits
from shared.storage.aws import share_session_with_pynamodb
from shared.config import aws_region, table_name

share_session_with_pynamodb()

# Tables whose changes a stream route consumes (shared/routes.py) keep both images of every change.
STREAMED = "NEW_AND_OLD_IMAGES"


class _Meta:
    region = aws_region()
    billing_mode = "PAY_PER_REQUEST"
    # The storage time budget (shared/domain/limits.py): a stalled call fails as a 503 before the function times out.
    connect_timeout_seconds = limits.STORAGE_CONNECT_TIMEOUT_SECONDS
    read_timeout_seconds = limits.STORAGE_READ_TIMEOUT_SECONDS
    max_retry_attempts = limits.STORAGE_RETRY_ATTEMPTS


class ConversationRecord(Model):
    """A conversation's fixed facts: who is in it, since when."""

    class Meta(_Meta):
        table_name = table_name("conversations")

    conversation_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default="direct")
    participant_ids = UnicodeSetAttribute()
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()


class ReplyTo(MapAttribute):
    """The quoted message's preview, embedded in a reply (preview emptied once the quoted one is deleted)."""

    seq = NumberAttribute()
    sender_id = UnicodeAttribute()
    type = UnicodeAttribute()
    preview = UnicodeAttribute()
    deleted = BooleanAttribute(default=False)


class MessageRecord(Model):
    """A message, keyed by its conversation's gap-free seq (assigned at commit, shared/services/messaging.py)."""

    class Meta(_Meta):
        table_name = table_name("messages")
        stream_view_type = STREAMED

    conversation_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    sender_id = UnicodeAttribute()
    client_message_id = UnicodeAttribute()
    type = UnicodeAttribute()
    content = UnicodeAttribute(null=True)  # removed when the message is deleted for everyone
    created_at = UnicodeAttribute()
    reply_to = ReplyTo(null=True)
    replied_by = NumberSetAttribute(null=True)  # seqs of the replies quoting it (their previews follow a delete)
    reactions = MapAttribute(null=True)  # user id -> emoji
    deleted_at = UnicodeAttribute(null=True)  # set: deleted for everyone, a tombstone
    hidden_for = UnicodeSetAttribute(null=True)  # users who deleted it for themselves
    starred_by = UnicodeSetAttribute(null=True)  # users who starred it (each one's StarRecord lists it)
    version = NumberAttribute(null=True)  # counts changes after the send
    attachments = JSONAttribute(null=True)  # media messages: the render fields of their media (a list)


class SentMessageRecord(Model):
    """Makes sends idempotent: one claim per (sender, client_message_id), written with the message."""

    class Meta(_Meta):
        table_name = table_name("sent_messages")

    sender_id = UnicodeAttribute(hash_key=True)
    client_message_id = UnicodeAttribute(range_key=True)
    conversation_id = UnicodeAttribute()
    seq = NumberAttribute()


class LastMessage(MapAttribute):
    seq = NumberAttribute()
    sender_id = UnicodeAttribute()
    type = UnicodeAttribute()
    preview = UnicodeAttribute()
    created_at = UnicodeAttribute()
    deleted = BooleanAttribute(null=True)


class MessageVersion(MapAttribute):
    seq = NumberAttribute()
    version = NumberAttribute()


class UserConversationRecord(Model):
    """One participant's view of a conversation: its row in that user's list, with the receipt markers.

    The sender's row moves in the send's transaction; the recipient's by the on_message_stored consumer.
    Markers only move forward (conditional updates); a message's status is derived from them.
    """

    class Meta(_Meta):
        table_name = table_name("user_conversations")
        stream_view_type = STREAMED  # the per-user event log is derived from these changes

    user_id = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute(range_key=True)
    peer_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    last_seq = NumberAttribute(default=0)
    last_message = LastMessage(null=True)
    last_activity_at = UnicodeAttribute()
    read_seq = NumberAttribute(default=0)  # this user has read up to here
    peer_delivered_seq = NumberAttribute(default=0)  # the peer's devices have received up to here
    peer_read_seq = NumberAttribute(default=0)  # the peer has read up to here
    # The latest change to one of the conversation's messages this user sees (append_user_events turns
    # each change into a message_updated event).
    last_update = MessageVersion(null=True)


class ConnectionRecord(Model):
    """A user's live WebSocket connections, one item per user, so a send finds both users' devices with
    one consistent BatchGetItem: `connections` maps connection id -> {connected_at, expires_at} (epoch ms /
    s). $disconnect and a 410 during fan-out remove entries; entries past expires_at are ignored."""

    class Meta(_Meta):
        table_name = table_name("connections")

    user_id = UnicodeAttribute(hash_key=True)
    connections = MapAttribute(default=dict)
    last_seen = NumberAttribute(null=True)  # epoch ms of the last disconnect
    # The latest entry's expiry: TTL removes the item of a user whose connections all lapsed.
    expires_at = TTLAttribute(null=True)


class EventRecord(Model):
    """The per-user event log (offline sync): gap-free seq per user, written only by append_user_events.

    `data` holds what rebuilds the envelope (for new_message the message's seq: the message is read at
    sync time). Items expire after limits.EVENT_RETENTION_SECONDS.
    """

    class Meta(_Meta):
        table_name = table_name("events")
        stream_view_type = STREAMED  # the search indexer reads each user's events in order

    user_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    data = MapAttribute(default=dict)
    created_at = NumberAttribute()  # epoch ms
    expires_at = TTLAttribute()


class ByStarredAtIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_starred_at"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True)
    starred_at = NumberAttribute(range_key=True)


class StarRecord(Model):
    """A message a user starred (private to them): GetItem by message to unstar, the index lists them
    newest starred first."""

    class Meta(_Meta):
        table_name = table_name("stars")

    user_id = UnicodeAttribute(hash_key=True)
    message_id = UnicodeAttribute(range_key=True)
    starred_at = NumberAttribute()  # epoch ms
    by_starred_at = ByStarredAtIndex()


class MediaRecord(Model):
    """An upload and what processing found: pending until its S3-triggered function has judged it."""

    class Meta(_Meta):
        table_name = table_name("media")

    media_id = UnicodeAttribute(hash_key=True)
    owner_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()
    content_type = UnicodeAttribute()
    size = NumberAttribute()
    quality = UnicodeAttribute(default="standard")
    created_at = UnicodeAttribute()
    file_name = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    # What processing found (width, height, placeholder, duration_ms, renditions): shapes differ by kind.
    details = MapAttribute(null=True)
    conversation_id = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    # Media never attached to a message is forgotten (its objects expire by the bucket's lifecycle rule).
    expires_at = TTLAttribute(null=True)


# logical name (shared/resources.py) -> model
TABLE_MODELS: dict[str, type[Model]] = {
    "conversations": ConversationRecord,
    "user_conversations": UserConversationRecord,
    "messages": MessageRecord,
    "sent_messages": SentMessageRecord,
    "connections": ConnectionRecord,
    "events": EventRecord,
    "stars": StarRecord,
    "media": MediaRecord,
}

# The attribute each table expires items by, if any.
TTL_ATTRIBUTES = {"connections": "expires_at", "events": "expires_at", "media": "expires_at"}


def stream_view_type(logical: str) -> str | None:
    """The table's stream view, if a stream route consumes it."""
    return getattr(TABLE_MODELS[logical].Meta, "stream_view_type", None)
