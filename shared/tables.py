"""The DynamoDB tables, as PynamoDB models: the one definition of keys, indexes and streams.

The CDK stack builds its tables from these models and the local runtime creates them from the same
classes; tests check that the synthesized template matches.

Access patterns (all Query or GetItem, never Scan):
- the 1-on-1 of two users: conversations, by a deterministic id (shared/ids.py);
- a conversation's messages newest first, or one by id: messages (conversation_id, seq);
- a send's idempotency claim: sent_messages (sender_id, client_message_id);
- a user's conversations by last activity: user_conversations (user_id, conversation_id), all of the user's
  rows in one Query, sorted in memory (no index: moving an index key would cost two writes per message);
- a user's live connections by a consistent read: connections, one item per user;
- a user's events since a cursor (offline sync): events (user_id, seq).
"""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.models import Model

from shared import limits
from shared.aws import share_session_with_pynamodb
from shared.config import aws_region, table_name

share_session_with_pynamodb()

# Tables whose changes a stream route consumes (shared/routes.py) keep both images of every change.
STREAMED = "NEW_AND_OLD_IMAGES"


class _Meta:
    region = aws_region()
    billing_mode = "PAY_PER_REQUEST"
    # The storage time budget (shared/limits.py): a stalled call fails as a 503 before the function times out.
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
    content = UnicodeAttribute()
    created_at = UnicodeAttribute()


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

    user_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    conversation_id = UnicodeAttribute()
    data = MapAttribute(default=dict)
    created_at = NumberAttribute()  # epoch ms
    expires_at = TTLAttribute()


# logical name (shared/resources.py) -> model
TABLE_MODELS: dict[str, type[Model]] = {
    "conversations": ConversationRecord,
    "user_conversations": UserConversationRecord,
    "messages": MessageRecord,
    "sent_messages": SentMessageRecord,
    "connections": ConnectionRecord,
    "events": EventRecord,
}

# The attribute each table expires items by, if any.
TTL_ATTRIBUTES = {"connections": "expires_at", "events": "expires_at"}


def stream_view_type(logical: str) -> str | None:
    """The table's stream view, if a stream route consumes it."""
    return getattr(TABLE_MODELS[logical].Meta, "stream_view_type", None)
