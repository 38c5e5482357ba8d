"""The DynamoDB tables, as PynamoDB models: the one definition of keys and indexes.

The CDK stack builds its tables from these models and the local runtime creates them from the same
classes; tests check that the synthesized template matches.

Access patterns (all Query or GetItem, never Scan):
- a user's conversations by last activity: user_conversations, index by_activity (user_id, activity_key);
- the 1-on-1 of two users: conversations, by a deterministic id (shared/ids.py);
- a conversation's messages newest first: messages (conversation_id, message_id), descending;
- a send's idempotency record: sent_messages (sender_id, client_message_id);
- a user's live connections: connections, index by_user (user_id, connection_id).
"""

from __future__ import annotations

from pynamodb.attributes import MapAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from shared.aws import share_session_with_pynamodb
from shared.config import aws_region, table_name

share_session_with_pynamodb()


class _Meta:
    region = aws_region()
    billing_mode = "PAY_PER_REQUEST"
    # Short timeouts and few retries: a Lambda would rather fail fast than hang on a slow call.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3


class ConversationRecord(Model):
    """A conversation's fixed facts: who is in it, since when."""

    class Meta(_Meta):
        table_name = table_name("conversations")

    conversation_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default="direct")
    participant_ids = UnicodeSetAttribute()
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()


class LastMessage(MapAttribute):
    message_id = UnicodeAttribute()
    sender_id = UnicodeAttribute()
    type = UnicodeAttribute()
    preview = UnicodeAttribute()
    created_at = UnicodeAttribute()


class ByActivityIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_activity"
        projection = IncludeProjection(["peer_id", "created_at", "last_message"])

    user_id = UnicodeAttribute(hash_key=True)
    activity_key = UnicodeAttribute(range_key=True)


class UserConversationRecord(Model):
    """One participant's view of a conversation: its row in that user's conversation list."""

    class Meta(_Meta):
        table_name = table_name("user_conversations")

    user_id = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute(range_key=True)
    peer_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    # Sorts the list by last activity: the last message's id (time-sortable), else the creation id.
    activity_key = UnicodeAttribute()
    last_message = LastMessage(null=True)
    by_activity = ByActivityIndex()


class MessageRecord(Model):
    class Meta(_Meta):
        table_name = table_name("messages")

    conversation_id = UnicodeAttribute(hash_key=True)
    message_id = UnicodeAttribute(range_key=True)
    sender_id = UnicodeAttribute()
    client_message_id = UnicodeAttribute()
    type = UnicodeAttribute()
    content = UnicodeAttribute()
    created_at = UnicodeAttribute()
    status = UnicodeAttribute(default="sent")


class SentMessageRecord(Model):
    """Makes sends idempotent: one record per (sender, client_message_id), written with the message."""

    class Meta(_Meta):
        table_name = table_name("sent_messages")

    sender_id = UnicodeAttribute(hash_key=True)
    client_message_id = UnicodeAttribute(range_key=True)
    conversation_id = UnicodeAttribute()
    message_id = UnicodeAttribute()


class ByUserIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_user"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute(range_key=True)


class ConnectionRecord(Model):
    """A live WebSocket connection; removed on $disconnect or when the management API answers 410."""

    class Meta(_Meta):
        table_name = table_name("connections")

    connection_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    connected_at = NumberAttribute()  # epoch milliseconds
    # API Gateway closes every connection after 2 hours; TTL sweeps records a lost $disconnect left.
    expires_at = TTLAttribute()
    by_user = ByUserIndex()


# logical name (shared/resources.py) -> model
TABLE_MODELS: dict[str, type[Model]] = {
    "conversations": ConversationRecord,
    "user_conversations": UserConversationRecord,
    "messages": MessageRecord,
    "sent_messages": SentMessageRecord,
    "connections": ConnectionRecord,
}

# The attribute each table expires items by, if any.
TTL_ATTRIBUTES = {"connections": "expires_at"}
