"""Messages, keyed by their conversation's gap-free seq, stored with their idempotency claim."""

from __future__ import annotations

from collections.abc import Iterable

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from shared.cursors import decode_cursor, encode_cursor
from shared.errors import BadRequestError
from shared.ids import MAX_SEQ
from shared.models import LastMessagePreview, Message, Page
from shared.repositories.storage import (
    cancellation_codes,
    retry_transaction,
    storage_call,
    transaction_connection,
)
from shared.repositories.conversations import last_message_record
from shared.tables import MessageRecord, SentMessageRecord, UserConversationRecord

_CONDITION_FAILED = "ConditionalCheckFailed"


class DuplicateSendError(Exception):
    """The sender already sent a message with this client_message_id."""

    def __init__(self, existing: Message):
        super().__init__(existing.id)
        self.existing = existing


class SeqTakenError(Exception):
    """The guessed seq is already a message: the guess was stale."""


# The newest seq a warm function has seen committed, per conversation (bounded): the next send's guess.
_SEQ_CACHE_SIZE = 10_000


class MessageRepository:
    def __init__(self):
        self._newest_seen: dict[str, int] = {}

    def next_seq(self, conversation_id: str, *, refresh: bool = False) -> int:
        """The seq a new message should take: one past the newest seen, read (consistently) when not known
        or when the last guess was stale. No gap can form: the newest seen is committed, and messages are
        never removed (deletes leave tombstones)."""
        newest = None if refresh else self._newest_seen.get(conversation_id)
        if newest is None:
            newest = self._remember(conversation_id, self.newest_seq(conversation_id))
        return newest + 1

    def _remember(self, conversation_id: str, seq: int) -> int:
        if len(self._newest_seen) >= _SEQ_CACHE_SIZE:
            self._newest_seen.clear()
        self._newest_seen[conversation_id] = max(seq, self._newest_seen.get(conversation_id, 0))
        return self._newest_seen[conversation_id]

    def newest_seq(self, conversation_id: str) -> int:
        """The conversation's newest committed seq (0 when empty), by a consistent read."""
        with storage_call("read newest seq"):
            newest = list(
                MessageRecord.query(
                    conversation_id,
                    scan_index_forward=False,
                    limit=1,
                    consistent_read=True,
                    attributes_to_get=["seq"],
                )
            )
        return int(newest[0].seq) if newest else 0

    def store(self, message: Message) -> None:
        """ONE transaction: the message at its seq, the claim on (sender, client_message_id), and the sender's
        own conversation row moved to it (read-your-writes: the sender's list moves with the store).

        The row needs no "forward only" condition: message n+1 can only commit once n exists, so rows are
        written in seq order. Raises DuplicateSendError (the claim is taken) or SeqTakenError (stale seq).
        """
        record = MessageRecord(
            message.conversation_id,
            message.seq,
            sender_id=message.sender_id,
            client_message_id=message.client_message_id,
            type=message.type,
            content=message.content,
            created_at=message.created_at,
        )
        claim = SentMessageRecord(
            message.sender_id, message.client_message_id, conversation_id=message.conversation_id, seq=message.seq
        )
        row = UserConversationRecord
        row_actions = [
            row.last_seq.set(message.seq),
            row.last_message.set(last_message_record(LastMessagePreview.of(message))),
            row.last_activity_at.set(message.created_at),
            row.read_seq.set(message.seq),
        ]

        def write():
            with TransactWrite(connection=transaction_connection()) as tx:
                tx.save(record, condition=MessageRecord.seq.does_not_exist())
                tx.save(claim, condition=SentMessageRecord.client_message_id.does_not_exist())
                tx.update(
                    row(message.sender_id, message.conversation_id),
                    actions=row_actions,
                    condition=row.conversation_id.exists(),
                )

        with storage_call("store message"):
            try:
                retry_transaction(write)
                self._remember(message.conversation_id, message.seq)
            except TransactWriteError as error:
                codes = cancellation_codes(error)
                if len(codes) == 3 and codes[1] == _CONDITION_FAILED:
                    existing = self.find_sent(message.sender_id, message.client_message_id)
                    if existing is None:  # the claim exists but not its message: cannot happen with transactions
                        raise
                    raise DuplicateSendError(existing) from None
                if len(codes) == 3 and codes[0] == _CONDITION_FAILED:
                    raise SeqTakenError(message.seq) from None
                raise

    def find_sent(self, sender_id: str, client_message_id: str) -> Message | None:
        with storage_call("find sent message"):
            try:
                claim = SentMessageRecord.get(sender_id, client_message_id, consistent_read=True)
                record = MessageRecord.get(claim.conversation_id, claim.seq, consistent_read=True)
            except (SentMessageRecord.DoesNotExist, MessageRecord.DoesNotExist):
                return None
        return _message(record)

    def get_many(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Message]:
        """Messages by (conversation_id, seq), consistently read; missing ones are left out."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        with storage_call("read messages"):
            records = list(MessageRecord.batch_get(keys, consistent_read=True))
        return {(r.conversation_id, int(r.seq)): _message(r) for r in records}

    def list_newest_first(self, conversation_id: str, limit: int, cursor: str | None) -> Page:
        condition = None
        if cursor:
            before = decode_cursor(cursor, ("before",))["before"]
            if not before.isdigit() or not 1 <= int(before) <= MAX_SEQ + 1:
                raise BadRequestError("invalid cursor")
            condition = MessageRecord.seq < int(before)
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
        next_cursor = encode_cursor({"before": str(int(records[-1].seq))}) if more else None
        return Page([_message(record) for record in records], next_cursor)


def message_from_image(image: dict) -> Message:
    """A message from a stream record's image (DynamoDB JSON)."""
    return _message(MessageRecord.from_raw_data(image))


def _message(record: MessageRecord) -> Message:
    return Message(
        conversation_id=record.conversation_id,
        seq=int(record.seq),
        sender_id=record.sender_id,
        client_message_id=record.client_message_id,
        type=record.type,
        content=record.content,
        created_at=record.created_at,
    )
