"""Conversations: their participants, and each participant's row in their conversation list."""

from __future__ import annotations

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from shared.cursors import decode_cursor, encode_cursor
from shared.models import Conversation, LastMessagePreview, Page
from shared.repositories.storage import (
    cancellation_codes,
    is_conditional_failure,
    retry_transaction,
    storage_call,
    transaction_connection,
)
from shared.tables import ConversationRecord, LastMessage, UserConversationRecord


# Participants of a 1-on-1 never change, so a warm function keeps what it has read (bounded).
_PARTICIPANTS_CACHE_SIZE = 10_000


class ConversationRepository:
    def __init__(self):
        self._participants: dict[str, frozenset[str]] = {}

    def participants(self, conversation_id: str) -> frozenset[str] | None:
        cached = self._participants.get(conversation_id)
        if cached is not None:
            return cached
        with storage_call("get conversation"):
            try:
                record = ConversationRecord.get(conversation_id)
            except ConversationRecord.DoesNotExist:
                return None  # not cached: it may be created a moment later
        if len(self._participants) >= _PARTICIPANTS_CACHE_SIZE:
            self._participants.clear()
        self._participants[conversation_id] = participants = frozenset(record.participant_ids)
        return participants

    def get_for_user(self, user_id: str, conversation_id: str, *, consistent: bool = False) -> Conversation | None:
        with storage_call("get user conversation"):
            try:
                row = UserConversationRecord.get(user_id, conversation_id, consistent_read=consistent)
            except UserConversationRecord.DoesNotExist:
                return None
        return _conversation(row)

    def create_direct(
        self, conversation_id: str, creator_id: str, peer_id: str, created_at: str, activity_key: str
    ) -> bool:
        """Creates the conversation and both list rows atomically; False if it already existed."""
        conversation = ConversationRecord(
            conversation_id,
            participant_ids={creator_id, peer_id},
            created_by=creator_id,
            created_at=created_at,
        )
        rows = [
            UserConversationRecord(
                user, conversation_id, peer_id=peer, created_at=created_at, activity_key=activity_key
            )
            for user, peer in ((creator_id, peer_id), (peer_id, creator_id))
        ]

        def write():
            with TransactWrite(connection=transaction_connection()) as tx:
                tx.save(conversation, condition=ConversationRecord.conversation_id.does_not_exist())
                for row in rows:
                    tx.save(row, condition=UserConversationRecord.conversation_id.does_not_exist())

        with storage_call("create conversation"):
            try:
                retry_transaction(write)
            except TransactWriteError as error:
                if "ConditionalCheckFailed" in cancellation_codes(error):
                    return False
                raise
        return True

    def list_for_user(self, user_id: str, limit: int, cursor: str | None) -> Page:
        start_key = None
        if cursor:
            position = decode_cursor(cursor, ("a", "c"))
            start_key = {
                "user_id": {"S": user_id},
                "activity_key": {"S": position["a"]},
                "conversation_id": {"S": position["c"]},
            }
        with storage_call("list conversations"):
            rows = list(
                UserConversationRecord.by_activity.query(
                    user_id,
                    scan_index_forward=False,
                    limit=limit + 1,
                    page_size=limit + 1,
                    last_evaluated_key=start_key,
                )
            )
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor({"a": rows[-1].activity_key, "c": rows[-1].conversation_id}) if more else None
        return Page([_conversation(row) for row in rows], next_cursor)

    def record_last_message(self, user_id: str, conversation_id: str, preview: LastMessagePreview) -> None:
        """Moves the user's row to this message, unless a newer one is already recorded.

        Idempotent and order-safe: concurrent or retried sends can only move a row forward.
        A failure other than "a newer message is recorded" propagates: the client's retry redoes this.
        """
        last = LastMessage(
            message_id=preview.message_id,
            sender_id=preview.sender_id,
            type=preview.type,
            preview=preview.preview,
            created_at=preview.created_at,
        )
        with storage_call("record last message"):
            try:
                UserConversationRecord(user_id, conversation_id).update(
                    actions=[
                        UserConversationRecord.last_message.set(last),
                        UserConversationRecord.activity_key.set(preview.message_id),
                    ],
                    condition=UserConversationRecord.activity_key < preview.message_id,
                )
            except UpdateError as error:
                if not is_conditional_failure(error):
                    raise


def _conversation(row) -> Conversation:
    last = row.last_message
    return Conversation(
        id=row.conversation_id,
        user_id=row.user_id,
        peer_id=row.peer_id,
        created_at=row.created_at,
        last_message=LastMessagePreview(last.message_id, last.sender_id, last.type, last.preview, last.created_at)
        if last
        else None,
    )
