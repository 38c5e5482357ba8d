"""Messages, stored with their idempotency record in one transaction."""

from __future__ import annotations

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.cursors import decode_cursor, encode_cursor
from shared.errors import BadRequestError
from shared.ids import is_sortable_id
from shared.models import Message, Page
from shared.repositories.storage import (
    cancellation_codes,
    retry_transaction,
    storage_call,
    transaction_connection,
)
from shared.tables import MessageRecord, SentMessageRecord


class DuplicateSendError(Exception):
    """The sender already sent a message with this client_message_id."""

    def __init__(self, existing: Message):
        super().__init__(existing.id)
        self.existing = existing


class MessageRepository:
    def store_new(self, message: Message) -> None:
        """Stores the message and claims (sender, client_message_id) for it, both or neither.

        Raises DuplicateSendError carrying the earlier message when the claim is taken.
        """
        record = MessageRecord(
            message.conversation_id,
            message.id,
            sender_id=message.sender_id,
            client_message_id=message.client_message_id,
            type=message.type,
            content=message.content,
            created_at=message.created_at,
            status=message.status,
        )
        claim = SentMessageRecord(
            message.sender_id,
            message.client_message_id,
            conversation_id=message.conversation_id,
            message_id=message.id,
        )

        def write():
            with TransactWrite(connection=transaction_connection()) as tx:
                tx.save(record, condition=MessageRecord.message_id.does_not_exist())
                tx.save(claim, condition=SentMessageRecord.client_message_id.does_not_exist())

        with storage_call("store message"):
            try:
                retry_transaction(write)
            except TransactWriteError as error:
                if "ConditionalCheckFailed" not in cancellation_codes(error):
                    raise
                existing = self.find_sent(message.sender_id, message.client_message_id)
                if existing is None:  # the claim exists but not its message: cannot happen with transactions
                    raise
                raise DuplicateSendError(existing) from None

    def find_sent(self, sender_id: str, client_message_id: str) -> Message | None:
        with storage_call("find sent message"):
            try:
                claim = SentMessageRecord.get(sender_id, client_message_id, consistent_read=True)
                record = MessageRecord.get(claim.conversation_id, claim.message_id, consistent_read=True)
            except (SentMessageRecord.DoesNotExist, MessageRecord.DoesNotExist):
                return None
        return _message(record)

    def list_newest_first(self, conversation_id: str, limit: int, cursor: str | None) -> Page:
        condition = None
        if cursor:
            before = decode_cursor(cursor, ("before",))["before"]
            if not is_sortable_id(before):
                raise BadRequestError("invalid cursor")
            condition = MessageRecord.message_id < before
        with storage_call("list messages"):
            records = list(
                MessageRecord.query(
                    conversation_id,
                    range_key_condition=condition,
                    scan_index_forward=False,
                    limit=limit + 1,
                    page_size=limit + 1,
                )
            )
        more = len(records) > limit
        records = records[:limit]
        next_cursor = encode_cursor({"before": records[-1].message_id}) if more else None
        return Page([_message(record) for record in records], next_cursor)


def _message(record: MessageRecord) -> Message:
    return Message(
        id=record.message_id,
        conversation_id=record.conversation_id,
        sender_id=record.sender_id,
        client_message_id=record.client_message_id,
        type=record.type,
        content=record.content,
        created_at=record.created_at,
        status=record.status,
    )
